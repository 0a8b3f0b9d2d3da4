"""Upgrading a database made before date-time fields compared as instants (revision 0005,
text-expression indexes) with ``xrm init``: an admin's type (synced by no plugin), with a
unique date-time key, relationships, history, an admin KPI and an API token.

tests/core/test_datetime_instants.py checks a plugin's type is re-indexed; this file checks
what the upgrade must keep (data and history byte for byte, KPI values, tokens), that a
second init is a no-op, and that an upgrade the new unique index cannot take fails naming
the records and leaves the database exactly as it was.
"""
from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from xrm_core import accounts, db, entity_types, fields, kpis, migrations, relationships
from xrm_core.errors import Conflict

from test_datetime_instants import list_plan

SHIFT = {
    "name": "shift", "title_field": "title", "indexes": ["starts_at"], "unique": ["slot"],
    "schema": {"type": "object", "properties": {
        "title": {"type": "string"},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "slot": {"type": "string", "format": "date-time"}}},
}
KPI = {"name": "shift_hours", "label": "Shift hours", "unit": "hours", "higher_is_better": True,
       "entity": "shift", "time_field": "starts_at",
       "measure": {"avg_duration": ["starts_at", "ends_at"]}, "in": "hours"}
#: Mixed offsets; in instant order: s1 (22:30Z), s4 (22:45Z), s3 (00:00Z), s5 (00:10Z), s2 (04:30Z)
STARTS = ["2026-03-01T02:00:00+03:30", "2026-02-28T23:30:00-05:00", "2026-03-01T08:00:00+08:00",
          "2026-02-28T22:45:00Z", "2026-03-01T00:10:00Z"]
BY_INSTANT = ["s1", "s4", "s3", "s5", "s2"]


def _to_old_release(p, definition=SHIFT):
    """Revision 0005 and the text-expression indexes the previous release built."""
    with p.connection() as conn:
        config = Config()
        config.set_main_option("script_location", migrations.__path__[0])
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
        et = entity_types.EntityType(definition, entity_types.get(conn, "shift").version, "admin")
        old_sql_type = fields.sql_type
        fields.sql_type = lambda et, f: et.field_type(f)  # the previous release: text
        try:
            entity_types.apply_indexes(conn, "shift", et)
        finally:
            fields.sql_type = old_sql_type


def _catalog(p) -> list:
    """The schema objects of the database (tables, indexes, triggers, functions)."""
    with p.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return sorted(conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all(), key=repr)
        return sorted(conn.execute(text(
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "UNION ALL SELECT 'function', p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
            "WHERE p.pronamespace = current_schema()::regnamespace "
            "UNION ALL SELECT 'trigger', tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND NOT t.tgisinternal")).all(), key=repr)


def _rows(p) -> dict:
    """Every row of the tables the upgrade must not touch, as the database returns them."""
    tables = [db.records, db.activities, db.relationships, db.entity_types, db.tokens, db.users]
    # Columns a later revision adds (xrm_users.time_zone, 0007) are not in a 0005 database.
    later = {"time_zone"}
    with p.engine.connect() as conn:
        return {t.name: sorted(conn.execute(select(*[c for c in t.c if c.name not in later])).all(), key=repr)
                for t in tables}


def _revision(p) -> str | None:
    with p.engine.connect() as conn:
        return migrations.current(conn)


def _function_schema(p) -> list:
    """The schema xrm_instant is in, among those on the search path (the core tables' first)."""
    with p.engine.connect() as conn:
        return conn.execute(text(
            "SELECT n.nspname = current_schema() FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace "
            "WHERE f.proname = 'xrm_instant' AND n.nspname = ANY(current_schemas(false))")).scalars().all()


@pytest.fixture
def old(make_platform):
    """A database as the previous release left it, and what it must still hold after."""
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, SHIFT)
        relationships.save(conn, {"name": "shift_next", "label": "Next", "source": "shift", "target": "shift",
                                  "cardinality": "many-to-many", "inverse_label": "Previous",
                                  "on_delete": "unlink"}, {"shift"})
        kpis.add(p, conn, KPI)
        token = accounts.create_token(conn, "admin")
    ids = []
    with p.session() as s:
        for i, v in enumerate(STARTS, 1):
            ids.append(s.create("shift", {"title": f"s{i}", "starts_at": v, "slot": v,
                                          "ends_at": "2026-03-01T12:00:00Z"}).id)
        s.update(ids[0], {"title": "s1"})  # a no-op change: history as it is
        s.update(ids[1], {"ends_at": "2026-03-01T13:00:00+01:00"})
        s.relate("shift_next", ids[0], ids[1])
    _to_old_release(p)
    with p.session() as s:
        kpi = kpis.compute(s, "shift_hours")
    return p, ids, token, kpi


def test_upgrade_keeps_data_history_kpis_and_tokens_and_rebuilds_indexes(old):
    p, ids, token, kpi = old
    before_rows, before_indexes = _rows(p), _stored_indexes(p)
    assert _revision(p) == "0005"
    report = p.init()
    assert report["migrated_from"] == "0005" and report["revision"] == migrations.HEAD
    if p.engine.dialect.name == "postgresql":
        assert _function_schema(p) == [True]  # created where the core tables are
    after_indexes = _stored_indexes(p)
    assert len(after_indexes) == len(before_indexes) == 2 and not after_indexes & before_indexes
    assert _rows(p) == before_rows  # records, history, relationships, tokens: unchanged
    with p.session() as s:
        assert [r.data["title"] for r in s.list("shift", sort=["starts_at"])] == BY_INSTANT
        assert [r.data["title"] for r in s.list("shift", {"starts_at": {"lt": "2026-03-01T00:00:00Z"}})] == ["s1", "s4"]
        assert kpis.compute(s, "shift_hours") == kpi
        assert [r["record"].id for r in s.related(ids[0], "shift_next")] == [ids[1]]
    plan = list_plan(p, "shift", sort=["starts_at"])
    assert any(name.startswith("xrm_ix_") and name in plan for name in after_indexes), plan
    with p.connection() as conn:
        assert accounts.user_for_token(conn, token) == "admin"
    # the unique key now compares instants: another spelling of a stored slot is refused
    with pytest.raises(Conflict) as clash, p.session() as s:
        s.create("shift", {"title": "again", "slot": "2026-02-28T22:30:00Z"})  # s1's instant
    assert ids[0] in clash.value.message
    # a second init changes nothing
    catalog, rows = _catalog(p), _rows(p)
    again = p.init()
    assert again["migrated_from"] == migrations.HEAD
    assert not again["types_added"] and not again["types_updated"]
    assert _catalog(p) == catalog and _rows(p) == rows


def _stored_indexes(p) -> set[str]:
    with p.engine.connect() as conn:
        return entity_types.stored_indexes(conn, "shift")


def test_an_upgrade_the_new_unique_index_cannot_take_changes_nothing_and_says_why(make_platform):
    """Two stored spellings of one instant under a unique date-time key (the previous
    release's text index allowed them): init fails naming both records and how to get past
    it (this release's other commands refuse the unupgraded database), and the database is
    left exactly as it was: revision, indexes, functions, rows."""
    p = make_platform()
    loose = {k: v for k, v in SHIFT.items() if k != "unique"}
    with p.connection() as conn:
        entity_types.add(conn, loose)
    with p.session() as s:
        a = s.create("shift", {"title": "a", "slot": "2026-03-01T02:00:00+03:30"}).id
        b = s.create("shift", {"title": "b", "slot": "2026-02-28T22:30:00Z"}).id
    with p.connection() as conn:  # as the previous release checked it: by text, no clash
        conn.execute(db.entity_types.update().where(db.entity_types.c.name == "shift")
                     .values(definition=SHIFT))
    _to_old_release(p)
    catalog, rows = _catalog(p), _rows(p)
    with pytest.raises(Conflict) as refused:
        p.init()
    message = refused.value.message
    assert "slot" in message and "not applied" in message and "unchanged" in message and "xrm init" in message
    # named by the texts the records hold (the instant alone is a spelling neither stores)
    assert refused.value.errors == [{"pointer": "/unique/0", "message":
        'slot="2026-03-01T02:00:00+03:30" / "2026-02-28T22:30:00Z" (one instant, 2026-02-28T22:30:00.000000Z) '
        f"is shared by 2 records ({', '.join(sorted([a, b]))})"}]
    assert _revision(p) == "0005"
    assert _catalog(p) == catalog and _rows(p) == rows
    if p.engine.dialect.name == "postgresql":
        assert _function_schema(p) == []
    # The admin removes the clash (as with the previous release), and the upgrade goes through.
    with p.connection() as conn:
        conn.execute(db.records.delete().where(db.records.c.id == b))
    assert p.init()["migrated_from"] == "0005"
    with pytest.raises(Conflict), p.session() as s:
        s.create("shift", {"title": "c", "slot": "2026-02-28T19:00:00-03:30"})
