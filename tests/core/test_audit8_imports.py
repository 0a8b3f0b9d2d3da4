"""Acceptance audit 8 (a blood-donation service's migration): ``xrm import --update-by``
files that mix new records with rows changing a ``unique`` field of stored ones, with and
without record hooks, on both engines."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin

from xrm_core import ValidationError, for_types, hookimpl
from xrm_core.importer import import_file


class _Hooked(PersonPlugin):
    """The person plugin with a record hook on persons: its imports go row by row."""

    __name__ = "hookedperson"

    @staticmethod
    @hookimpl
    @for_types("person")
    def xrm_record_event(event, record):
        pass


@pytest.fixture(params=["batched", "hooked"])
def p(request, make_platform):
    return make_platform(PersonPlugin() if request.param == "batched" else _Hooked())


def _write(tmp_path, rows) -> str:
    path = tmp_path / "donors.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _ids(s) -> dict:
    return {r.data["name"]: r.data.get("national_id") for r in s.list("person")}


def test_a_new_record_takes_a_unique_value_before_a_later_row_updating_another_record(p, tmp_path):
    """Line 1 creates a record with national_id n09, line 2 would give the stored P2 the
    same value: row by row, line 1 takes it and line 2 is refused. Was the other way round:
    the update was written before the held new record, so line 1 was refused "already used
    by record <P2>" — a value P2 only had through line 2 of the same file."""
    with p.session() as s:
        s.create("person", {"name": "P2", "national_id": "n02"})
    path = _write(tmp_path, [{"name": "New", "national_id": "n09"},
                             {"name": "P2", "national_id": "n09"}])
    with pytest.raises(ValidationError) as e:
        with p.session() as s:
            import_file(s, "person", path, update_by="name")
    assert [r["line"] for r in e.value.extra["report"]["invalid"]] == [2]
    with p.session() as s:
        report = import_file(s, "person", path, update_by="name", skip_invalid=True)
    assert [r["line"] for r in report["invalid"]] == [2]
    (error,) = report["invalid"][0]["errors"]
    assert error["pointer"] == "/national_id"
    with p.session(write=False) as s:
        assert _ids(s) == {"P2": "n02", "New": "n09"}
