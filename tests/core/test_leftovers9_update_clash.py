"""An ``--update-by`` row whose change gives a record a ``unique`` value another record
holds is refused with the value and the holder, as a new row's clash is: it said only
"/national_id: already used". Both ways rows change records: the batched path (a type
without record hooks) and row by row (a type with a ``before_update`` hook)."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin

from xrm_core import hookimpl
from xrm_core.importer import import_file


class Upper:
    """Upper-cases the national_id of an updated person (a before_update hook)."""

    __name__ = "upper"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_update" and isinstance(record.data.get("national_id"), str):
            record.data["national_id"] = record.data["national_id"].upper()


def _write(tmp_path, rows) -> str:
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _errors(s, path: str) -> dict:
    """{line: [(pointer, message)]} of an import by name with --skip-invalid."""
    report = import_file(s, "person", path, update_by="name", skip_invalid=True)
    return {r["line"]: [(e["pointer"], e["message"]) for e in r["errors"]] for r in report["invalid"]}


@pytest.fixture(params=["batched", "hooked"])
def p(request, make_platform):
    plugins = (PersonPlugin(), Upper()) if request.param == "hooked" else (PersonPlugin(),)
    p = make_platform(*plugins)
    with p.session() as s:
        for i in range(3):
            s.create("person", {"name": f"P{i}", "national_id": f"N{i}"})
    return p


def _id(s, name: str) -> str:
    (rec,) = s.list("person", {"name": name})
    return rec.id


def test_an_update_taking_a_used_value_names_the_value_and_the_record(p, tmp_path):
    path = _write(tmp_path, [{"name": "P0", "age": 3}, {"name": "P1", "national_id": "N2"}])
    with p.session() as s:
        assert _errors(s, path) == {
            2: [("/national_id", f'national_id "N2" is already used by record {_id(s, "P2")}')]}
        assert s.list("person", {"name": "P1"})[0].data["national_id"] == "N1"  # nothing changed


def test_a_value_taken_by_an_earlier_line_of_the_file_names_the_line(p, tmp_path):
    path = _write(tmp_path, [{"name": "New", "national_id": "N9"}, {"name": "P1", "national_id": "N9"}])
    with p.session() as s:
        assert _errors(s, path) == {2: [("/national_id", 'national_id "N9" is already used by line 1 of this file')]}


def test_a_record_outside_the_users_scope_is_not_named(p, tmp_path):
    from xrm_core import accounts
    with p.connection() as conn:
        accounts.create_unit(conn, "branch")
        accounts.save_role(conn, {"name": "own", "grants": [
            {"type": "person", "actions": ["read", "create", "update"], "depth": "own"}]})
        accounts.create_user(conn, "ann", "branch", ["own"], "pw")
    with p.session("ann") as s:
        s.create("person", {"name": "Mine", "national_id": "M1"})
    path = _write(tmp_path, [{"name": "Mine", "national_id": "N0"}])  # N0 is admin's P0
    with p.session("ann") as s:
        assert _errors(s, path) == {1: [("/national_id", 'national_id "N0" is already used by another record')]}


def test_a_value_set_by_the_hook_says_so(make_platform, tmp_path):
    p = make_platform(PersonPlugin(), Upper())
    with p.session() as s:
        s.create("person", {"name": "P0", "national_id": "N0"})
        s.create("person", {"name": "P1", "national_id": "N1"})
    path = _write(tmp_path, [{"name": "P1", "national_id": "n0"}])  # the hook makes it N0
    with p.session() as s:
        assert _errors(s, path) == {1: [("/national_id", f'national_id "N0" is already used by record '
                                                          f'{_id(s, "P0")} (set by the before_update hook of '
                                                          f"plugin 'upper')")]}
