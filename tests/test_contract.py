"""Contract tests: the plugin API is documented and tested, packaging registers every
plugin, every core module imports on its own, and the core stays free of business words.

They read the source tree, so they fail the moment someone adds a hook without docs or a
test, a plugin folder without an entry point, or a customer to the core.
"""
from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import xrm_core
from xrm_core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "xrm_core"
DOCS = ROOT / "docs" / "plugins.md"


def spec_functions() -> dict[str, object]:
    """Every hook specification in xrm_core/hookspecs.py, by name."""
    return {name: fn for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "xrm_spec")}


def signature(fn) -> str:
    return f"{fn.__name__}({', '.join(inspect.signature(fn).parameters)})"


def test_the_spec_module_declares_the_contract_hooks():
    assert set(spec_functions()) == {
        "xrm_addhooks", "xrm_entity_types", "xrm_relationship_types", "xrm_activity_kinds", "xrm_kpis",
        "xrm_roles", "xrm_record_event", "xrm_cli_commands", "xrm_flask_app", "xrm_demo_data"}
    assert signature(spec_functions()["xrm_record_event"]) == "xrm_record_event(event, record, changes, session)"


# -- (a) every hook documented ----------------------------------------------------------
def documented_hooks() -> dict[str, str]:
    """Hook headings of docs/plugins.md (``### `xrm_name(args)` ``) -> their signature."""
    found = {}
    for m in re.finditer(r"^#{2,4} `(xrm_\w+)\(([^)]*)\)`", DOCS.read_text(encoding="utf-8"), re.M):
        found[m[1]] = f"{m[1]}({m[2]})"
    return found


@pytest.mark.parametrize("name", sorted(spec_functions()))
def test_every_hookspec_has_a_docstring_and_is_documented_with_its_signature(name):
    fn = spec_functions()[name]
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 40, f"{name} in xrm_core/hookspecs.py needs a docstring saying when it is called"
    documented = documented_hooks()
    assert name in documented, f"docs/plugins.md has no section '### `{signature(fn)}`'"
    assert documented[name] == signature(fn), f"docs/plugins.md documents {documented[name]}, the spec is {signature(fn)}"


def test_docs_document_no_hook_that_does_not_exist():
    assert set(documented_hooks()) <= set(spec_functions())


# -- (b) every hook exercised by a test --------------------------------------------------
def _is_hookimpl(node: ast.expr) -> bool:
    """``hookimpl``, ``xrm_core.hookimpl`` or either called with options."""
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Name) and node.id == "hookimpl") or \
        (isinstance(node, ast.Attribute) and node.attr == "hookimpl")


def implemented_in_tests() -> set[str]:
    """Hook names the tests implement: ``@hookimpl def xrm_x(...)`` or ``xrm_x=hookimpl(...)``."""
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(_is_hookimpl(d) for d in node.decorator_list):
                names.add(node.name)
            elif isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Call) \
                    and _is_hookimpl(node.value.func):
                names.add(node.arg)
    return names


@pytest.mark.parametrize("name", sorted(spec_functions()))
def test_every_hookspec_is_implemented_by_a_test(name):
    assert name in implemented_in_tests(), f"no test under tests/ implements the hook {name} (with @hookimpl)"


# -- (c) every plugin folder registered ----------------------------------------------------
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("folder", sorted(p.name for p in (ROOT / "plugins").iterdir()
                                          if (p / "__init__.py").exists()))
def test_every_plugin_folder_has_an_entry_point_and_an_import_name(folder):
    project = pyproject()
    package_dir = project["tool"]["setuptools"]["package-dir"]
    names = [name for name, path in package_dir.items() if path.rstrip("/") == f"plugins/{folder}"]
    assert names, f'pyproject.toml: [tool.setuptools.package-dir] needs a line xrm_{folder} = "plugins/{folder}"'
    (import_name,) = names
    assert import_name in project["tool"]["setuptools"]["packages"], \
        f"pyproject.toml: [tool.setuptools] packages must list {import_name} (else `pip install .` leaves it out)"
    eps = project["project"]["entry-points"]["xrm.plugins"]
    targets = {ep: value.split(":")[0] for ep, value in eps.items()}
    assert any(t == import_name or t.startswith(import_name + ".") for t in targets.values()), \
        f'pyproject.toml: [project.entry-points."xrm.plugins"] has no entry point for {import_name}'


def test_every_entry_point_names_a_mapped_package():
    project = pyproject()
    mapped = set(project["tool"]["setuptools"]["packages"])
    for name, value in project["project"]["entry-points"]["xrm.plugins"].items():
        assert value.split(":")[0].split(".")[0] in mapped, f"entry point {name} = {value!r} names no package"


# -- (d) every core module imports on its own -----------------------------------------------
# Alembic's env.py runs a migration when imported; it is only ever loaded by Alembic.
NOT_IMPORTABLE = {"xrm_core.migrations.env"}


def core_modules() -> list[str]:
    out = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in NOT_IMPORTABLE:
            out.append(name)
    return out


IMPORT_EACH = """
import importlib, sys, traceback
for name in sys.argv[1:]:
    # Forget every module of ours, so each one is imported from scratch (third-party
    # libraries stay loaded: re-importing them would only cost time).
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("xrm_core", "xrm_schemas")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)  # not `import`: migration file names start with digits
    except BaseException as e:
        print(f"{name}: {type(e).__name__}: {e}")
"""


def test_every_core_module_imports_on_its_own():
    modules = core_modules()
    assert len(modules) > 15
    proc = subprocess.run([sys.executable, "-W", "error", "-c", IMPORT_EACH, *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "modules that do not import on their own:\n" + proc.stdout


# -- (e) no business vocabulary in the core ------------------------------------------------
BUSINESS_WORDS = {
    "customer", "dealer", "dealership", "supplier", "vendor", "vehicle", "car", "passenger",
    "railway", "automotive", "manufacturer", "showroom", "warranty", "complaint", "employee",
    "survey", "invoice", "patient", "citizen", "investor",
}


def words(text: str):
    """Words of identifiers and prose: ``customer_id`` and ``CustomerView`` both give customer."""
    for m in re.finditer(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", text):
        yield m.start(), m[0].lower()


def business_words_in(text: str) -> list[tuple[int, str]]:
    found = []
    for pos, word in words(text):
        stem = word[:-1] if word.endswith("s") else word
        if word in BUSINESS_WORDS or stem in BUSINESS_WORDS:
            found.append((text.count("\n", 0, pos) + 1, word))
    return found


def test_the_vocabulary_check_finds_words_in_code_and_prose():
    assert [w for _, w in business_words_in("x = load('Customers')  # a CustomerView per dealer_id\nvendors")] == [
        "customers", "customer", "dealer", "vendors"]
    assert business_words_in("scar cards carbon customers_scope") == [(1, "customers")]


def test_the_core_names_no_business_concept():
    hits = []
    for path in sorted(CORE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".json", ".mako", ".ini", ".html", ".txt", ".md", ".sql"}:
            rel = path.relative_to(ROOT)
            hits += [f"{rel}:{line}: {word}" for line, word in business_words_in(path.read_text(encoding="utf-8"))]
    assert not hits, "business vocabulary belongs in plugins, not xrm_core:\n" + "\n".join(hits)


# -- plugins use only the public API ---------------------------------------------------------
def plugin_sources() -> list[Path]:
    return sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py"))


def test_plugins_import_only_public_names_of_xrm_core():
    public = set(xrm_core.__all__)
    bad = []
    for path in plugin_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            rel = path.relative_to(ROOT)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "xrm_core":
                if node.module != "xrm_core":
                    bad.append(f"{rel}:{node.lineno}: from {node.module} import …")
                bad += [f"{rel}:{node.lineno}: {a.name} is not in xrm_core.__all__"
                        for a in node.names if a.name not in public]
            elif isinstance(node, ast.Import):
                bad += [f"{rel}:{node.lineno}: import {a.name}" for a in node.names
                        if a.name.startswith("xrm_core.")]
    assert plugin_sources(), "no plugin sources found"
    assert not bad, "plugins import only `from xrm_core import <public name>`:\n" + "\n".join(bad)


def test_the_public_names_exist():
    for name in xrm_core.__all__:
        assert getattr(xrm_core, name) is not None
