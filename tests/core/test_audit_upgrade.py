"""Upgrading a database an earlier release set up (audit as an admin who upgrades).

Each test builds what an older release left behind — its index shapes, its labels on type
versions, a revision from a newer release, a migration that loses the history's triggers —
and runs today's ``xrm init`` on it. SQLite, and PostgreSQL when ``XRM_TEST_DATABASE_URL``
is set.
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from xrm_core import db, entity_types, hookimpl, migrations
from xrm_core.errors import Conflict
from xrm_core.fields import field_sql

#: An admin's own type (no plugin declares it), with an index and a unique key.
TICKET = {"name": "ticket", "title_field": "code", "indexes": ["region"], "unique": ["code"],
          "schema": {"type": "object", "additionalProperties": False,
                     "properties": {"code": {"type": "string"}, "region": {"type": "string"},
                                    "score": {"type": "integer"}},
                     "required": ["code"]}}

#: A plugin's type, closed to properties it does not declare.
COURSE = {"name": "course", "title_field": "title", "indexes": ["title"],
          "schema": {"type": "object", "additionalProperties": False,
                     "properties": {"title": {"type": "string"}}, "required": ["title"]}}


class Courses:
    __name__ = "courses"

    def __init__(self, definition=COURSE):
        self.definition = definition

    @hookimpl
    def xrm_entity_types(self):
        return [self.definition]


def _catalog(platform, name: str) -> set[str]:
    with platform.connection() as conn:
        return entity_types.stored_indexes(conn, name)


def _wanted(platform, name: str) -> set[str]:
    with platform.connection() as conn:
        return set(entity_types.index_ddl(conn.dialect.name, entity_types.get(conn, name)))


def _make_indexes_old(platform, et_name: str) -> set[str]:
    """Replace the type's indexes with the shape early releases built: the field expression
    alone, no leading ``type``, no trailing ``id``, other names."""
    with platform.connection() as conn:
        dialect = conn.dialect.name
        et = entity_types.get(conn, et_name)
        for name in entity_types.stored_indexes(conn, et_name):
            conn.execute(sa.text(f"DROP INDEX {name}"))
        old = set()
        specs = [(f, False) for f in et.definition.get("indexes", [])]
        specs += [(key[0], True) for key in et.unique_keys()]
        for i, (field, unique) in enumerate(specs):
            name = f"xrm_{'uq' if unique else 'ix'}_000000000{i}_{et_name}"
            conn.execute(sa.text(f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON xrm_records "
                                 f"({field_sql(dialect, field, et.field_type(field))}) "
                                 f"WHERE type = '{et_name}'"))
            old.add(name)
    return old


def test_init_rebuilds_the_indexes_an_older_release_built_for_an_admins_type(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, TICKET)  # an admin's type: no plugin declares it
    with p.session() as s:
        first = s.create("ticket", {"code": "T1", "region": "north"})
        s.create("ticket", {"code": "T2", "region": "south"})
    old = _make_indexes_old(p, "ticket")
    assert _catalog(p, "ticket") == old

    p.init()
    assert _catalog(p, "ticket") == _wanted(p, "ticket")
    with p.session() as s:
        assert [r.id for r in s.list("ticket", where={"region": "north"})] == [first.id]
        with pytest.raises(Conflict):
            s.create("ticket", {"code": "T1"})
    # Nothing left to rebuild: a second init leaves the catalog as it is.
    before = _catalog(p, "ticket")
    p.init()
    assert _catalog(p, "ticket") == before


def test_init_rebuilds_the_old_indexes_of_a_kept_admin_change_to_a_plugin_type(make_platform):
    p = make_platform(Courses())
    changed = copy.deepcopy(COURSE)
    changed["schema"]["properties"]["room"] = {"type": "string"}
    with p.connection() as conn:
        entity_types.update(conn, changed)
    _make_indexes_old(p, "course")
    assert p.init()["types_kept"] == ["course"]
    assert _catalog(p, "course") == _wanted(p, "course")


def test_init_keeps_an_admins_change_an_older_release_stored_under_the_plugins_name(make_platform):
    # Releases before versions were labelled 'admin' stored an admin's `xrm types update` of a
    # plugin's type with the plugin's name as its source.
    p = make_platform(Courses())
    changed = copy.deepcopy(COURSE)
    changed["schema"]["properties"]["room"] = {"type": "string"}
    with p.connection() as conn:
        entity_types.update(conn, changed, source="courses")
    with p.session() as s:
        assert (s.entity_type("course").version, s.entity_type("course").source) == (2, "courses")
        s.create("course", {"title": "SQL", "room": "B2"})  # data in the admin's new field

    report = p.init()  # refused before (the record would break), or reverted the change
    assert (report["types_kept"], report["types_updated"]) == (["course"], [])
    with p.session() as s:
        assert "room" in s.entity_type("course").schema["properties"]
        assert s.entity_type("course").version == 2
    assert p.init()["types_kept"] == ["course"]

    # A plugin release that declares something new still wins over it.
    newer = copy.deepcopy(changed)
    newer["schema"]["properties"]["level"] = {"type": "string"}
    p2 = make_platform(Courses(newer), init=False)
    report = p2.init()
    assert (report["types_updated"], report["types_kept"]) == (["course"], [])
    with p2.session() as s:
        assert s.entity_type("course").version == 3


def test_init_applies_a_plugins_own_new_definition(make_platform):
    # Not mistaken for an admin's change: the version the plugin itself stored is replaced.
    p = make_platform(Courses())
    newer = copy.deepcopy(COURSE)
    newer["schema"]["properties"]["level"] = {"type": "string"}
    p2 = make_platform(Courses(newer), init=False)
    assert p2.init()["types_updated"] == ["course"]
    assert p2.init()["types_updated"] == p2.init()["types_kept"] == []


def _revision(platform) -> str | None:
    with platform.connection() as conn:
        return migrations.current(conn)


def test_init_refuses_a_database_from_a_newer_release_changing_nothing(make_platform, cli):
    p = make_platform(Courses())
    with p.connection() as conn:
        conn.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '0999'"))
        conn.execute(sa.text("DELETE FROM xrm_entity_types WHERE name = 'course'"))
    with pytest.raises(migrations.NewerDatabase, match="revision 0999, newer than this xrm"):
        p.init()
    assert _revision(p) == "0999"
    with p.connection() as conn:  # nothing synced either
        assert "course" not in entity_types.load_all(conn)
    result = cli("init", plugins=[Courses()])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the database is at revision 0999, newer than this xrm")
    assert "Traceback" not in result.stderr and "CommandError" not in result.stderr
    # Every other command says the same, not "run xrm init to upgrade it".
    result = cli("records", "list", "course", plugins=[Courses()])
    assert result.exit_code != 0 and "newer than this xrm knows" in result.stderr
    assert "xrm init" not in result.stderr


BATCH_MIGRATION = '''"""Test: rebuilds xrm_activities as an SQLite batch operation does."""
import sqlalchemy as sa
from alembic import op

revision = "0900"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("xrm_activities", recreate="always") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade():
    pass
'''


def test_an_upgrade_that_drops_the_append_only_triggers_is_rolled_back(make_platform, tmp_path, monkeypatch):
    p = make_platform()
    with p.session() as s:
        s.create_unit("north")  # some data the failed upgrade must leave as it is
    scripts = tmp_path / "migrations"
    shutil.copytree(Path(migrations.__file__).parent, scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0900_rebuild.py").write_text(BATCH_MIGRATION.format(head=migrations.HEAD))
    monkeypatch.setattr(migrations, "_SCRIPT_LOCATION", str(scripts))
    with pytest.raises(RuntimeError, match="lacks the append-only trigger"):
        p.init()
    assert _revision(p) == migrations.HEAD
    with p.connection() as conn:
        assert "note" not in {c["name"] for c in sa.inspect(conn).get_columns("xrm_activities")}
        conn.execute(db.activities.insert().values(
            record_id="r1", record_type="t", unit_id=1, owner_id=1, kind="note", at=db.utcnow(),
            actor="admin"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with p.connection() as conn:
            conn.execute(db.activities.delete())
