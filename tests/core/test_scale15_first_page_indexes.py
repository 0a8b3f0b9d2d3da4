"""Revision 0008: a record's links and its history are read a page at a time in their order.

The first page of ``related(..., limit=N)`` (order: relationship type, id) and of
``history(..., limit=N)`` (order: at, id — either way) was sorted from every link or
activity of the record: the indexes ``(source_id, type)``, ``(target_id, type)`` and
``(record_id, id)`` stopped one column short. These tests read the plan of the very
statements the session runs (captured from the driver), on a database upgraded by
``xrm init`` from revision 0007 holding data, and check the upgrade keeps every row.
"""
from __future__ import annotations

import warnings

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import event, select, text
from sqlalchemy.exc import SAWarning

from xrm_core import db, migrations

from test_migrations import _schema_diff


def _statements(p, call) -> list[tuple]:
    """``(sql, parameters)`` of every SELECT ``call(session)`` runs."""
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))
    event.listen(p.engine, "before_cursor_execute", before)
    try:
        with p.session() as s:
            call(s)
    finally:
        event.remove(p.engine, "before_cursor_execute", before)
    return seen


def _sorts(p, sql: str, params) -> bool:
    """Whether the plan of ``sql`` has a sort step (SQLite: a temporary B-tree for ORDER BY;
    PostgreSQL: a Sort node, with sorting made the planner's last resort so a table of a
    few rows does not hide which indexes can give the order)."""
    with p.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            # "USE TEMP B-TREE FOR ORDER BY", or "… FOR RIGHT PART OF ORDER BY" (the ids
            # sorted within each relationship type).
            return any("TEMP B-TREE" in line and "ORDER BY" in line for line in plan)
        conn.exec_driver_sql("SET enable_sort = off")
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params)]
        conn.rollback()
        return any(line.lstrip(" ->").startswith(("Sort", "Incremental Sort")) for line in plan)


def _page_queries(p, hub: str) -> dict:
    """The statement that reads each first page, by what it reads."""
    found = {}
    for name, call in {
        # 20: past the hub's 15 outgoing links, so the incoming ones are read too.
        "related": lambda s: s.related(hub, limit=20),
        "history oldest first": lambda s: s.history(hub, limit=5),
        "history newest first": lambda s: s.history(hub, limit=5, newest_first=True),
    }.items():
        table = "xrm_relationships" if name == "related" else "xrm_activities"
        candidates = [(q, v) for q, v in _statements(p, call) if "ORDER BY" in q and table in q]
        assert candidates, f"no ordered SELECT of {table} for {name}"
        found[name] = candidates
    assert len(found["related"]) == 2  # outgoing, incoming
    return found


def _filled(make_platform):
    """A platform with a hub person linked both ways to 30 others, with calls in its history."""
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin())
    with p.session() as s:
        hub = s.create("person", {"name": "Hub"}).id
        others = [s.create("person", {"name": f"P{i}"}).id for i in range(30)]
        for i, o in enumerate(others):
            if i % 2:
                s.relate("knows", hub, o)
            else:
                s.relate("knows", o, hub)
            s.log(hub, "call", f"call {i}")
    if p.engine.dialect.name == "postgresql":
        with p.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return p, hub


def _to_0007(p) -> None:
    with p.engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", migrations.__path__[0])
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")


def _rows(p) -> dict:
    with p.engine.connect() as conn:
        return {t.name: sorted(conn.execute(select(t)).all(), key=repr)
                for t in (db.records, db.relationships, db.activities)}


def test_the_first_pages_are_read_in_index_order(make_platform):
    p, hub = _filled(make_platform)
    for name, statements in _page_queries(p, hub).items():
        for sql, params in statements:
            assert not _sorts(p, sql, params), f"{name}: the first page is sorted from all rows\n{sql}"


def test_init_upgrades_a_0007_database_holding_data(make_platform):
    p, hub = _filled(make_platform)
    with p.session() as s:
        pages = (s.related(hub, limit=7), s.history(hub, limit=7, newest_first=True), s.history(hub, limit=7))
    _to_0007(p)
    before = _rows(p)
    # Revision 0007's indexes: every first page sorted all the hub's links or activities.
    for name, statements in _page_queries(p, hub).items():
        assert any(_sorts(p, sql, params) for sql, params in statements), name
    report = p.init()
    assert report["migrated_from"] == "0007" and report["revision"] == migrations.HEAD
    assert _rows(p) == before
    with p.engine.connect() as conn:
        assert migrations.current(conn) == migrations.HEAD
        with warnings.catch_warnings():
            # The types' expression indexes (xrm_ix_*, xrm_uq_*: not the migrations') cannot
            # be reflected; the comparison leaves them out anyway.
            warnings.simplefilter("ignore", SAWarning)
            assert _schema_diff(conn) == []
    for name, statements in _page_queries(p, hub).items():
        for sql, params in statements:
            assert not _sorts(p, sql, params), name
    with p.session() as s:
        assert (s.related(hub, limit=7), s.history(hub, limit=7, newest_first=True),
                s.history(hub, limit=7)) == pages
    # A second init changes nothing; history stays append-only after the index change.
    assert p.init()["migrated_from"] == migrations.HEAD
    with p.engine.connect() as conn, pytest.raises(Exception):
        with conn.begin():
            conn.execute(text("DELETE FROM xrm_activities"))


def test_downgrade_to_0007_restores_its_indexes(make_platform):
    p, _hub = _filled(make_platform)
    _to_0007(p)
    from sqlalchemy import inspect
    with p.engine.connect() as conn:
        found = {ix["name"]: ix["column_names"] for t in ("xrm_relationships", "xrm_activities")
                 for ix in inspect(conn).get_indexes(t)}
    assert found["ix_xrm_relationships_source"] == ["source_id", "type"]
    assert found["ix_xrm_relationships_target"] == ["target_id", "type"]
    assert found["ix_xrm_activities_record"] == ["record_id", "id"]
