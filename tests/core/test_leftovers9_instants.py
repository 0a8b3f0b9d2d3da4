"""A date-time whose instant no ordering can hold — its UTC time outside the years
0001–9999 (``9999-12-31T23:59:59-05:00`` is in the year 10000 in UTC), the year 0000, an
offset beyond ±14:59 — passed validation, then matched no filter and sorted last on both
engines. It is refused where it is written, at its pointer, saying why; the date-times
next to those limits still name their instants and order by them."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin

from xrm_core import ValidationError, hookimpl
from xrm_core.importer import import_file

EVENT = {"name": "event", "indexes": ["at"], "schema": {
    "type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                                     "seen": {"type": "array", "items": {"type": "string", "format": "date-time"}}}}}

REFUSED = {
    "9999-12-31T23:59:59-05:00": "is after 9999-12-31T23:59:59Z in UTC: a date-time must fall within the years "
                                 "0001–9999 in UTC",
    "0001-01-01T00:00:00+01:00": "is before 0001-01-01T00:00:00Z in UTC: a date-time must fall within the years "
                                 "0001–9999 in UTC",
    "0000-06-01T00:00:00Z": "is in the year 0000: a date-time must fall within the years 0001–9999 in UTC",
    "2026-01-01T00:00:00+15:00": "has the offset +15:00: a date-time's offset must be within ±14:59 (no time zone "
                                 "is further from UTC)",
}


class Events:
    __name__ = "events"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [EVENT]


@pytest.fixture
def p(make_platform):
    return make_platform(PersonPlugin(), Events())


@pytest.mark.parametrize("value", sorted(REFUSED))
def test_a_date_time_naming_no_instant_is_refused_at_its_pointer(p, value):
    with pytest.raises(ValidationError) as e:
        with p.session() as s:
            s.create("event", {"at": value, "seen": ["2026-01-01T00:00:00Z", value]})
    assert e.value.errors == [{"pointer": "/data/at", "message": f"{json.dumps(value)} {REFUSED[value]}"},
                              {"pointer": "/data/seen/1", "message": f"{json.dumps(value)} {REFUSED[value]}"}]
    with p.session(write=False) as s:
        assert s.list("event") == []


def test_an_import_reports_such_a_row_and_an_update_is_refused(p, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"at": "2026-03-01T00:00:00Z"}\n{"at": "9999-12-31T23:59:59-05:00"}\n', encoding="utf-8")
    with p.session() as s:
        report = import_file(s, "event", str(path), skip_invalid=True)
        assert report["invalid"] == [{"line": 2, "errors": [
            {"pointer": "/at", "message": '"9999-12-31T23:59:59-05:00" ' + REFUSED["9999-12-31T23:59:59-05:00"]}]}]
        (rec,) = s.list("event")
    with pytest.raises(ValidationError) as e:
        with p.session() as s:
            s.update(rec.id, {"at": "0001-01-01T00:00:00+01:00"})
    assert [x["pointer"] for x in e.value.errors] == ["/data/at"]


def test_the_date_times_next_to_the_limits_are_kept_and_ordered_by_their_instants(p):
    with pytest.raises(ValidationError):  # a minute west of the last one: in the year 10000
        with p.session() as s:
            s.create("event", {"at": "9999-12-31T23:59:59-00:01"})
    values = ["9999-12-31T10:00:00+05:00", "0001-01-01T00:00:00-01:00", "2026-01-01T00:00:00+14:59",
              "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-01-01T00:00:00-14:59"]
    with p.session() as s:
        for v in values:
            s.create("event", {"at": v})
    with p.session(write=False) as s:
        ordered = [r.data["at"] for r in s.list("event", sort=["at"])]
        assert ordered == ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00", "2026-01-01T00:00:00+14:59",
                           "2026-01-01T00:00:00-14:59", "9999-12-31T10:00:00+05:00", "9999-12-31T23:59:59Z"]
        late = s.list("event", {"at": {"gt": "9999-12-31T00:00:00Z"}}, sort=["at"])
        assert [r.data["at"] for r in late] == ["9999-12-31T10:00:00+05:00", "9999-12-31T23:59:59Z"]
