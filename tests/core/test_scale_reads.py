"""Reads of all the records of a type in keyset pages (``xrm export``, the stored-record check
of ``xrm types update``) stay linear on PostgreSQL. Each page (``type = T AND id > last ORDER
BY id LIMIT n``) is planned on its own; on a table never analyzed (filled by one import,
autovacuum not round yet or off) PostgreSQL guessed a few rows of the type and read and
sorted every record of the type after ``last`` for each page (18 ms for a page of 2,000 at
40k records). A read of more than one page now has the table analyzed first if it never
was (``db.GrowthStatistics`` with ``reads``). No timed tests: these check the statistics
and the plan the pages get, and that every record is still read once."""
from __future__ import annotations

import io
import json

import pytest
from conftest import PERSON, PersonPlugin

from xrm_core import entity_types, exporter, importer


def reltuples(conn) -> float:
    return conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'xrm_records'::regclass").scalar()


@pytest.fixture
def p(make_platform, tmp_path):
    p = make_platform(PersonPlugin())
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"name": f"P{i}", "national_id": f"n{i:05d}"}) + "\n" for i in range(250)))
    with p.session() as s:
        importer.import_file(s, "person", str(path))
    return p


def never_analyzed(p) -> None:
    if p.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    with p.engine.connect() as conn:
        assert reltuples(conn) < 0  # a table filled by one import, never analyzed


def page_plan(conn) -> str:
    last = conn.exec_driver_sql("SELECT min(id) FROM xrm_records").scalar()
    return "\n".join(r[0] for r in conn.exec_driver_sql(
        "EXPLAIN SELECT id, data FROM xrm_records WHERE type = 'person' AND id > %s ORDER BY id LIMIT 50", (last,)))


def test_export_pages_read_every_record_once(p):
    # several pages, on both engines: nothing read twice or left out
    with p.session() as s:
        out = io.StringIO()
        assert exporter.export(s, "person", out, batch=40) == 250
    ids = [json.loads(line)["national_id"] for line in out.getvalue().splitlines()]
    assert ids == sorted(ids) and len(set(ids)) == 250


def test_an_export_of_several_pages_has_a_never_analyzed_table_analyzed(p):
    never_analyzed(p)
    with p.session() as s:
        assert exporter.export(s, "person", io.StringIO(), batch=40) == 250
    with p.engine.connect() as conn:
        assert reltuples(conn) >= 250
        # a page reads in id order from the primary key and stops at its LIMIT (before: every
        # record of the type after `last`, then a sort)
        assert "Sort" not in page_plan(conn)


def test_an_export_of_one_page_does_not_analyze(p):
    never_analyzed(p)
    with p.session() as s:
        assert exporter.export(s, "person", io.StringIO(), batch=500) == 250
    with p.engine.connect() as conn:
        assert reltuples(conn) < 0


def test_a_type_change_checking_many_records_has_a_never_analyzed_table_analyzed(p):
    never_analyzed(p)
    changed = json.loads(json.dumps(PERSON))
    changed["schema"]["properties"]["nickname"] = {"type": "string"}
    with p.engine.connect() as conn:
        report = entity_types.impact(conn, entity_types.EntityType(changed), batch=40)
        assert (report["checked"], report["invalid"]) == (250, 0)
        conn.rollback()
    with p.engine.connect() as conn:
        assert reltuples(conn) >= 250
