"""xrm_core — the small core of the xRM platform.

Plugins import only the names below; everything else may change between versions.
"""
from .errors import (
    AuthenticationError, Conflict, DefinitionError, NotFound, PermissionDenied, PluginError,
    PreconditionFailed, ValidationError, XrmError,
)
from .history import Activity
from .hookspecs import hookspec
from .kpis import KPI, KPIContext
from .platform import Platform, open_platform
from .plugins import hookimpl
from .records import Record
from .session import Session

__all__ = [
    "hookimpl", "hookspec", "Platform", "open_platform", "Session", "Record", "Activity", "KPI", "KPIContext",
    "XrmError", "ValidationError", "DefinitionError", "NotFound", "PermissionDenied", "Conflict",
    "PreconditionFailed", "AuthenticationError", "PluginError",
]
