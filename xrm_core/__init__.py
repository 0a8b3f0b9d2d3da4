"""xrm_core — the small core of the xRM platform.

Plugins import only the names below; everything else may change between versions.
"""
from .errors import (
    AuthenticationError, Conflict, DefinitionError, NotFound, PermissionDenied, PluginError,
    PreconditionFailed, ValidationError, XrmError,
)
from . import times
from .history import Activity
from .hookspecs import hookspec
from .kpis import KPI, KPIContext
from .platform import Platform, open_platform
from .plugin_kit import call_first, json_definitions
from .plugins import hookimpl
from .records import Record
from .session import Session

__all__ = [
    "hookimpl", "hookspec", "Platform", "open_platform", "Session", "Record", "Activity", "KPI", "KPIContext",
    "XrmError", "ValidationError", "DefinitionError", "NotFound", "PermissionDenied", "Conflict",
    "PreconditionFailed", "AuthenticationError", "PluginError",
    # plugin helpers: definition hooks from JSON files, first answer of a plugin's own hook, RFC 3339 times
    "json_definitions", "call_first", "times",
]
