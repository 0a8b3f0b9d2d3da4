"""Open items of the CLI (7th round): the ``xrm import --update-by`` report of dry runs and
refusals (text and ``--json``, CSV and JSONL), numbers in ``--where``, KPI periods, and a
plugin's Python KPI whose ``time_field`` does not fit, at ``xrm init``. Errors: stderr, a
non-zero status, no traceback, nothing on stdout."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import func

from xrm_core import KPI
from xrm_core.plugins import hookimpl

PLUGINS = (PersonPlugin(),)


@pytest.fixture
def xrm(cli):
    assert cli("init", "--admin-password", "secret", plugins=PLUGINS).exit_code == 0
    for data in ({"name": "Ann", "national_id": "001", "age": 30},
                 {"name": "Bob", "national_id": "002", "age": 40, "born": "1990-05-01"}):
        assert cli("records", "create", "person", "--data", json.dumps(data), plugins=PLUGINS).exit_code == 0

    def run(*args, **kwargs):
        return cli(*args, plugins=PLUGINS, **kwargs)
    return run


def people(xrm) -> list:
    r = xrm("records", "list", "person", "--json")
    assert r.exit_code == 0
    return sorted((p["data"]["national_id"], p["data"].get("age"), p["version"]) for p in json.loads(r.stdout))


def refused(r, *words) -> None:
    """``r`` failed as the contract says: a message on stderr, no traceback, nothing on stdout."""
    assert r.exit_code != 0
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr, (word, r.stderr)


# Ann updated, Bob unchanged, 003 created; with BAD, line 5 (CSV) / 4 (JSONL) is invalid
FILES = {
    "csv": ("national_id,name,age\n001,,31\n002,Bob,40\n003,Cy,20\n", "004,Di,-1\n"),
    "jsonl": ('{"national_id": "001", "age": 31}\n{"national_id": "002", "name": "Bob"}\n'
              '{"national_id": "003", "name": "Cy", "age": 20}\n', '{"national_id": "004", "name": "Di", "age": -1}\n'),
}


def import_file(xrm, tmp_path, fmt, *options, bad=False):
    good, invalid = FILES[fmt]
    path = tmp_path / f"p.{fmt}"
    path.write_text(good + (invalid if bad else ""), encoding="utf-8")
    return xrm("import", "person", str(path), "--update-by", "national_id", *options)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_dry_run_says_what_it_would_do(xrm, tmp_path, fmt):
    before = people(xrm)
    r = import_file(xrm, tmp_path, fmt, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("dry run: 3 rows read, 3 valid; would create 1, update 1, leave 1 unchanged; "
                        "nothing written\n")
    r = import_file(xrm, tmp_path, fmt, "--dry-run", "--json")
    assert json.loads(r.stdout) == {"total": 3, "valid": 3, "imported": 0, "invalid": [], "updated": 0,
                                    "unchanged": 0, "would": {"imported": 3, "updated": 1, "unchanged": 1}}
    assert people(xrm) == before
    # and then it does it
    r = import_file(xrm, tmp_path, fmt, "--json")
    assert json.loads(r.stdout) == {"total": 3, "valid": 3, "imported": 3, "invalid": [], "updated": 1,
                                    "unchanged": 1}
    assert people(xrm) == [("001", 31, 2), ("002", 40, 1), ("003", 20, 1)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_dry_run_skipping_invalid_rows(xrm, tmp_path, fmt):
    r = import_file(xrm, tmp_path, fmt, "--dry-run", "--skip-invalid", bad=True)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("dry run: 4 rows read, 3 valid; would create 1, update 1, leave 1 unchanged; "
                        "nothing written\n")
    assert r.stderr.startswith("1 invalid row would be skipped:\n")
    report = json.loads(import_file(xrm, tmp_path, fmt, "--dry-run", "--skip-invalid", "--json", bad=True).stdout)
    assert (report["updated"], report["would"]) == (0, {"imported": 3, "updated": 1, "unchanged": 1})


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)])
def test_a_refused_import_counts_nothing_as_updated(xrm, tmp_path, fmt, dry_run):
    before = people(xrm)
    r = import_file(xrm, tmp_path, fmt, *dry_run, bad=True)
    refused(r, "1 of 4 rows are invalid", "/age")
    r = import_file(xrm, tmp_path, fmt, *dry_run, "--json", bad=True)
    assert r.exit_code != 0 and "Traceback" not in r.stderr
    report = json.loads(r.stdout)  # the refused report, then the error on stderr
    assert (report["valid"], report["imported"], report["updated"], report["unchanged"]) == (3, 0, 0, 0)
    assert report.get("would") == ({"imported": 0, "updated": 0, "unchanged": 0} if dry_run else None)
    assert people(xrm) == before


@pytest.mark.parametrize("where, field, value", [
    ("age=١٢٣", "age", "'١٢٣'"), ("age<1_000", "age", "'1_000'"), ("age>=+5", "age", "'+5'"),
    ("score>infinity", "score", "'infinity'"), ("score!=nan", "score", "'nan'"),
    ("age=99999999999999999999", "age", "99999999999999999999"), ("score<1e400", "score", "1e400"),
])
@pytest.mark.parametrize("command", [("records", "list", "person", "--json"), ("export", "person")])
def test_where_refuses_what_is_no_number_naming_field_and_value(xrm, where, field, value, command):
    refused(xrm(*command, "--where", where), f"invalid filter: {value} for {field} ")


def test_where_numbers_in_json_spelling(xrm):
    for where, found in ((["age=30"], ["001"]), (["age>3e1"], ["002"]), (["age= 40"], ["002"]),
                         (["national_id=002"], ["002"]), (["age>=30", "age<4E1"], ["001"])):
        r = xrm("records", "list", "person", "--json", *[x for w in where for x in ("--where", w)])
        assert r.exit_code == 0, r.stderr
        assert [p["data"]["national_id"] for p in json.loads(r.stdout)] == found, where


class EventCount(KPI):
    name = "event_count"
    entity = "person"
    time_field = "when"  # person has no such field

    def compute(self, ctx):
        return ctx.measure("person", func.count(), func.count())


class BadKpiPlugin:
    __name__ = "badkpi"

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [EventCount()]


def test_init_names_the_plugin_kpi_and_field_of_a_time_field_that_does_not_fit(cli):
    r = cli("init", "--admin-password", "secret", plugins=(PersonPlugin(), BadKpiPlugin()))
    refused(r, "plugin 'badkpi'", "KPI 'event_count'", "time_field 'when'", "not a field of person",
            "/time_field")
    # init is one transaction: nothing of it stays
    refused(cli("types", "list", plugins=(PersonPlugin(),)), "not initialised")


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize("day", ["٢٠٢٤-٠١-٠١", "２０２４-01-01", "2024-01-01 "])
def test_kpi_periods_take_iso_dates_in_ascii_digits(xrm, tmp_path, option, day):
    path = tmp_path / "k.json"
    path.write_text('{"name": "births", "entity": "person", "time_field": "born", "measure": {"count": true}}',
                    encoding="utf-8")
    assert xrm("kpi", "add", str(path)).exit_code == 0
    refused(xrm("kpi", "compute", "births", option, day, "--json"), "YYYY-MM-DD", repr(day))
    r = xrm("kpi", "compute", "births", option, "1990-05-01", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["n"] == 1
