"""Alembic migrations of the core tables (xrm_core.migrations).

Runs on SQLite (a file in tmp_path) and, when ``XRM_TEST_DATABASE_URL`` is set, on
PostgreSQL too, each test in a fresh schema that is dropped afterwards.
"""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from xrm_core import db, migrations

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")

#: Indexes the platform creates at runtime (per entity type), not in the migrations.
RUNTIME_INDEX_PREFIXES = ("xrm_ix_", "xrm_uq_", "xrm_rel_")


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not PG_URL, reason="XRM_TEST_DATABASE_URL not set")),
])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = db.make_engine(f"sqlite:///{tmp_path / 'xrm.db'}")
        yield eng
        eng.dispose()
        return
    # PostgreSQL: a fresh schema per test, first on the search_path of every connection.
    schema = f"xrm_mig_{uuid.uuid4().hex[:16]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    eng = db.make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _tables(conn) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name == migrations.VERSION_TABLE:
        return False
    if type_ in ("index", "unique_constraint") and name and name.startswith(RUNTIME_INDEX_PREFIXES):
        return False
    return True


def _schema_diff(conn) -> list:
    context = MigrationContext.configure(conn, opts={
        "include_object": _include_object,
        "compare_type": True,
        "compare_server_default": True,
    })
    return compare_metadata(context, db.metadata)


def _activity(**overrides) -> dict:
    values = dict(
        record_id="r1", record_type="contact", unit_id=1, owner_id=1, kind="created",
        at=db.utcnow(), actor="alice", summary="created", payload={"a": 1},
    )
    values.update(overrides)
    return values


def _alembic_config(conn) -> Config:
    config = Config()
    config.set_main_option("script_location", os.path.dirname(migrations.__file__))
    config.attributes["connection"] = conn
    return config


def test_head_is_latest_revision():
    # HEAD is a constant (start-up without Alembic): it must be what the scripts say.
    assert migrations.HEAD == migrations.script_head() == "0009"


def test_upgrade_creates_exactly_the_metadata_tables_without_drift(engine):
    with engine.begin() as conn:
        assert migrations.current(conn) is None
        migrations.upgrade(conn)
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.HEAD
        assert _tables(conn) == set(db.metadata.tables) | {migrations.VERSION_TABLE}
        assert _schema_diff(conn) == []


def test_upgrade_twice_is_a_no_op(engine):
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        before = {t: sorted(ix["name"] for ix in inspector.get_indexes(t)) for t in _tables(conn)}
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        after = {t: sorted(ix["name"] for ix in inspector.get_indexes(t)) for t in _tables(conn)}
        assert after == before
        assert migrations.current(conn) == migrations.HEAD
        versions = conn.execute(sa.text(f"SELECT version_num FROM {migrations.VERSION_TABLE}"))
        assert versions.scalars().all() == [migrations.HEAD]
        assert _schema_diff(conn) == []


def test_older_database_is_upgraded_keeping_its_data(engine):
    with engine.begin() as conn:
        migrations.upgrade(conn, "0001")
        assert migrations.current(conn) == "0001"
        assert "xrm_tokens" not in _tables(conn)
        conn.execute(sa.text(
            "INSERT INTO xrm_units (id, name, parent_id, path, created_at)"
            " VALUES (1, 'root', NULL, '/1/', '2026-01-01T00:00:00.000000Z')"
        ))
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.HEAD
        rows = conn.execute(sa.select(db.units.c.id, db.units.c.name, db.units.c.path)).all()
        assert [tuple(r) for r in rows] == [(1, "root", "/1/")]
        assert _schema_diff(conn) == []
    # The new table works against the old data.
    with engine.begin() as conn:
        conn.execute(db.users.insert().values(
            id=1, name="alice", unit_id=1, created_at=db.utcnow()))
        conn.execute(db.tokens.insert().values(
            user_id=1, token_hash="0" * 64, created_at=db.utcnow()))


def test_activities_are_append_only(engine):
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.begin() as conn:
        conn.execute(db.activities.insert().values(_activity()))
        conn.execute(db.activities.insert().values(_activity(kind="updated")))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(db.activities.update().values(summary="rewritten"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(db.activities.delete().where(db.activities.c.kind == "created"))
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE xrm_activities")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.activities.c.kind, db.activities.c.summary, db.activities.c.payload)
            .order_by(db.activities.c.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("created", "created", {"a": 1}), ("updated", "created", {"a": 1}),
        ]


def test_downgrade_removes_tokens_and_triggers(engine):
    with engine.begin() as conn:
        migrations.upgrade(conn)
        conn.execute(db.activities.insert().values(_activity()))
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0001")
    with engine.begin() as conn:
        assert migrations.current(conn) == "0001"
        assert "xrm_tokens" not in _tables(conn)
        conn.execute(db.activities.update().values(summary="rewritten"))
        conn.execute(db.activities.delete())
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    with engine.connect() as conn:
        assert _tables(conn) == {migrations.VERSION_TABLE}
        assert migrations.current(conn) is None


def test_rolled_back_upgrade_leaves_nothing(engine):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with engine.begin() as conn:
            migrations.upgrade(conn)
            assert migrations.current(conn) == migrations.HEAD
            raise Boom
    with engine.connect() as conn:
        assert _tables(conn) == set()
        assert migrations.current(conn) is None


def test_failing_migration_leaves_nothing_half_applied(engine):
    # A stray table makes revision 0002 fail after 0001 has run in the same transaction.
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE xrm_tokens (id INTEGER PRIMARY KEY)")
    with pytest.raises(sa.exc.DBAPIError):
        with engine.begin() as conn:
            migrations.upgrade(conn)
    with engine.connect() as conn:
        assert _tables(conn) == {"xrm_tokens"}
        assert migrations.current(conn) is None
