"""cli15: avg_duration leaves out the records whose end is before their start, and says how
many it left out ("ended_before_start"), the same on SQLite and PostgreSQL, in SQL.

A case closed before it was opened (a typo in a date, clocks of two systems) was averaged
as a negative duration: it pulled the average down without a word.
"""
from __future__ import annotations

import json

import pytest

from conftest import PersonPlugin
from xrm_core import kpis
from xrm_core.plugins import hookimpl

SPAN = {"name": "span", "title_field": "label", "schema": {"type": "object", "properties": {
    "label": {"type": "string"}, "grp": {"type": "string"},
    "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}},
    "required": ["label"]}}


class SpanPlugin:
    __name__ = "testspan15"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [SPAN]


ROWS = [
    {"grp": "a", "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T02:00:00Z"},   # 2 h
    {"grp": "a", "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T04:00:00Z"},   # 4 h
    {"grp": "a", "start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"},   # -24 h: left out
    {"grp": "b", "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"},   # 0 h: counted
    {"grp": "b", "start": "2025-01-01T10:00:00Z", "end": "2025-01-01T09:59:59.999Z"},  # -1 ms: left out
    {"grp": "c", "start": "2025-01-01T00:00:00Z"},                                   # no end: not measured
]


@pytest.fixture
def platform(make_platform):
    p = make_platform(PersonPlugin(), SpanPlugin())
    with p.session() as s:
        for i, row in enumerate(ROWS):
            s.create("span", {"label": f"s{i}", **row})
    with p.connection() as conn:
        kpis.add(p, conn, {"name": "took", "unit": "hours", "entity": "span",
                           "measure": {"avg_duration": ["start", "end"]}})
        kpis.add(p, conn, {"name": "spans", "unit": "", "entity": "span", "measure": {"count": True}})
    return p


def compute(platform, name="took", by=None) -> dict:
    with platform.session(write=False) as s:
        return kpis.compute(s, name, by=by)


def test_durations_ending_before_they_start_are_left_out_and_counted(platform):
    r = compute(platform)
    assert (r["value"], r["n"], r["ended_before_start"]) == (2, 3, 2)  # (2 + 4 + 0) / 3


def test_groups_average_only_forward_durations(platform):
    r = compute(platform, by="grp")
    assert [(g["key"], g["value"], g["n"]) for g in r["groups"]] == [("a", 3, 2), ("b", 0, 1), ("c", None, 0)]
    assert r["ended_before_start"] == 2
    # each group says how many of its own it left out, only when it left some out
    assert [g.get("ended_before_start") for g in r["groups"]] == [1, 1, None]
    assert "ended_before_start" not in r["groups"][2]


def test_only_avg_duration_results_carry_the_count(platform):
    assert "ended_before_start" not in compute(platform, "spans")
    with platform.session() as s:  # none backwards: the result is as it always was
        for rec in s.list("span"):
            if rec.data["label"] in ("s2", "s4"):
                s.delete(rec.id)
    r = compute(platform)
    assert "ended_before_start" not in r and (r["value"], r["n"]) == (2, 3)


def test_the_sql_reads_no_rows_into_python(platform):
    """One aggregate query: the value, n and the count come back as one row."""
    from sqlalchemy import event
    statements = []
    engine = platform.engine

    def seen(conn, cursor, statement, *a):
        if "xrm_records" in statement:
            statements.append(statement)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        compute(platform)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    measured = [st for st in statements if "avg(" in st.lower()]
    assert len(measured) == 1 and "count(" in measured[0].lower(), statements


def test_cli_json_and_warning(platform, cli):
    result = cli("kpi", "compute", "took", "--json", plugins=[PersonPlugin(), SpanPlugin()])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["value"], doc["n"], doc["ended_before_start"]) == (2, 3, 2)
    assert "2 span records whose end is before their start are left out" in result.stderr
    grouped = json.loads(cli("kpi", "compute", "took", "--by", "grp", "--json",
                             plugins=[PersonPlugin(), SpanPlugin()]).stdout)
    assert [g.get("ended_before_start") for g in grouped["groups"]] == [1, 1, None]
    text = cli("kpi", "compute", "took", plugins=[PersonPlugin(), SpanPlugin()])
    assert text.stdout.startswith("took: 2 hours (n=3)") and "left out" in text.stderr


def test_the_openapi_document_describes_the_groups_count_too():
    from xrm_core.web.openapi import _shared_schemas
    result = _shared_schemas({})["KPIResult"]["properties"]
    assert result["groups"]["items"]["properties"]["ended_before_start"] == result["ended_before_start"]
    assert "group" in result["ended_before_start"]["description"]


def test_the_text_table_says_which_groups_left_records_out(platform, cli):
    text = cli("kpi", "compute", "took", "--by", "grp", plugins=[PersonPlugin(), SpanPlugin()])
    assert text.exit_code == 0, text.stderr
    header, *rows = text.stdout.splitlines()[1:]
    assert header.split() == ["GRP", "VALUE", "N", "ENDED", "BEFORE", "START"]
    assert [row.split() for row in rows] == [["a", "3", "2", "1"], ["b", "0", "1", "1"], ["c", "n/a", "0", "0"]]
    plain = cli("kpi", "compute", "spans", "--by", "grp", plugins=[PersonPlugin(), SpanPlugin()])
    assert "ENDED" not in plain.stdout  # a measure that leaves nothing out keeps its three columns


@pytest.mark.parametrize("value,shown", [(6e-06, "0.000006"), (1e16, "10000000000000000"), (-1.5e-05, "-0.000015"),
                                         (2.5, 2.5), (7, 7)])
def test_values_are_printed_without_exponents(value, shown):
    from xrm_core.cli.kpi_cmds import _plain
    assert _plain(value) == shown
