"""The worked example plugin, installed with pip like any third-party plugin and exercised
through its real ``xrm.plugins`` entry point: init syncs it, records and relationships of its
types, its automation, KPIs, CLI command and the hook it announces."""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xrm_core import Platform, ValidationError, db, hookimpl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "xrm-employees"
DIST = "xrm-employees"


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"],
                          capture_output=True, text=True, timeout=300)


def _can_build_in_this_venv() -> bool:
    """Can setuptools build a wheel here without an isolated build environment?

    setuptools before 70.1 needs the separate ``wheel`` package for that.
    """
    if importlib.util.find_spec("wheel") is not None:
        return True
    major, minor = (int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


def _forget_example_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "xrm_employees"]:
        del sys.modules[name]


@pytest.fixture(scope="module", autouse=True)
def installed(tmp_path_factory):
    """pip-install the example (non-editable) into this venv for the module, then remove it."""
    # Build from a copy: pip builds in the source tree and would leave build/ and egg-info
    # behind in examples/.
    src = tmp_path_factory.mktemp("example") / "xrm-employees"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    args = ["install", "--no-deps", "--force-reinstall", str(src)]
    if _can_build_in_this_venv():
        args.insert(1, "--no-build-isolation")
    result = _pip(*args)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    importlib.invalidate_caches()
    _forget_example_modules()
    try:
        yield
    finally:
        _pip("uninstall", "-y", DIST)
        _forget_example_modules()
        importlib.invalidate_caches()


@pytest.fixture(autouse=True)
def only_the_example(monkeypatch):
    """Load the example through its entry point, without the built-in business plugins."""
    others = {ep.name for ep in importlib.metadata.entry_points(group="xrm.plugins")} - {"employees"}
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", ",".join(sorted(others)))


@pytest.fixture
def xrm(cli):
    """Run ``xrm`` with the installed plugins; fail loudly, return the JSON output for --json."""

    def run(*args, ok=True):
        result = cli(*args, entry_points=True)
        if ok:
            assert result.exit_code == 0, f"xrm {' '.join(map(str, args))}: {result.stderr}"
            return json.loads(result.stdout) if "--json" in args else result.stdout
        assert result.exit_code != 0 and "Traceback" not in result.stderr
        return result

    return run


@pytest.fixture
def initialised(xrm):
    return xrm("init", "--json")


def employee(xrm, no, name, start, **extra):
    data = {"employee_no": no, "name": name, "start_date": start, **extra}
    return xrm("records", "create", "employee", "--data", json.dumps(data), "--json")


def test_pip_installed_the_plugin_as_a_distribution(xrm):
    (emp,) = [p for p in xrm("plugins", "list", "--json") if p["name"] == "employees"]
    assert (emp["distribution"], emp["version"], emp["module"]) == (DIST, "0.1.0", "xrm_employees.plugin")
    assert emp["hooks"] == ["xrm_activity_kinds", "xrm_addhooks", "xrm_cli_commands", "xrm_entity_types",
                            "xrm_kpis", "xrm_record_event", "xrm_relationship_types", "xrm_roles"]
    # Not editable: the code and its JSON files come from site-packages, not examples/.
    files = {str(f) for f in importlib.metadata.files(DIST)}
    assert "xrm_employees/schemas/employee.json" in files
    import xrm_employees
    assert EXAMPLE not in Path(xrm_employees.__file__).resolve().parents


def test_init_syncs_the_plugin_definitions(xrm, initialised):
    assert sorted(initialised["types_added"]) == ["employee", "training"]
    types = {t["name"]: t for t in xrm("types", "list", "--json")}
    assert types["employee"]["source"] == "employees"
    assert types["employee"]["unique"] == ["employee_no"]
    rels = {r["name"]: r for r in xrm("reltypes", "list", "--json")}
    assert (rels["attended"]["source"], rels["attended"]["target"], rels["attended"]["cardinality"]) == (
        "employee", "training", "many-to-many")
    assert (rels["manager_of"]["cardinality"], rels["manager_of"]["on_delete"]) == ("one-to-many", "restrict")
    roles = {r["name"]: r for r in xrm("roles", "list", "--json")}
    assert roles["hr_partner"]["source"] == "employees"
    assert {g["type"] for g in roles["team_lead"]["grants"]} == {"employee", "training"}
    kpis = {k["name"]: k for k in xrm("kpi", "list", "--json")}
    assert {n: kpis[n]["source"] for n in ("training_completion", "headcount", "attrition")} == dict.fromkeys(
        ("training_completion", "headcount", "attrition"), "employees")
    assert xrm("init", "--json")["types_added"] == []


def test_disabled_the_plugin_is_absent(xrm, monkeypatch):
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "employees")
    report = xrm("init", "--json")
    assert "employee" not in report["types_added"]
    assert "employees" not in xrm("--help")
    assert "employees" not in [p["name"] for p in xrm("plugins", "list", "--json")]


def test_employees_relationships_and_one_on_ones(xrm, initialised):
    boss = employee(xrm, "E0001", "Grace", "2020-03-01", email="grace@example.org", department="ops")
    ada = employee(xrm, "E0002", "Ada", "2024-01-08", department="ops", phone="+44 20 7946 0000")
    other = employee(xrm, "E0003", "Alan", "2023-06-01")
    assert ada["data"]["status"] == "active"  # derived by the plugin's before_create
    course = xrm("records", "create", "training", "--data",
                 json.dumps({"title": "SQL", "date": "2025-02-01", "status": "completed"}), "--json")

    xrm("relate", "manager_of", boss["id"], ada["id"])
    xrm("relate", "attended", ada["id"], course["id"])
    xrm("relate", "attended", other["id"], course["id"])
    related = xrm("related", ada["id"], "--json")
    assert sorted((r["relationship"]["type"], r["direction"], r["record"]["id"]) for r in related) == sorted([
        ("manager_of", "incoming", boss["id"]), ("attended", "outgoing", course["id"])])
    # one-to-many: Ada already has a manager.
    result = xrm("relate", "manager_of", other["id"], ada["id"], ok=False)
    assert "manager_of is one-to-many" in result.stderr
    # restrict: a manager with reports cannot be deleted.
    result = xrm("records", "delete", boss["id"], ok=False)
    assert "manager_of restrict deleting the source" in result.stderr
    assert xrm("records", "get", boss["id"], "--json")["id"] == boss["id"]

    xrm("log", ada["id"], "--kind", "one_on_one", "--summary", "quarterly review")
    assert [a["kind"] for a in xrm("history", ada["id"], "--json")][-1] == "one_on_one"

    # A duplicate employee number is a clear conflict, not a second Ada.
    result = xrm("records", "create", "employee", "--data",
                 json.dumps({"employee_no": "E0002", "name": "Ada again", "start_date": "2024-01-08"}), ok=False)
    assert f'employee_no="E0002" already exists (record {ada["id"]})' in result.stderr


def test_automation_refuses_an_end_date_before_the_start_date(xrm, initialised, db_url):
    ada = employee(xrm, "E0002", "Ada", "2024-01-08")
    bad = {"employee_no": "E0009", "name": "Bob", "start_date": "2024-05-01", "end_date": "2024-01-31"}
    result = xrm("records", "create", "employee", "--data", json.dumps(bad), ok=False)
    assert result.exit_code == 2
    assert "an employee cannot leave before they start: end_date 2024-01-31 is before start_date 2024-05-01" \
        in result.stderr
    assert "/data/end_date: before start_date 2024-05-01" in result.stderr
    result = xrm("records", "update", ada["id"], "--data", '{"end_date": "2023-12-31"}', ok=False)
    assert result.exit_code == 2 and "cannot leave before they start" in result.stderr
    assert [r["id"] for r in xrm("records", "list", "employee", "--json")] == [ada["id"]]
    assert xrm("records", "get", ada["id"], "--json")["version"] == 1

    # Through the Python API, with the entry-point plugins of the real Platform factory.
    p = Platform(db_url)
    try:
        with pytest.raises(ValidationError) as exc:
            with p.session() as s:
                s.create("employee", bad)
        assert exc.value.errors == [{"pointer": "/data/end_date", "message": "before start_date 2024-05-01"}]
        with p.session() as s:
            left = s.update(ada["id"], {"end_date": "2025-06-30"})
        assert left.data["status"] == "left"
    finally:
        p.dispose()
    changes = xrm("history", ada["id"], "--json")[-1]["payload"]["changes"]
    assert {c["pointer"]: c["new"] for c in changes} == {"/end_date": "2025-06-30", "/status": "left"}


def test_kpis_compute_values(xrm, initialised):
    for date, status in [("2025-01-10", "completed"), ("2025-03-01", "completed"), ("2025-05-01", "planned"),
                         ("2025-06-01", "cancelled"), ("2024-11-01", "planned")]:
        xrm("records", "create", "training", "--data",
            json.dumps({"title": f"course {date}", "date": date, "status": status}))
    completion = xrm("kpi", "compute", "training_completion", "--from", "2025-01-01", "--to", "2025-12-31", "--json")
    assert (completion["value"], completion["n"], completion["unit"]) == (pytest.approx(200 / 3), 3, "percent")
    assert xrm("kpi", "compute", "training_completion", "--json")["n"] == 4

    employee(xrm, "E0001", "Grace", "2020-03-01", department="ops")
    employee(xrm, "E0002", "Ada", "2024-01-08", department="ops", end_date="2025-04-30")
    employee(xrm, "E0003", "Alan", "2023-06-01", department="labs", end_date="2024-02-29")
    employee(xrm, "E0004", "Edsger", "2025-09-01", department="labs")
    employee(xrm, "E0005", "Barbara", "2026-01-05", department="labs")
    assert xrm("kpi", "compute", "headcount", "--json")["value"] == 3

    # 2025: Grace, Ada (left in April) and Edsger (joined in September) were employed.
    attrition = xrm("kpi", "compute", "attrition", "--from", "2025-01-01", "--to", "2025-12-31",
                    "--by", "department", "--json")
    assert (attrition["value"], attrition["n"]) == (pytest.approx(100 / 3), 3)
    assert attrition["groups"] == [{"key": "labs", "value": 0.0, "n": 1},
                                   {"key": "ops", "value": 50.0, "n": 2}]
    assert xrm("kpi", "compute", "attrition", "--json")["n"] == 5
    empty = xrm("kpi", "compute", "attrition", "--from", "2010-01-01", "--to", "2010-12-31", "--json")
    assert (empty["value"], empty["n"]) == (None, 0)


def test_headcount_command_counts_within_the_callers_scope(xrm, initialised):
    xrm("units", "create", "north")
    xrm("users", "create", "lead", "--unit", "north", "--role", "team_lead", "--password", "pw")
    xrm("users", "create", "hr", "--unit", "north", "--role", "hr_partner", "--password", "pw")
    employee(xrm, "E0001", "Grace", "2020-03-01", department="ops")
    employee(xrm, "E0002", "Ada", "2024-01-08", department="ops", end_date="2025-04-30")
    for no, name, dept in [("E0003", "Alan", "labs"), ("E0004", "Edsger", "ops")]:
        xrm("records", "create", "employee", "--as", "hr", "--data",
            json.dumps({"employee_no": no, "name": name, "start_date": "2023-06-01", "department": dept}))

    assert xrm("employees", "headcount", "--json") == {"headcount": 3, "department": None}
    assert xrm("employees", "headcount", "--department", "ops", "--json") == {"headcount": 2, "department": "ops"}
    assert xrm("employees", "headcount", "--as", "lead", "--json")["headcount"] == 2  # the north unit only
    assert xrm("employees", "headcount", "--department", "ops") == "2 active employees in ops\n"
    result = xrm("employees", "headcount", "--as", "ghost", ok=False)
    assert "unknown user 'ghost'" in result.stderr


class ExitInterviews:
    """Another plugin answering the example's own hook, without importing it."""

    __name__ = "exit_interviews"

    @staticmethod
    @hookimpl(optionalhook=True)
    def xrm_employee_left(employee, session):
        if employee.data["name"] == "Mallory":
            raise ValidationError("Mallory may not leave", [{"pointer": "/data/end_date", "message": "refused"}])
        session.log(employee.id, "one_on_one", f"exit interview with {employee.data['name']}")


def test_another_plugin_answers_the_employee_left_hook(initialised, db_url):
    p = Platform(db_url, plugins=[ExitInterviews()])
    try:
        assert p.pm.get_plugin("employees") is not None
        with p.session() as s:
            ada = s.create("employee", {"employee_no": "E0002", "name": "Ada", "start_date": "2024-01-08"})
            mallory = s.create("employee", {"employee_no": "E0003", "name": "Mallory", "start_date": "2024-01-08"})
            s.update(ada.id, {"department": "ops"})  # not leaving: no announcement
        with p.session() as s:
            s.update(ada.id, {"end_date": "2025-06-30"})
        with p.session() as s:
            assert [(a["kind"], a["summary"]) for a in s.history(ada.id) if a["kind"] == "one_on_one"] == [
                ("one_on_one", "exit interview with Ada")]
        with p.connection() as conn:
            before = conn.execute(db.activities.select()).all()
        with pytest.raises(ValidationError, match="Mallory may not leave"):
            with p.session() as s:
                s.update(mallory.id, {"end_date": "2025-06-30"})
        with p.session() as s:
            assert s.get(mallory.id).data["status"] == "active"
        with p.connection() as conn:
            assert conn.execute(db.activities.select()).all() == before
    finally:
        p.dispose()
