"""KPI audit: values checked by hand on data sets of their own, the same on both engines.

Durations to the millisecond, date-times that are not RFC 3339 in a plain string time field,
the median's groups without values, and groups by a field of no single JSON type.
Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, on PostgreSQL.
"""
from __future__ import annotations

import pytest

from xrm_core import kpis
from xrm_core.plugins import hookimpl

from conftest import PersonPlugin

SPAN = {
    "name": "span", "title_field": "label",
    "schema": {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "grp": {"type": "string", "enum": ["a", "b", "c"]},
            "lvl": {"type": "integer"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "begin_text": {"type": "string"},  # a time field of no format: anything can be in it
            "end_text": {"type": "string"},
            "anything": {},
        },
        "required": ["label"],
    },
}


class SpanPlugin:
    __name__ = "testspan"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [SPAN]


@pytest.fixture
def platform(make_platform):
    return make_platform(PersonPlugin(), SpanPlugin())


def load(platform, *rows):
    with platform.session() as s:
        for i, row in enumerate(rows):
            s.create("span", {"label": f"s{i}", **row})


def compute(platform, measure: dict, by=None, **extra) -> dict:
    with platform.connection() as conn:
        kpis.add(platform, conn, {"name": "k", "unit": "u", "entity": "span", "measure": measure, **extra})
    with platform.session(write=False) as s:
        return kpis.compute(s, "k", by=by)


# -- durations --------------------------------------------------------------------------
def test_durations_are_exact_to_the_millisecond(platform):
    """SQLite read each end as float seconds from a Julian day: 0.25 s came out 0.249969."""
    load(platform,
         {"start": "2024-03-01T08:00:00Z", "end": "2024-03-01T08:00:00.250Z"},           # 0.25 s
         {"start": "2024-03-01T08:00:00.123Z", "end": "2024-03-01T09:00:00.456+00:00"},  # 3600.333 s
         {"start": "2025-01-01T00:00:00+05:30", "end": "2025-01-01T00:00:00Z"},          # 19800 s
         {"start": "2025-01-01T00:00:00.5Z", "end": "2025-01-01T00:00:00.9Z"})           # 0.4 s
    r = compute(platform, {"avg_duration": ["start", "end"]}, **{"in": "seconds"})
    assert (r["value"], r["n"]) == (5850.24575, 4)            # (0.25 + 3600.333 + 19800 + 0.4) / 4
    r = compute(platform, {"avg_duration": ["start", "end"]}, where={"label": "s0"}, **{"in": "seconds"})
    assert (r["value"], r["n"]) == (0.25, 1)
    r = compute(platform, {"avg_duration": ["start", "end"]}, where={"label": "s0"}, **{"in": "minutes"})
    assert r["value"] == round(0.25 / 60, 6)


START = "2025-01-01T00:00:00Z"
# (end as stored in a plain string field, hours after START or None when it is not a time)
ENDS = [
    ("2025-01-02", 24),
    ("2025-01-01T10:00", 10),
    ("2025-01-01 10:00:00", 10),
    ("2025-01-01t10:00:00z", 10),
    ("2025-01-01T10:00:00+14:00", -4),
    ("2025-01-01T10:00:00-00:00", 10),
    ("2025-01-01T10:00:00.5+01:00", 9 + 0.5 / 3600),
    ("2024-02-29T00:00:00Z", -7368),                # a leap day: 307 days before
    ("2025-02-30", None),                           # PostgreSQL's cast failed the whole query
    ("2025-02-29T10:00:00Z", None),
    ("2025-13-01", None),
    ("2025-01-32", None),
    ("0000-01-01", None),
    ("2025-01-01T10:60:00Z", None),
    ("2025-01-01T24:00:00Z", None),
    ("2025-01-01T23:59:60Z", None),
    ("2025-01-01T10:00:00-23:59", None),
    ("2025-01-01T10:00:00+0100", None),             # RFC 3339 writes the colon (SQLite needs it)
    ("2025-01-01T10:00:00+01", None),
    ("12:30", None),                                # SQLite read these as times
    ("now", None),
    ("2460000.5", None),
    ("2025-01-01T10:00:00Z ", None),
    ("2025-01-01 10:00:00 +01:00", None),
    ("soon", None),
]


def test_duration_ends_read_alike_on_both_engines(platform):
    load(platform, *({"grp": "a", "begin_text": START, "end_text": end, "lvl": i} for i, (end, _) in enumerate(ENDS)))
    for i, (end, hours) in enumerate(ENDS):
        r = compute(platform, {"avg_duration": ["begin_text", "end_text"]}, where={"lvl": i})
        # An end before the start has no duration: left out, and counted apart (cli15).
        expected = (None, 0) if hours is None or hours < 0 else (round(hours, 6), 1)
        assert (r["value"], r["n"]) == expected, end
        assert r.get("ended_before_start") == (1 if hours is not None and hours < 0 else None), end
    r = compute(platform, {"avg_duration": ["begin_text", "end_text"]})
    valid = [h for _, h in ENDS if h is not None and h >= 0]
    assert (r["value"], r["n"]) == (round(sum(valid) / len(valid), 6), len(valid))
    assert r["ended_before_start"] == sum(1 for _, h in ENDS if h is not None and h < 0) > 0
    # a start that is no time leaves the record out too
    load(platform, {"begin_text": "2025-02-30", "end_text": "2025-03-01", "lvl": 99})
    assert compute(platform, {"avg_duration": ["begin_text", "end_text"]}, where={"lvl": 99})["n"] == 0


# -- median groups ----------------------------------------------------------------------
def test_median_keeps_groups_without_values_like_the_other_measures(platform):
    load(platform, {"grp": "a", "lvl": 1}, {"grp": "a", "lvl": 3}, {"grp": "b", "lvl": 5},
         {"grp": "c"}, {"lvl": 7}, {"lvl": 8})
    expected_groups = {"median": [2, 5, None, 7.5], "avg": [2, 5, None, 7.5], "sum": [4, 5, None, 15]}
    for kind, values in expected_groups.items():
        r = compute(platform, {kind: "lvl"}, by="grp")
        assert r["groups"] == [{"key": k, "value": v, "n": n}
                               for k, v, n in zip(["a", "b", "c", None], values, [2, 1, 0, 2])], kind
    r = compute(platform, {"median": "lvl"}, by="grp")
    assert (r["value"], r["n"]) == (5, 5)                       # 1 3 [5] 7 8
    r = compute(platform, {"median": "lvl"}, where={"grp": "c"})
    assert (r["value"], r["n"]) == (None, 0)


# -- group keys -------------------------------------------------------------------------
def test_groups_by_a_field_of_no_single_type_keep_each_json_value(platform):
    """PostgreSQL read every value as text (5 and "5" one group, true as "true"); SQLite read
    true as 1 and an object as its text, and made JSON null a second null group. An object
    is its own key (not its JSON text, which the string '{"a":[1,2],"b":1}' would share)."""
    load(platform, {"anything": 5}, {"anything": "5"}, {"anything": True}, {"anything": 2.5},
         {"anything": {"b": 1, "a": [1, 2]}}, {"anything": None}, {}, {"anything": "x"}, {"anything": 5})
    r = compute(platform, {"count": True}, by="anything")
    assert r["n"] == 9
    assert r["groups"] == [{"key": True, "value": 1, "n": 1}, {"key": 2.5, "value": 1, "n": 1},
                           {"key": 5, "value": 2, "n": 2}, {"key": "5", "value": 1, "n": 1},
                           {"key": "x", "value": 1, "n": 1},
                           {"key": {"a": [1, 2], "b": 1}, "value": 1, "n": 1},
                           {"key": None, "value": 2, "n": 2}]
    r = compute(platform, {"median": "lvl"}, by="anything")
    assert [g["key"] for g in r["groups"]] == [True, 2.5, 5, "5", "x", {"a": [1, 2], "b": 1}, None]
