"""The hook implementations: what this plugin adds to the platform.

Each hook is a few lines that hand over to the module holding the substance, so this file
reads as the plugin's table of contents.
"""
from __future__ import annotations

from xrm_core import hookimpl

from . import automation, definitions, hookspecs
from .commands import employees


@hookimpl
def xrm_addhooks(pm):
    # Announces xrm_employee_left; other plugins may answer it without importing this one.
    pm.add_hookspecs(hookspecs)


@hookimpl
def xrm_entity_types():
    return definitions.entity_types()


@hookimpl
def xrm_relationship_types():
    return definitions.RELATIONSHIP_TYPES


@hookimpl
def xrm_activity_kinds():
    return definitions.ACTIVITY_KINDS


@hookimpl
def xrm_roles():
    return definitions.ROLES


@hookimpl
def xrm_kpis():
    # Imported here, not at the top: the Python KPI needs SQLAlchemy, which every `xrm`
    # command (even --help) would otherwise load with the plugin (~0.5 s).
    from .kpis import AttritionRate
    return [*definitions.KPIS, AttritionRate()]


@hookimpl
def xrm_record_event(event, record, changes, session):
    automation.on_record_event(event, record, changes, session)


@hookimpl
def xrm_cli_commands(cli):
    cli.add_command(employees)
