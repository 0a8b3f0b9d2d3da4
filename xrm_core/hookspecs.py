"""The plugin API: every hook a plugin may implement, with its contract.

Plugins implement these with ``@xrm_core.hookimpl``; the docstrings below are the reference
documentation (``docs/plugins.md`` walks through them, and a test fails when a hook here is
missing from it or from the tests). Hooks are called with keyword arguments, and an
implementation may accept fewer arguments than the spec lists, so a spec can gain arguments
without breaking plugins: add, never rename. None of these hooks is ``firstresult``: every
implementation runs. A plugin declaring hooks of its own marks them with
``@xrm_core.hookspec`` (see :func:`xrm_addhooks`).
"""
from __future__ import annotations

import pluggy

#: Marks hook specifications; plugins use it (as ``xrm_core.hookspec``) for hooks of their own.
hookspec = pluggy.HookspecMarker("xrm")


@hookspec(historic=True)
def xrm_addhooks(pm):
    """Add hook specifications of your own so other plugins can answer them.

    :param pm: the ``pluggy.PluginManager``; call ``pm.add_hookspecs(module_or_class)`` with
        functions marked ``@xrm_core.hookspec`` and named ``xrm_…``.
    :return: nothing.

    Called once per plugin, as it is registered (a historic hook: plugins registered later
    get the call too). Announce your hook with
    ``xrm_core.call_all(session.platform.pm, "NAME", ...)`` (or ``call_first``), keyword
    arguments only: unlike ``pm.hook.NAME(...)`` it names the listener whose implementation
    raises. Listeners in other plugins mark their implementations
    ``@hookimpl(optionalhook=True)`` so they load even when the announcing plugin is absent.
    Plugins never import each other.
    """


@hookspec
def xrm_entity_types():
    """Return a list of entity-type definitions (dicts valid against
    ``schemas/entity-type.schema.json``); keep them as JSON files next to the plugin's code.

    Called by ``xrm init``, which stores them: new types are added, changed ones go through
    the impact check of ``xrm types update`` (refused, with the offending record ids and
    pointers and the ways out, if stored records would become invalid). A ``format`` that
    validation does not check (a typo such as "emial") is a warning of the init that adds or
    changes the type. Types a plugin stops returning are
    left in place. Any invalid definition makes the whole ``init`` fail, naming the plugin
    and the JSON pointer, with nothing applied — so does a type name another plugin also
    declares, unless both declare the very same definition.
    """


@hookspec
def xrm_relationship_types():
    """Return a list of relationship-type definitions
    (``schemas/relationship-type.schema.json``): ``name``, ``source`` and ``target`` entity
    types (any plugin's, or ``*``), ``cardinality`` (``one-to-one``, ``one-to-many``,
    ``many-to-many``), optional ``label``/``inverse_label`` and ``on_delete``
    (``restrict``, ``cascade`` or ``unlink``, the default).

    Called by ``xrm init`` after every plugin's entity types are stored; each is added or
    replaced — unless stored relationships break the new one (a narrower cardinality, a
    ``source``/``target`` type they do not link), which fails ``init`` naming them.
    """


@hookspec
def xrm_activity_kinds():
    """Return a list of interaction kinds users may log on records (``xrm log``):
    ``{"name", "label"}`` (``schemas/activity-kind.schema.json``), e.g. call, email, visit.

    Called by ``xrm init``; each is added or replaced. The core's own kinds (created,
    updated, deleted, related, unrelated, and imported) cannot be declared.
    """


@hookspec
def xrm_kpis():
    """Return a list of KPIs: declarative dicts (``schemas/kpi.schema.json``), compiled to SQL,
    or instances of a :class:`xrm_core.KPI` subclass (or any object with its metadata and a
    ``compute(ctx)`` method) whose ``compute(ctx)`` builds its queries from the
    :class:`xrm_core.KPIContext` so the caller's scope and period apply.

    Called when KPIs are first listed or computed, and by ``xrm init``, which checks each
    one against its entity type so a broken KPI fails ``init`` rather than a dashboard.
    KPI names are unique across plugins. Return KPI objects, not classes.
    """


@hookspec
def xrm_roles():
    """Return a list of roles ``{"name", "label", "grants": [{"type", "actions", "depth"}]}``
    (``schemas/role.schema.json``); ``type`` is an entity type or ``*``, ``actions`` a list
    of read/create/update/delete, ``depth`` one of own/unit/subtree/all.

    Called by ``xrm init``, which stores each role with exactly these grants (a grant on an
    unknown entity type fails ``init``; so does a result that is not a list, and a role named
    like the core's own ``admin``); an admin assigns roles to users (``xrm users create NAME --unit U --role R``).
    """


@hookspec
def xrm_record_event(event, record, changes, session):
    """React to a record change, inside the caller's transaction.

    :param event: ``before_create``, ``after_create``, ``before_update``, ``after_update``,
        ``before_delete`` or ``after_delete``.
    :param record: an :class:`xrm_core.Record` (``.id``, ``.type``, ``.data``, ``.version``,
        ``.owner``, ``.unit``). In ``before_create``/``before_update`` ``record.data`` is the
        new state and may be modified in place; it is validated again after the hooks.
        In ``*_delete`` events it is the stored record. A ``before_create`` hook may route
        the record by setting ``record.unit``; any other change of an attribute but
        ``.data`` is undone once the event's hooks have run (it would not be stored).
    :param changes: on updates, ``{json_pointer: (old, new)}``; otherwise ``{}``. In
        ``before_update`` it is the diff of the caller's patch (the same for every
        implementation), in ``after_update`` the diff written, the hooks' changes included.
    :param session: the :class:`xrm_core.Session` of the change: use it to read or write
        other records in the same transaction (as the acting user, within their scope).
    :return: nothing.

    Called for every record of every type (check ``record.type``), or, when the
    implementation is decorated with :func:`xrm_core.for_types`, for those types only; from
    every interface:
    the Python API, the CLI, the REST API and ``xrm import`` (create events). Relating and
    unrelating records fire no record event. Raise :class:`xrm_core.ValidationError` to
    refuse the change with its message and pointers; any other exception rolls the whole
    change back and surfaces as :class:`xrm_core.PluginError` naming the plugin. The
    platform calls each implementation itself: order them with ``tryfirst``/``trylast``;
    a hook wrapper of this hook is refused when the plugin loads.
    """


@hookspec
def xrm_cli_commands(cli):
    """Add click commands or groups to the ``xrm`` group.

    :param cli: the ``click.Group`` of ``xrm``; call ``cli.add_command(my_command)``.
    :return: nothing. A command returned instead of added is refused, naming the plugin.

    Called each time the ``xrm`` command is built. Inside a command,
    ``click.get_current_context().obj.platform`` is the :class:`xrm_core.Platform` of the
    ``--db`` option; open a :meth:`~xrm_core.Platform.session` on it. Raise
    :class:`xrm_core.XrmError` subclasses for errors: the CLI prints them on stderr and
    exits non-zero, without a traceback.
    """


@hookspec
def xrm_flask_app(app):
    """Register blueprints, admin pages or API routes on the Flask application.

    :param app: the ``flask.Flask`` application of ``xrm serve``, once its core blueprints
        are registered; call ``app.register_blueprint(bp)``.
    :return: nothing. A blueprint returned instead of registered is refused, naming the plugin.
    """


@hookspec
def xrm_demo_data(session):
    """Load this plugin's part of the demo data set (``xrm demo``).

    :param session: an admin :class:`xrm_core.Session`; create records and relationships
        through it.
    :return: nothing.
    """
