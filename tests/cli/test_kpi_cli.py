"""``xrm kpi list | add FILE | compute NAME``: JSON output, scope with --as, clear errors."""
from __future__ import annotations

import json

import pytest

from xrm_core.plugins import hookimpl

from conftest import PersonPlugin

AVG_AGE = {"name": "avg_age", "label": {"en": "Average age", "fa": "میانگین سن"}, "unit": "years",
           "higher_is_better": False, "entity": "person", "time_field": "born", "measure": {"avg": "age"}}


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """These tests log nobody in: spare the 0.4 s of a real argon2 hash per user."""
    from argon2 import PasswordHasher
    from xrm_core import accounts
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def xrm(cli):
    """The CLI with the person test plugin."""
    def run(*args, plugins=()):
        return cli(*args, plugins=[PersonPlugin(), *plugins])
    return run


class PersonKPIPlugin:
    """Declares KPI ``people`` over the person type (which PersonPlugin provides)."""

    __name__ = "testpeople"

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "people", "entity": "person", "time_field": "born", "measure": {"count": True}}]


@pytest.fixture
def people(org):
    """Persons born in 1990 and 2000 in dealer_a, dealer_b and hq."""
    with org.session() as s:
        for unit, age, vip, born in [("dealer_a", 30, True, "2000-01-01"), ("dealer_a", 40, False, "2000-12-31"),
                                     ("dealer_b", 50, True, "2000-06-15"), ("hq", 60, False, "1990-01-01"),
                                     ("dealer_b", 70, True, "2001-01-01")]:
            s.create("person", {"name": "p", "age": age, "vip": vip, "born": born}, unit=unit)
    return org


def write(tmp_path, definition, name="kpi.json"):
    path = tmp_path / name
    path.write_text(definition if isinstance(definition, str) else json.dumps(definition), encoding="utf-8")
    return path


def listed(xrm) -> list[dict]:
    r = xrm("kpi", "list", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_add_list_compute(people, xrm, tmp_path):
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE))
    assert r.exit_code == 0, r.stderr
    assert "avg_age" in r.stdout
    items = listed(xrm)
    assert isinstance(items, list)
    kpi = next(k for k in items if k["name"] == "avg_age")
    assert kpi["source"] == "admin" and kpi["entity"] == "person" and kpi["unit"] == "years"
    assert kpi["measure"] == {"avg": "age"} and kpi["label"] == AVG_AGE["label"]

    r = xrm("kpi", "compute", "avg_age", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"kpi": "avg_age", "value": 50, "unit": "years", "n": 5,
                                    "from": None, "to": None, "groups": []}
    r = xrm("kpi", "compute", "avg_age", "--from", "2000-01-01", "--to", "2000-12-31", "--by", "vip", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {
        "kpi": "avg_age", "value": 40, "unit": "years", "n": 3, "from": "2000-01-01", "to": "2000-12-31",
        "groups": [{"key": False, "value": 40, "n": 1}, {"key": True, "value": 40, "n": 2}]}


def test_compute_as_users(people, xrm, tmp_path):
    assert xrm("kpi", "add", write(tmp_path, AVG_AGE)).exit_code == 0
    expected = {"admin": (50, 5), "manager_a": (35, 2), "manager_b": (60, 2), "north_lead": (35, 2),
                "analyst": (50, 5), "agent_a": (None, 0)}
    for user, (value, n) in expected.items():
        r = xrm("kpi", "compute", "avg_age", "--as", user, "--json")
        assert r.exit_code == 0, (user, r.stderr)
        out = json.loads(r.stdout)
        assert (out["value"], out["n"]) == (value, n), user
    r = xrm("kpi", "compute", "avg_age", "--as", "nobody", "--json")   # no grant on person
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == "error: 'nobody' may not read person records, which KPI 'avg_age' measures\n"
    r = xrm("kpi", "compute", "avg_age", "--as", "manager_b", "--to", "2000-12-31", "--by", "age", "--json")
    assert json.loads(r.stdout)["groups"] == [{"key": 50, "value": 50, "n": 1}]


def test_compute_text_output(people, xrm, tmp_path):
    assert xrm("kpi", "add", write(tmp_path, AVG_AGE)).exit_code == 0
    r = xrm("kpi", "compute", "avg_age", "--from", "2000-01-01", "--by", "vip")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "avg_age from 2000-01-01 to …: 47.5 years (n=4)"
    assert lines[1].split() == ["VIP", "VALUE", "N"]
    assert [line.split() for line in lines[2:]] == [["false", "40", "1"], ["true", "50", "3"]]
    r = xrm("kpi", "compute", "avg_age", "--as", "agent_a")
    assert r.stdout.strip() == "avg_age: n/a years (n=0)"
    ppm = {"name": "vip_ppm", "entity": "person", "measure": {"share": {"vip": True}}, "scale": 1000000}
    assert xrm("kpi", "add", write(tmp_path, ppm)).exit_code == 0
    r = xrm("kpi", "compute", "vip_ppm", "--by", "born")
    assert r.stdout.splitlines()[0] == "vip_ppm: 600000 (n=5)"     # 3 of 5, not 6e+05
    assert r.stdout.splitlines()[2].split() == ["1990-01-01", "0", "1"]


BAD_FILES = [
    ('{"name": "x",\n "entity": "person", "measure": {"count": true},,}', "kpi.json:2:"),
    ('[1, 2]', "must be a JSON object"),
    ({"name": "x", "entity": "person", "measure": {"count": True}, "colour": "red"}, "colour"),
    ({"name": "x", "entity": "person", "measure": {"avg": "nope"}}, "/measure/avg"),
    ({"name": "x", "entity": "person", "measure": {"avg": "name"}}, "/measure/avg"),
    ({"name": "x", "entity": "ghost", "measure": {"count": True}}, "/entity"),
    ({"name": "x", "entity": "person", "time_field": "when", "measure": {"count": True}}, "/time_field"),
    ({"name": "x", "entity": "person", "time_field": "email", "measure": {"count": True}},
     "/time_field: 'email' is a string of format email"),
    ({"name": "x", "entity": "person", "time_field": "age", "measure": {"count": True}},
     "/time_field: 'age' is integer"),
    ({"name": "x", "entity": "person", "measure": {"avg_duration": ["born", "email"]}},
     "/measure/avg_duration/1: 'email' is a string of format email"),
    ({"name": "x", "entity": "person", "measure": {"avg": "age"}, "in": "hours"},
     "/in: only avg_duration takes a time unit, not avg"),
    ({"name": "x", "entity": "person", "where": {"age": {"gt": "old"}}, "measure": {"count": True}},
     "/where/age/gt"),
    ({"name": "x", "entity": "person", "measure": {"ratio": {"numerator": {"vip": True}}}}, "/measure"),
]


def test_bad_kpi_file_is_refused_and_stores_nothing(people, xrm, tmp_path):
    before = listed(xrm)
    for content, expected in BAD_FILES:
        r = xrm("kpi", "add", write(tmp_path, content))
        assert r.exit_code != 0
        assert r.stdout == ""
        assert r.stderr.startswith("error: ") and expected in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert listed(xrm) == before


def test_add_says_when_it_replaces(people, xrm, tmp_path):
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE))
    assert (r.exit_code, r.stdout, r.stderr) == (0, "KPI 'avg_age' added\n", "")
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE | {"measure": {"sum": "age"}}))
    assert (r.exit_code, r.stdout, r.stderr) == (0, "KPI 'avg_age' replaced\n", "")
    assert json.loads(xrm("kpi", "compute", "avg_age", "--json").stdout)["value"] == 250  # the replacement counts
    # --json: one document, saying whether it replaced
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE), "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["replaced"] is True and out["measure"] == {"avg": "age"} and out["source"] == "admin"
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE | {"name": "avg_age_2"}), "--json")
    assert json.loads(r.stdout)["replaced"] is False
    assert [k["name"] for k in listed(xrm) if k["source"] == "admin"] == ["avg_age", "avg_age_2"]


def test_a_plugin_kpi_cannot_be_replaced(people, xrm, tmp_path):
    mine = {"name": "people", "entity": "person", "measure": {"sum": "age"}}
    for args in ([], ["--json"]):
        r = xrm("kpi", "add", write(tmp_path, mine), *args, plugins=[PersonKPIPlugin()])
        assert r.exit_code == 1 and r.stdout == ""
        assert r.stderr.startswith("error: KPI 'people' is provided by plugin 'testpeople'"), r.stderr
        assert "/name" in r.stderr and "Traceback" not in r.stderr
    r = xrm("kpi", "list", "--json", plugins=[PersonKPIPlugin()])
    assert [(k["source"], k["measure"]) for k in json.loads(r.stdout) if k["name"] == "people"] == \
        [("testpeople", {"count": True})]
    r = xrm("kpi", "compute", "people", "--json", plugins=[PersonKPIPlugin()])
    assert json.loads(r.stdout)["value"] == 5  # still the plugin's count, not a sum of ages
    assert all(k["name"] != "people" for k in listed(xrm))  # nothing stored that a later init would hide


def test_missing_file_and_non_admin(people, xrm, tmp_path):
    r = xrm("kpi", "add", tmp_path / "nope.json")
    assert r.exit_code != 0 and "nope.json" in r.stderr
    r = xrm("kpi", "add", write(tmp_path, AVG_AGE), "--as", "manager_a")
    assert r.exit_code != 0 and "not an administrator" in r.stderr
    assert all(k["name"] != "avg_age" for k in listed(xrm))


def test_compute_errors(people, xrm, tmp_path):
    assert xrm("kpi", "add", write(tmp_path, AVG_AGE)).exit_code == 0
    for args, expected in [(["--from", "2024-02-30"], "/from"), (["--to", "31.12.2024"], "/to"),
                           (["--from", "2024-03-02", "--to", "2024-03-01"], "/from"),
                           (["--by", "nope"], "/by"), (["--by", "tags"], "/by"),
                           (["--by", ""], "/by"), (["--from", ""], "/from"), (["--to", ""], "/to")]:
        r = xrm("kpi", "compute", "avg_age", *args, "--json")
        assert r.exit_code == 2, (args, r.stderr)
        assert r.stdout == "" and expected in r.stderr, (args, r.stderr)
    r = xrm("kpi", "compute", "ghost", "--json")
    assert r.exit_code == 1 and "unknown KPI 'ghost'" in r.stderr and r.stdout == ""
    r = xrm("kpi", "compute", "avg_age", "--as", "nobody_at_all", "--json")
    assert r.exit_code != 0 and "nobody_at_all" in r.stderr and r.stdout == ""
