"""The plugin API: every hook a plugin may implement, with its contract.

Plugins implement these with ``@xrm_core.hookimpl``; the docstrings below are the reference
documentation (``docs/plugins.md`` walks through them). Hooks are called with keyword
arguments, and an implementation may accept fewer arguments than the spec lists.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("xrm")


@hookspec
def xrm_addhooks(pm):
    """Add hook specifications of your own so other plugins can answer them.

    Called once, when the plugin is registered, before any other hook. Use
    ``pm.add_hookspecs(module_or_class)``; listeners should mark their implementations
    ``@hookimpl(optionalhook=True)`` so they load even when the announcing plugin is absent.
    Plugins never import each other.
    """


@hookspec
def xrm_entity_types():
    """Return a list of entity-type definitions (dicts valid against
    ``schemas/entity-type.schema.json``).

    Synced into the database by ``xrm init``: new types are added, changed ones updated
    through the same impact check as ``xrm types update`` (refused if stored records would
    become invalid).
    """


@hookspec
def xrm_relationship_types():
    """Return a list of relationship-type definitions
    (``schemas/relationship-type.schema.json``): ``name``, ``source`` and ``target`` entity
    types, ``cardinality`` and ``on_delete``. Synced by ``xrm init``.
    """


@hookspec
def xrm_activity_kinds():
    """Return a list of interaction kinds users may log on records: ``{"name", "label"}``
    (``schemas/activity-kind.schema.json``), e.g. call, email, sms, visit. Synced by ``xrm init``.
    """


@hookspec
def xrm_kpis():
    """Return a list of KPIs: declarative dicts (``schemas/kpi.schema.json``), compiled to SQL,
    or Python objects subclassing :class:`xrm_core.KPI` whose ``compute(ctx)`` honours the
    scope and period carried by ``ctx``.
    """


@hookspec
def xrm_roles():
    """Return a list of roles ``{"name", "label", "grants": [{"type", "actions", "depth"}]}``
    (``schemas/role.schema.json``). Synced by ``xrm init``; an admin assigns them to users.
    """


@hookspec
def xrm_record_event(event, record, changes, session):
    """React to a record change, inside the caller's transaction.

    :param event: ``before_create``, ``after_create``, ``before_update``, ``after_update``,
        ``before_delete`` or ``after_delete``.
    :param record: an :class:`xrm_core.Record` (``.id``, ``.type``, ``.data``, ``.version``,
        ``.owner``, ``.unit``). In ``before_*`` events ``record.data`` is the new state and
        may be modified in place; it is validated again after the hooks.
    :param changes: on updates, ``{json_pointer: (old, new)}``; otherwise ``{}``.
    :param session: the :class:`xrm_core.Session` of the change: use it to read or write
        other records in the same transaction (as the acting user).

    Raise :class:`xrm_core.ValidationError` to refuse the change with its message; any other
    exception rolls the whole change back and the error names the plugin.
    """


@hookspec
def xrm_cli_commands(cli):
    """Add click commands or groups to the ``xrm`` group: ``cli.add_command(my_command)``.

    Commands get the platform from ``click.get_current_context().obj`` (see
    ``xrm_core.cli.context``).
    """


@hookspec
def xrm_flask_app(app):
    """Register blueprints, admin pages or API routes on the Flask ``app`` of ``xrm serve``."""


@hookspec
def xrm_demo_data(session):
    """Load this plugin's part of the demo data set through ``session`` (``xrm demo``)."""
