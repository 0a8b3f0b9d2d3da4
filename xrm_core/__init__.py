"""xrm_core — the small core of the xRM platform.

Plugins import only the names below; everything else may change between versions.

The names are loaded on first use (PEP 562), so ``from xrm_core import hookimpl`` does not
import SQLAlchemy and the rest of the platform: loading a plugin, or ``xrm --help``, stays cheap.
"""
from importlib import import_module as _import_module

from .errors import (
    AuthenticationError, Conflict, DefinitionError, NotFound, PermissionDenied, PluginError,
    PreconditionFailed, ValidationError, XrmError,
)

__all__ = [
    "hookimpl", "hookspec", "Platform", "open_platform", "Session", "Record", "Activity", "KPI", "KPIContext",
    "XrmError", "ValidationError", "DefinitionError", "NotFound", "PermissionDenied", "Conflict",
    "PreconditionFailed", "AuthenticationError", "PluginError",
    # plugin helpers: definition hooks from JSON files, calling a plugin's own hook, RFC 3339 times
    "json_definitions", "call_all", "call_first", "times",
    # xrm_record_event implementations called for some entity types only
    "for_types",
    # pages of xrm_flask_app: act as the logged-in user; serve a view without a login
    "user_session", "login_exempt",
]

#: Public name -> (submodule, attribute; None for the submodule itself), imported on first use.
_LAZY = {
    "times": ("times", None),
    "Activity": ("history", "Activity"),
    "hookspec": ("hookspecs", "hookspec"),
    "KPI": ("kpis", "KPI"),
    "KPIContext": ("kpis", "KPIContext"),
    "Platform": ("platform", "Platform"),
    "open_platform": ("platform", "open_platform"),
    "json_definitions": ("plugin_kit", "json_definitions"),
    "call_all": ("plugin_kit", "call_all"),
    "call_first": ("plugin_kit", "call_first"),
    "hookimpl": ("plugins", "hookimpl"),
    "for_types": ("record_events", "for_types"),
    "Record": ("records", "Record"),
    "Session": ("session", "Session"),
    "user_session": ("web.ui.common", "acting"),
    "login_exempt": ("web.ui.common", "login_exempt"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = _import_module(f"{__name__}.{module}")
        if attr is not None:
            value = getattr(value, attr)
        globals()[name] = value  # next time a plain attribute
        return value
    if not name.startswith("_"):
        # Submodules stay reachable as attributes (``xrm_core.db``), as when they were all
        # imported up front.
        try:
            return _import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
