"""The plugin manager: built by a factory, never a module global."""
from __future__ import annotations

import os
from importlib.metadata import entry_points

import pluggy

from . import hookspecs

GROUP = "xrm.plugins"
hookimpl = pluggy.HookimplMarker("xrm")


def disabled_plugins() -> set[str]:
    """Entry-point names listed in ``XRM_DISABLE_PLUGINS`` (comma-separated)."""
    return {p.strip() for p in os.environ.get("XRM_DISABLE_PLUGINS", "").split(",") if p.strip()}


def make_plugin_manager(load_entry_points: bool = True, plugins: list | tuple = ()) -> pluggy.PluginManager:
    """A fresh PluginManager with the xrm hookspecs.

    Plugins of the ``xrm.plugins`` entry-point group are loaded unless blocked by
    ``XRM_DISABLE_PLUGINS``; ``plugins`` (modules or objects) are registered too, which is
    how tests add one. Each plugin's ``xrm_addhooks`` runs as it registers.
    """
    pm = pluggy.PluginManager("xrm")
    pm.add_hookspecs(hookspecs)
    blocked = disabled_plugins()
    if load_entry_points:
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                continue
            register(pm, ep.load(), ep.name)
    for plugin in plugins:
        register(pm, plugin, getattr(plugin, "__name__", None))
    return pm


def register(pm: pluggy.PluginManager, plugin, name: str | None = None) -> None:
    """Register ``plugin``, first letting it add hookspecs of its own."""
    addhooks = getattr(plugin, "xrm_addhooks", None)
    if addhooks is not None:
        addhooks(pm=pm)
    pm.register(plugin, name)


def plugin_name(pm: pluggy.PluginManager, plugin) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs) -> list[tuple[str, object]]:
    """Call every implementation of ``hook`` in pluggy's order, returning (plugin, result).

    Unlike ``pm.hook.NAME(...)`` this knows which plugin produced each result, so
    definitions can record their source and errors can name their plugin.
    """
    caller = getattr(pm.hook, hook)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        args = {k: kwargs[k] for k in impl.argnames}
        out.append((plugin_name(pm, impl.plugin), impl.function(**args)))
    return out


def list_plugins(pm: pluggy.PluginManager) -> list[dict]:
    """Registered plugins with their distribution, version and implemented hooks."""
    dists = {}
    for ep in entry_points(group=GROUP):
        dists[ep.name] = (ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist, version = dists.get(name, (None, None))
        out.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)),
                    "distribution": dist, "version": version, "hooks": hooks})
    return out
