"""A user's own time zone (ui14): stored with the user (migration 0007), checked against the
IANA database, set from `xrm users create --time-zone` and `xrm users set-time-zone`."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from xrm_core import accounts, db, migrations
from xrm_core.errors import NotFound, ValidationError

from test_migrations import engine  # noqa: F401 — the fixture (SQLite, PostgreSQL), used by name


def test_a_zone_is_checked_against_the_iana_database_and_spelled_as_it_does():
    assert accounts.check_time_zone("Asia/Tehran") == "Asia/Tehran"
    assert accounts.check_time_zone("asia/shanghai") == "Asia/Shanghai"  # typed in any case
    assert accounts.check_time_zone(None) is None and accounts.check_time_zone("") is None
    for bad in ("Mars/Olympus", "../../etc/passwd", "Asia", "Asia/Tehran\n", 3):
        with pytest.raises(ValidationError) as e:
            accounts.check_time_zone(bad)
        assert "unknown time zone" in e.value.message and repr(bad) in e.value.message
        assert e.value.errors == [{"pointer": "/time_zone", "message": "unknown time zone"}]


def test_created_with_a_zone_set_and_cleared(platform):
    with platform.connection() as conn:
        u = accounts.create_user(conn, "reza", "root", password="pw", time_zone="Asia/Tehran")
        assert u == {"id": u["id"], "name": "reza", "unit": "root", "roles": [], "is_admin": False,
                     "time_zone": "Asia/Tehran"}
        accounts.create_user(conn, "li", "root")
        assert accounts.time_zone_of(conn, "li") is None
        accounts.set_time_zone(conn, "li", "Asia/Shanghai")
        assert accounts.time_zone_of(conn, "li") == "Asia/Shanghai"
        accounts.set_time_zone(conn, "li", None)
        assert accounts.time_zone_of(conn, "li") is None
        with pytest.raises(NotFound):
            accounts.set_time_zone(conn, "nobody_here", "UTC")


def test_an_unknown_zone_changes_nothing(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "li", "root", time_zone="Asia/Shanghai")
    with pytest.raises(ValidationError, match="'Asia/Beijing'"):
        with platform.connection() as conn:
            accounts.create_user(conn, "reza", "root", time_zone="Asia/Beijing")
    with pytest.raises(ValidationError, match="'Asia/Beijing'"):
        with platform.connection() as conn:
            accounts.set_time_zone(conn, "li", "Asia/Beijing")
    with platform.connection() as conn:
        assert accounts.list_users(conn, "reza") == []
        assert accounts.time_zone_of(conn, "li") == "Asia/Shanghai"


def test_cli_create_and_set_time_zone(cli):
    assert cli("init", "--admin-password", "secret").exit_code == 0
    r = cli("users", "create", "reza", "--unit", "root", "--time-zone", "Asia/Tehran", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"name": "reza", "unit": "root", "roles": [], "is_admin": False,
                                    "time_zone": "Asia/Tehran"}
    plain = cli("users", "create", "li", "--unit", "root", "--json")
    assert json.loads(plain.stdout) == {"name": "li", "unit": "root", "roles": [], "is_admin": False}
    r = cli("users", "set-time-zone", "li", "Asia/Shanghai")
    assert r.exit_code == 0 and "Asia/Shanghai" in r.stdout
    r = cli("users", "create", "ali", "--unit", "root", "--time-zone", "Asia/Beijing")
    assert r.exit_code != 0 and "unknown time zone 'Asia/Beijing'" in r.stderr and "Traceback" not in r.stderr
    r = cli("users", "set-time-zone", "li", "Mars/Olympus")
    assert r.exit_code != 0 and "unknown time zone 'Mars/Olympus'" in r.stderr
    names = [u["name"] for u in json.loads(cli("users", "list", "--json").stdout)]
    assert "ali" not in names
    r = cli("users", "set-time-zone", "li")  # no zone: cleared
    assert r.exit_code == 0, r.stderr
    assert cli("users", "set-time-zone", "ghost", "UTC").exit_code != 0


def test_cli_time_zones_are_kept(cli, db_url):
    cli("init", "--admin-password", "secret")
    cli("users", "create", "reza", "--unit", "root", "--time-zone", "Asia/Tehran")
    cli("users", "create", "li", "--unit", "root")
    cli("users", "set-time-zone", "li", "Asia/Shanghai")
    cli("users", "create", "sam", "--unit", "root", "--time-zone", "UTC")
    cli("users", "set-time-zone", "sam")
    eng = db.make_engine(db_url)
    try:
        with eng.connect() as conn:
            assert [accounts.time_zone_of(conn, n) for n in ("reza", "li", "sam")] == \
                ["Asia/Tehran", "Asia/Shanghai", None]
    finally:
        eng.dispose()


def test_an_older_database_gets_the_column_keeping_its_users(engine):  # noqa: F811
    with engine.begin() as conn:
        migrations.upgrade(conn, "0006")
        conn.execute(sa.text("INSERT INTO xrm_units (id, name, parent_id, path, created_at)"
                             " VALUES (1, 'root', NULL, '/1/', '2026-01-01T00:00:00.000000Z')"))
        conn.execute(sa.text("INSERT INTO xrm_users (id, name, unit_id, is_admin, active, created_at)"
                             " VALUES (1, 'reza', 1, false, true, '2026-01-01T00:00:00.000000Z')"))
        assert "time_zone" not in {c["name"] for c in sa.inspect(conn).get_columns("xrm_users")}
    with engine.begin() as conn:
        assert migrations.upgrade(conn) == "0006"
    with engine.begin() as conn:
        assert migrations.current(conn) == migrations.HEAD == "0009"
        assert accounts.time_zone_of(conn, "reza") is None
        accounts.set_time_zone(conn, "reza", "Asia/Tehran")
    with engine.connect() as conn:
        assert conn.execute(sa.select(db.users.c.time_zone)).scalar_one() == "Asia/Tehran"
