"""Helpers for writing plugins: small, generic, part of the public API.

:func:`json_definitions` gives a plugin whose definitions are JSON files beside its code the
five definition hooks in one line, instead of five copies of the same loader.
:func:`call_first` calls a hook a plugin declared itself (``xrm_addhooks``) the way pluggy's
``firstresult`` does, but names the plugin whose implementation fails.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib import import_module
from importlib.resources import files

from .errors import DefinitionError, PluginError, XrmError
from .plugins import ORIGINS_ATTRIBUTE, PLUGIN_FAILURES, hookimpl, malformed_errors, plugin_name

__all__ = ["json_definitions", "call_all", "call_first", "DEFINITION_FILES"]

#: Hook name -> the JSON file (a list of definitions) it reads; entity types are one file each
#: in the ``types/`` folder.
DEFINITION_FILES = {
    "xrm_relationship_types": "relationship_types.json",
    "xrm_activity_kinds": "activity_kinds.json",
    "xrm_roles": "roles.json",
    "xrm_kpis": "kpis.json",
}
TYPES_FOLDER = "types"



#: What JSON calls the value a file held, by the Python type it was read as.
_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}

def json_definitions(package: str, kpis: Iterable | str = ()) -> dict[str, Callable]:
    """The definition hooks of a plugin whose definitions are JSON files in ``package`` (or in
    the package of the module ``package`` names, so ``__name__`` works in any module of it).

    Returns ``{"xrm_entity_types", "xrm_relationship_types", "xrm_activity_kinds",
    "xrm_roles", "xrm_kpis"}``, each a ``@hookimpl`` function reading, on every call:

    - ``types/*.json``: one entity-type definition (a JSON object) per file, in file-name order;
    - ``relationship_types.json``, ``activity_kinds.json``, ``roles.json``, ``kpis.json``:
      each a JSON array of definitions.

    A missing file or folder means "none" (an empty list). ``kpis`` adds Python KPIs after
    those of ``kpis.json``: a class is instantiated on every call (each platform gets its own
    object), anything else is returned as it is; one KPI class or object is a list of one.
    ``kpis`` may also name them as ``"module:attribute"``, imported on the first call: Python KPIs import SQLAlchemy, and
    loading a plugin (every ``xrm`` command does) should not have to.

    pluggy finds hooks as attributes of the plugin module, so bind the functions there::

        globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))

    A file that is not valid JSON, or not of the expected shape, raises
    :class:`~xrm_core.DefinitionError` naming the file, the line and the column.
    """
    package = _package_of(package)
    root = files(package)

    def read(relpath: str, expect: type):
        path = root.joinpath(relpath)
        if not path.is_file():
            return None
        where = f"{package}: {relpath}"
        try:
            value = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as e:
            raise DefinitionError(f"{where}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                                  [{"pointer": "", "line": e.lineno, "message": e.msg}]) from None
        if not isinstance(value, expect):
            shape = "an object" if expect is dict else "an array"
            raise DefinitionError(f"{where}: must hold {shape} (a JSON {_JSON_NAMES.get(type(value), type(value).__name__)} found)",
                                  [{"pointer": "", "message": f"not {shape}"}])
        return value

    def read_list(name: str) -> list:
        return read(name, list) or []

    def from_files(hook: Callable, found: list[tuple[object, str]]) -> list:
        """The definitions ``found`` (each with the file it came from), the files noted on
        ``hook`` so that an error in a definition names its file (``plugins.declared_in``)."""
        setattr(hook, ORIGINS_ATTRIBUTE, [(d, f"{package}: {where}") for d, where in found])
        return [d for d, _ in found]

    def listed(hook: Callable) -> list:
        name = DEFINITION_FILES[hook.__name__]
        return from_files(hook, [(d, f"{name}, item {i}") for i, d in enumerate(read_list(name))])

    @hookimpl
    def xrm_entity_types():
        folder = root.joinpath(TYPES_FOLDER)
        if not folder.is_dir():
            return []
        names = sorted(f.name for f in folder.iterdir() if f.name.endswith(".json") and f.is_file())
        return from_files(xrm_entity_types, [(read(f"{TYPES_FOLDER}/{name}", dict), f"{TYPES_FOLDER}/{name}")
                                             for name in names])

    @hookimpl
    def xrm_relationship_types():
        return listed(xrm_relationship_types)

    @hookimpl
    def xrm_activity_kinds():
        return listed(xrm_activity_kinds)

    @hookimpl
    def xrm_roles():
        return listed(xrm_roles)

    def python_kpis() -> tuple:
        if not isinstance(kpis, str):
            return _kpi_sequence(kpis, f"{package}: kpis")
        module, _, attribute = kpis.partition(":")
        if not (module and attribute):
            raise DefinitionError(f"{package}: kpis {kpis!r} must name an attribute as 'module:attribute' "
                                  f"(e.g. '{package}.kpis:KPI_CLASSES')", [{"pointer": "", "message": "not module:attribute"}])
        try:
            value = getattr(import_module(module), attribute)
        except AttributeError as e:  # the module's own ImportError is the plugin's crash, named as such
            raise DefinitionError(f"{package}: kpis {kpis!r}: {e}", [{"pointer": "", "message": "no such attribute"}]) from None
        return _kpi_sequence(value, f"{package}: kpis {kpis!r}")

    @hookimpl
    def xrm_kpis():
        # Python KPIs are named by their class (plugins.declared_in), not by a file.
        return listed(xrm_kpis) + [k() if isinstance(k, type) else k for k in python_kpis()]

    hooks = {f.__name__: f for f in (xrm_entity_types, xrm_relationship_types, xrm_activity_kinds, xrm_roles,
                                     xrm_kpis)}
    for f in hooks.values():
        setattr(f, PACKAGE_ATTRIBUTE, package)  # for unshipped_definitions()
    return hooks


def _package_of(name: str) -> str:
    """The package named ``name``, or the one holding the module ``name``: the hooks often
    live in ``plugin.py`` beside the JSON files, and ``json_definitions(__name__)`` there
    names a module — which Python 3.11's ``importlib.resources.files`` refuses ("is not a
    package") while 3.12's reads the module's folder. Reading the package is right on both."""
    module = import_module(name)  # what files() does too; the calling module is already in sys.modules
    if hasattr(module, "__path__"):
        return name
    if not module.__package__:
        raise DefinitionError(f"json_definitions({name!r}): a top-level module, not in a package: keep the "
                              "plugin and its JSON files in a package, and pass its name",
                              [{"pointer": "", "message": "not in a package"}])
    return module.__package__


def _kpi_sequence(value, where: str) -> tuple:
    """The Python KPIs ``value`` holds: a list or tuple of them, or one KPI class or object
    (one is a list of one — "a name naming one" reads either way). A string or a dict would
    else be read as its characters or keys, and reported as KPIs of the wrong kind."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if callable(getattr(value, "compute", None)):  # a KPI class or object
        return (value,)
    found = f"the class {value.__name__}" if isinstance(value, type) else f"a {type(value).__name__}"
    raise DefinitionError(f"{where} holds {found}, not KPI classes or objects (a list of them, or one)",
                          [{"pointer": "", "message": "not KPI classes or objects"}])


#: The attribute naming the package on each hook :func:`json_definitions` returns.
PACKAGE_ATTRIBUTE = "xrm_definitions_package"


def unshipped_definitions(pm) -> list[tuple[str, str]]:
    """``(plugin, package)`` for each plugin whose :func:`json_definitions` hooks find not one
    definition file in their package.

    A missing file means "none", so a package installed without its JSON files (no
    ``[tool.setuptools.package-data]``: a non-editable install then leaves them out) would
    declare nothing, silently; ``xrm init`` warns about these.
    """
    out = []
    for impl in pm.hook.xrm_entity_types.get_hookimpls():
        package = getattr(impl.function, PACKAGE_ATTRIBUTE, None)
        if package is None:
            continue
        try:
            root = files(package)
        except (ImportError, TypeError):  # no longer importable: its hooks will say so themselves
            continue
        if not root.joinpath(TYPES_FOLDER).is_dir() and not any(
                root.joinpath(name).is_file() for name in DEFINITION_FILES.values()):
            out.append((plugin_name(pm, impl.plugin), package))
    return out


def misplaced_types(pm) -> list[tuple[str, str, str, list[str]]]:
    """``(plugin, package, folder, file names)`` for each plugin whose :func:`json_definitions`
    package has no ``types/`` folder but keeps entity types (JSON objects with a ``name`` and a
    ``schema``) in another folder — ``schemas/``, as the worked example's own loader does. The
    kit reads only ``types/``, so they would be declared by nobody; ``xrm init`` says where."""
    out = []
    for impl in pm.hook.xrm_entity_types.get_hookimpls():
        package = getattr(impl.function, PACKAGE_ATTRIBUTE, None)
        try:
            root = files(package) if package is not None else None
        except (ImportError, TypeError):
            continue
        if root is None or root.joinpath(TYPES_FOLDER).is_dir():
            continue
        for folder in sorted((f for f in root.iterdir() if f.is_dir()), key=lambda f: f.name):
            names = sorted(f.name for f in folder.iterdir() if f.name.endswith(".json") and _is_entity_type(f))
            if names:
                out.append((plugin_name(pm, impl.plugin), package, folder.name, names))
                break
    return out


def _is_entity_type(path) -> bool:
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, OSError):
        return False
    return isinstance(value, dict) and "name" in value and "schema" in value


def call_all(pm, hook: str, **kwargs) -> list:
    """Call every implementation of ``hook`` in pluggy's order and return their results that
    are not None — what ``pm.hook.NAME(**kwargs)`` returns — but name the plugin whose
    implementation raises.

    Called as ``pm.hook.NAME(...)`` from inside another plugin's record event, a listener's
    crash would surface as the announcing plugin's (the one whose hook was running). Here any
    exception other than an :class:`~xrm_core.XrmError` becomes a
    :class:`~xrm_core.PluginError` naming the listener; refusals pass through. Each
    implementation gets only the keyword arguments it asks for; leaving out an argument of
    the hook's spec raises TypeError. Hook wrappers are skipped.
    """
    results = []
    for impl in reversed(_caller(pm, hook, kwargs).get_hookimpls()):
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue
        result = _call(pm, hook, impl, kwargs)
        if result is not None:
            results.append(result)
    return results


def _caller(pm, hook: str, kwargs: dict):
    """The hook caller of ``hook``, once ``kwargs`` are checked against its spec.

    A hook name no plugin knows, or an argument of the spec left out, is the announcer's
    mistake: it raises TypeError here, in the announcer's code, rather than an
    AttributeError of pluggy's, or a KeyError blamed on the first listener that asks for the
    argument (or none at all, while no listener asks for it).
    """
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        # Neither declared nor implemented by any plugin: most likely a typo in the name.
        raise TypeError(f"{hook}() is no hook: no plugin declares it (declare it with @hookspec and "
                        "register it in xrm_addhooks) and none implements it")
    spec = getattr(caller, "spec", None)
    if spec is not None:
        missing = [a for a in spec.argnames if a not in kwargs]
        if missing:
            raise TypeError(f"{hook}() called without {', '.join(map(repr, missing))}: "
                            "pass every argument of its spec, by keyword")
    return caller


def _call(pm, hook: str, impl, kwargs: dict):
    """One implementation, given the arguments it asks for; a crash becomes a PluginError."""
    try:
        return impl.function(**{k: kwargs[k] for k in impl.argnames})
    except XrmError as e:
        malformed = malformed_errors(e)
        if malformed:  # the listener's bug, not a refusal the announcer could pass on
            bug = TypeError(f"{type(e).__name__}({e.message!r}) raised with malformed errors: {malformed}")
            raise PluginError(plugin_name(pm, impl.plugin), hook, bug) from bug
        raise
    except PLUGIN_FAILURES as e:  # noqa: BLE001 — name the plugin, roll the change back
        raise PluginError(plugin_name(pm, impl.plugin), hook, e) from e


def call_first(pm, hook: str, **kwargs):
    """Call the implementations of ``hook`` in pluggy's order and return the first result that
    is not None (None when every one answers None, or there is none).

    Each implementation gets only the keyword arguments it asks for; leaving out an argument
    of the hook's spec raises TypeError. An :class:`~xrm_core.XrmError` (a refusal such as
    ValidationError) passes through; any other exception becomes a
    :class:`~xrm_core.PluginError` naming the plugin, so the caller's change is rolled back
    with a clear message. Hook wrappers are skipped.
    """
    for impl in reversed(_caller(pm, hook, kwargs).get_hookimpls()):
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue
        result = _call(pm, hook, impl, kwargs)
        if result is not None:
            return result
    return None
