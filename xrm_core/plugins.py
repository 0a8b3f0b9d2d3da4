"""The plugin manager: built by a factory, never a module global.

Plugins are found through the ``xrm.plugins`` entry-point group (built-in and third-party
alike), may add hooks of their own (``xrm_addhooks``) and are checked once all are loaded:
an implementation of a hook nobody declares is an error unless marked ``optionalhook``.
Every failure names the plugin it came from.
"""
from __future__ import annotations

import difflib
import inspect
import os
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import DefinitionError, PluginError, XrmError

GROUP = "xrm.plugins"
PROJECT = "xrm"
hookimpl = pluggy.HookimplMarker(PROJECT)


#: What plugin code raises that is its failure, to be named: any exception, and ``SystemExit``
#: — a ``sys.exit()`` (or click's ``ctx.exit()``) in a hook ended ``xrm`` with status 1 and no
#: word, and dropped a REST call's connection unanswered. ``KeyboardInterrupt`` still stops.
PLUGIN_FAILURES = (Exception, SystemExit)


def disabled_plugins() -> set[str]:
    """Entry-point names listed in ``XRM_DISABLE_PLUGINS`` (comma-separated)."""
    return {p.strip() for p in os.environ.get("XRM_DISABLE_PLUGINS", "").split(",") if p.strip()}


def make_plugin_manager(load_entry_points: bool = True, plugins: list | tuple | dict = ()) -> pluggy.PluginManager:
    """A fresh PluginManager with the xrm hookspecs.

    Plugins of the ``xrm.plugins`` entry-point group are loaded (in name order) unless
    blocked by ``XRM_DISABLE_PLUGINS``; ``plugins`` (modules or objects) are registered
    after them, which is how tests add one: each under its ``__name__``, or under the key
    when ``plugins`` is a ``{name: plugin}`` mapping (the name its entry point would give
    it, so errors and ``source`` read as in production). Raises :class:`PluginError` naming
    the plugin when one cannot be imported or registered, implements a hook no one
    declares, or shares its entry-point name with another installed distribution.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    # Historic: every plugin registered from now on gets its xrm_addhooks called at once,
    # before the next plugin registers (pytest's pytest_addhooks pattern).
    pm.hook.xrm_addhooks.call_historic(kwargs={"pm": pm})
    blocked = disabled_plugins()
    for name in blocked:
        pm.set_blocked(name)
    present: set[str] = set()  # every plugin name there is, blocked or not
    if load_entry_points:
        loaded: dict[str, object] = {}
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            present.add(ep.name)
            if ep.name in blocked:
                continue
            if ep.name in loaded:
                if loaded[ep.name].value == ep.value:
                    continue  # the same plugin listed twice replaces nothing
                # Loading only the first would silently drop the other plugin (which one
                # depends on sys.path order), and `xrm plugins list` could name the wrong one.
                first = loaded[ep.name]
                raise _error(ep.name, "import", f"is the entry-point name of two installed distributions, "
                             f"{_dist_name(first)} ({first.value}) and {_dist_name(ep)} ({ep.value}): "
                             "uninstall one, or rename its entry point")
            loaded[ep.name] = ep
            try:
                plugin = ep.load()
            except Exception as e:  # noqa: BLE001 — a broken plugin is named, not a traceback
                raise _error(ep.name, "import", f"cannot import {ep.value!r}", e) from e
            register(pm, plugin, ep.name)
    named = plugins.items() if isinstance(plugins, dict) else \
        ((getattr(plugin, "__name__", None), plugin) for plugin in plugins)
    for name, plugin in named:
        present.add(name)
        register(pm, plugin, name)
    check_hooks(pm)
    # A misspelt name blocks nothing, silently: `xrm init` warns (see unmatched_blocks).
    setattr(pm, UNMATCHED_BLOCKS, (sorted(blocked - present), sorted(present)))
    return pm


#: The attribute of a plugin manager holding ``(blocked names no plugin has, plugin names)``.
UNMATCHED_BLOCKS = "xrm_unmatched_blocks"


def unmatched_blocks(pm: pluggy.PluginManager) -> list[str]:
    """Warnings for each ``XRM_DISABLE_PLUGINS`` name that no plugin has (a typo blocks
    nothing, and the plugin meant keeps running), naming the plugins there are."""
    unmatched, present = getattr(pm, UNMATCHED_BLOCKS, ((), ()))
    return [f"XRM_DISABLE_PLUGINS names {name!r}, but no plugin has that name, so it blocks nothing "
            f"(the plugins: {', '.join(present)})" for name in unmatched]


def _dist_name(ep) -> str:
    return repr(ep.dist.name) if getattr(ep, "dist", None) is not None else "an unknown distribution"


def register(pm: pluggy.PluginManager, plugin, name: str | None = None) -> None:
    """Register ``plugin`` (its ``xrm_addhooks`` runs first), naming it in any error."""
    shown = name or getattr(plugin, "__name__", repr(plugin))
    try:
        pm.register(plugin, name)
    except XrmError:
        raise
    except pluggy.PluginValidationError as e:
        # Registering an announcer verifies the listeners registered before it against its
        # new specs: a listener's bad signature is the listener's fault, not the announcer's.
        culprit = pm.get_name(e.plugin) if e.plugin is not plugin else None
        what = _unknown_arguments(pm, e.plugin)  # pluggy's message does not show the spec
        raise _error(culprit or shown, "register", what or "cannot be registered", e, show_cause=what is None) from e
    except Exception as e:  # noqa: BLE001
        raise _error(shown, "register", "cannot be registered", e) from e


def _unknown_arguments(pm: pluggy.PluginManager, plugin) -> str | None:
    """``cannot be registered: its xrm_cli_commands takes 'app', …`` — which implementation of
    ``plugin`` takes arguments its hook's spec lacks, and the spec's, or None if none does.
    pluggy's own message names the implementation but not what the spec offers."""
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        caller = getattr(pm.hook, hook, None)
        spec = getattr(caller, "spec", None)
        function = getattr(plugin, attr)
        if spec is None or not callable(function):
            continue
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            continue
        extra = [n for n, p in params.items() if p.default is p.empty
                 and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in spec.argnames]
        if extra:
            return (f"cannot be registered: its {hook} takes {', '.join(map(repr, extra))}, which the hook does "
                    f"not pass — {hook}({', '.join(spec.argnames)}) — take any of those arguments, by name")
    return None


def check_hooks(pm: pluggy.PluginManager) -> None:
    """Refuse implementations of hooks no plugin declared (a typo would otherwise be silent).

    Listeners of another plugin's hook mark themselves ``@hookimpl(optionalhook=True)``
    and load fine when that plugin is absent. A hook wrapper of a hook the platform calls
    one implementation at a time (:data:`CALLED_ONE_BY_ONE`) is refused too: it would
    never run; and so is a function named like a declared hook but not marked ``@hookimpl``,
    which pluggy would silently skip.
    """
    _refuse_unmarked_hooks(pm)
    for name, caller in vars(pm.hook).items():
        if name.startswith("_"):
            continue
        if name in CALLED_ONE_BY_ONE:
            for impl in caller.get_hookimpls():
                if impl.hookwrapper or getattr(impl, "wrapper", False):
                    raise _error(plugin_name(pm, impl.plugin), name, f"implements {name} as a hook wrapper, "
                                 "which would never run: the platform calls each implementation of this hook "
                                 "itself; write a plain implementation (tryfirst/trylast set its order)")
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                plugin = plugin_name(pm, impl.plugin)
                known = [n for n, c in vars(pm.hook).items() if not n.startswith("_") and c.has_spec()]
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise _error(plugin, name, f"implements unknown hook {name!r} ({hint}mark it "
                             "@hookimpl(optionalhook=True) if another plugin declares it)")


def _refuse_unmarked_hooks(pm: pluggy.PluginManager) -> None:
    """Refuse a plugin's function named like a declared hook but not marked ``@hookimpl``.

    Checked once every plugin is registered, so a listener of a hook that a plugin loaded
    after it declares is seen too. A re-exported hook *spec* (``@hookspec``) is no
    implementation and is left alone."""
    declared = {n for n, c in vars(pm.hook).items() if not n.startswith("_") and c.has_spec()}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a blocked name
            continue
        for attr in sorted(declared & set(dir(plugin))):
            function = getattr(plugin, attr, None)
            if not inspect.isroutine(function) or hasattr(function, f"{PROJECT}_spec"):
                continue
            if pm.parse_hookimpl_opts(plugin, attr) is None:
                raise _error(name, attr, f"defines {attr} without marking it @hookimpl (from xrm_core import "
                             "hookimpl), so it would never be called")


def _error(plugin: str, hook: str, what: str, exc: BaseException | None = None,
           show_cause: bool = True) -> PluginError:
    err = PluginError(plugin, hook, exc or LookupError(what))
    detail = f": {type(exc).__name__}: {exc}" if exc is not None and show_cause else ""
    err.message = f"plugin {plugin!r} {what}{detail}"
    err.args = (err.message,)
    return err


def plugin_name(pm: pluggy.PluginManager, plugin) -> str:
    """The name a plugin was registered under (its entry-point name for installed plugins)."""
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


#: Definition hooks whose items carry a ``name`` that one plugin alone may declare, and what
#: such an item is called in errors. Roles are left out: plugins grant on one role together.
NAMED_DEFINITIONS = {
    "xrm_entity_types": "entity type",
    "xrm_relationship_types": "relationship type",
    "xrm_activity_kinds": "activity kind",
    "xrm_kpis": "KPI",
}


#: Definition hooks that return a list too, but whose names several plugins may share.
LISTED_DEFINITIONS = {"xrm_roles": "role"}


#: Hooks the platform calls implementation by implementation (to know whose result or error
#: each is) rather than through pluggy's call, so wrappers of them are never run.
CALLED_ONE_BY_ONE = frozenset({*NAMED_DEFINITIONS, "xrm_roles", "xrm_record_event"})


#: The attribute a definition hook sets on itself (``json_definitions``' hooks do) to say which
#: file each definition of its latest call came from: ``[(definition, "pkg: kpis.json, item 0")]``.
ORIGINS_ATTRIBUTE = "_xrm_definition_origins"

#: ``(plugin, hook) -> [(definition, where it was declared)]`` for the latest call of each
#: definition hook, so that an error found in a definition later (by ``xrm init``) can say
#: which file to fix. Definitions are matched by identity; only the latest call is kept.
_ORIGINS: dict[tuple[str, str], list[tuple[object, str]]] = {}


def declared_in(plugin: str, hook: str, definition) -> str:
    """``" (PACKAGE: FILE)"`` — the file of ``json_definitions`` that ``plugin``'s ``hook``
    read ``definition`` from (``" (xrm_referrals: types/referral.json)"``, ``" (xrm_referrals:
    kpis.json, item 2)"``), for error messages; ``""`` for a definition written in Python,
    whose plugin's name says where to look."""
    for item, where in _ORIGINS.get((plugin, hook), ()):
        if item is definition:
            return f" ({where})"
    return ""


def _note_origins(plugin: str, hook: str, function) -> None:
    """Remember which file each definition of ``function``'s latest call came from (see
    :data:`_ORIGINS`), when the function says so (``json_definitions``' hooks do)."""
    _ORIGINS[(plugin, hook)] = list(getattr(function, ORIGINS_ATTRIBUTE, ()))


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs) -> list[tuple[str, object]]:
    """Call every implementation of ``hook`` in pluggy's order, returning (plugin, result).

    Unlike ``pm.hook.NAME(...)`` this knows which plugin produced each result, so
    definitions can record their source and errors can name their plugin. Each
    implementation gets only the arguments it asks for.

    For the definition hooks of :data:`NAMED_DEFINITIONS` and :data:`LISTED_DEFINITIONS`
    each result must be a list (or None) — a single definition returned bare would otherwise
    be read as its keys — and for the former a name may be declared once among all
    plugins: otherwise a
    :class:`DefinitionError` names the plugin(s) — a second declaration would silently
    replace the first one's definition.
    """
    caller = getattr(pm.hook, hook)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        name = plugin_name(pm, impl.plugin)
        try:
            result = impl.function(**{k: kwargs[k] for k in impl.argnames})
        except XrmError as e:
            # A refusal from the plugin's own code (json_definitions' "types/x.json: invalid
            # JSON at line 2") names its package or file, not the plugin: say whose it is,
            # as every other definition error does.
            if not e.message.startswith(f"plugin {name!r}"):
                e.message = f"plugin {name!r}: {e.message}"
                e.args = (e.message,)
            raise
        except PLUGIN_FAILURES as e:  # noqa: BLE001 — name the plugin rather than show a traceback
            raise PluginError(name, hook, e) from e
        if hook in NAMED_DEFINITIONS or hook in LISTED_DEFINITIONS:
            _note_origins(name, hook, impl.function)
        out.append((name, result))
    if hook in NAMED_DEFINITIONS or hook in LISTED_DEFINITIONS:
        _check_named_definitions(hook, out)
    return out


def call_hook(pm: pluggy.PluginManager, hook: str, **kwargs):
    """``pm.hook.<hook>(**kwargs)`` — pluggy's own call, with its ordering, ``tryfirst`` and
    wrappers — whose crash becomes a :class:`PluginError` naming the plugin whose code raised
    (the innermost frame of an implementation, else of its package, in the traceback)."""
    try:
        return getattr(pm.hook, hook)(**kwargs)
    except XrmError:
        raise
    except PLUGIN_FAILURES as e:  # noqa: BLE001 — name the plugin rather than show a traceback
        culprit = culprit_of(pm, hook, e)
        if culprit is None:
            raise
        raise PluginError(culprit, hook, e) from e


def call_registering_hook(pm: pluggy.PluginManager, hook: str, kinds: tuple[type, ...], how: str,
                          **kwargs) -> None:
    """:func:`call_hook` for a hook whose implementations register things on their argument
    (``xrm_cli_commands(cli)``, ``xrm_flask_app(app)``) and return nothing.

    A thing of ``kinds`` (a click command, a blueprint) *returned* instead, alone or in a
    list, would be dropped without a word ("No such command"); that is refused here, naming
    the plugin (found by the returned object's module) and ``how`` it should have been
    registered. Anything else returned (the ``app`` itself, by habit) is let be."""
    returned = []
    for result in call_hook(pm, hook, **kwargs) or ():
        returned += result if isinstance(result, (list, tuple)) else [result]
    for result in returned:
        if not isinstance(result, kinds) or any(result is arg for arg in kwargs.values()):
            continue
        module = getattr(getattr(result, "callback", None), "__module__", None) \
            or getattr(result, "import_name", None) or type(result).__module__ or ""
        plugin = _owner(pm, hook, module)
        name = getattr(result, "name", None)
        shown = f"a {type(result).__name__}" + (f" ({name!r})" if isinstance(name, str) else "")
        what = f"returned {shown} from {hook}, which registers nothing it returns: {how}"
        err = _error(plugin or "(unknown)", hook, what)
        if plugin is None:  # several plugins implement the hook and the object's module is none of theirs
            err.message = f"a plugin {what}"
            err.args = (err.message,)
        raise err


def _owner(pm: pluggy.PluginManager, hook: str, module: str) -> str | None:
    """The one plugin implementing ``hook`` whose code lives in ``module`` (else in its
    top-level package), or None when none or several do (pluggy's results do not say whose
    each one is)."""
    impls = getattr(pm.hook, hook).get_hookimpls()
    for same in (lambda m: m == module, lambda m: m.split(".")[0] == module.split(".")[0]):
        names = {plugin_name(pm, i.plugin) for i in impls if same(getattr(i.function, "__module__", None) or "")}
        if len(names) == 1:
            return names.pop()
    return plugin_name(pm, impls[0].plugin) if len(impls) == 1 else None


def culprit_of(pm: pluggy.PluginManager, hook: str, e: BaseException) -> str | None:
    """The plugin among those implementing ``hook`` whose code raised ``e`` (the innermost
    frame of one of its implementations, else of its package, in the traceback), or None."""
    impls = getattr(pm.hook, hook).get_hookimpls()
    by_code = {getattr(i.function, "__code__", None): plugin_name(pm, i.plugin) for i in impls}
    by_package = {(getattr(i.function, "__module__", None) or "").split(".")[0]: plugin_name(pm, i.plugin)
                  for i in impls}
    found = None
    tb = e.__traceback__
    while tb is not None:  # outermost to innermost: the last match is the deepest
        frame = tb.tb_frame
        name = by_code.get(frame.f_code) or by_package.get(frame.f_globals.get("__name__", "").split(".")[0])
        found = name or found
        tb = tb.tb_next
    return found


def _check_named_definitions(hook: str, results: list[tuple[str, object]]) -> None:
    """Refuse a definition hook's result that is not a list, and a name declared twice
    (except for the hooks of :data:`LISTED_DEFINITIONS`, whose names plugins share)."""
    what = NAMED_DEFINITIONS.get(hook) or LISTED_DEFINITIONS[hook]
    owner: dict[str, str] = {}
    first: dict[str, object] = {}
    for plugin, items in results:
        if items is None:
            continue
        if not isinstance(items, (list, tuple)):
            raise DefinitionError(f"plugin {plugin!r}: {hook}() must return a list of definitions, "
                                  f"not {type(items).__name__}", [{"pointer": "", "message": "not a list"}])
        if hook in LISTED_DEFINITIONS:
            continue
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
            if not isinstance(name, str):
                continue  # an unnamed definition is reported by its own check
            if name in owner:
                if isinstance(item, dict) and item == first[name]:
                    continue  # the same definition twice (a shared one) replaces nothing
                earlier = f"{owner[name]!r}{declared_in(owner[name], hook, first[name])}"
                by = f"plugin {plugin!r} twice" if owner[name] == plugin else \
                    f"plugins {earlier} and {plugin!r}{declared_in(plugin, hook, item)}"
                raise DefinitionError(f"{what} {name!r} is declared by {by}, differently: a name may be declared "
                                      "once (rename one; XRM_DISABLE_PLUGINS=NAME blocks a plugin)",
                                      [{"pointer": f"/{i}/name", "message": f"{what} {name!r} declared again"}])
            owner[name], first[name] = plugin, item


def malformed_errors(e: XrmError) -> str | None:
    """What is wrong with the ``errors`` of an error a plugin raised, or None when each is a
    ``{"pointer", "message"}`` dict of strings. A missing ``pointer`` is the whole record
    (``""``) and a missing ``message`` the error's own, both filled in here.

    Every interface reads them as such dicts — ``ValidationError("bad", "oops")`` (errors
    read as the characters of a string) crashed the CLI with a traceback naming nobody.
    """
    for i, err in enumerate(e.errors):
        if not isinstance(err, dict):
            return f"errors[{i}] is {type(err).__name__} {err!r}, not a {{\"pointer\", \"message\"}} object"
        err.setdefault("pointer", "")
        err.setdefault("message", e.message)
        for key in ("pointer", "message"):
            if not isinstance(err[key], str):
                return f"errors[{i}][{key!r}] is {type(err[key]).__name__} {err[key]!r}, not a string"
        if err["pointer"] and not err["pointer"].startswith("/"):
            return f"errors[{i}]['pointer'] {err['pointer']!r} is no JSON pointer (one starts with '/')"
    return None


def list_plugins(pm: pluggy.PluginManager) -> list[dict]:
    """Registered plugins with their distribution, version and implemented hooks."""
    dists = {}
    for ep in entry_points(group=GROUP):
        dists[ep.name] = (ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        if plugin is None:  # a blocked name
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist, version = dists.get(name, (None, None))
        out.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)),
                    "distribution": dist, "version": version, "hooks": hooks})
    return out
