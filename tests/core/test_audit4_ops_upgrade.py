"""Operator audit of upgrades: two `xrm init` at once (two hosts deploying the same
release) both succeed, one after the other; ``migrations.upgrade`` reports the revision it
found once the other one's upgrade ended."""
from __future__ import annotations

import threading

from conftest import PersonPlugin
from xrm_core import Platform, migrations
from xrm_core.plugins import make_plugin_manager


def test_concurrent_inits_of_an_empty_database_all_succeed(db_url):
    pm = make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()])
    platforms = [Platform(db_url, pm=pm) for _ in range(3)]
    start, errors, reports = threading.Barrier(3), [], []

    def init(p):
        start.wait()
        try:
            reports.append(p.init())
        except Exception as e:  # noqa: BLE001 — collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=init, args=(p,), daemon=True) for p in platforms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # Without the lock, PostgreSQL could also leave the inits waiting on each other.
    assert not any(t.is_alive() for t in threads), "the inits did not finish within 60 s"
    for p in platforms:
        p.dispose()
    # Was, on PostgreSQL: duplicate key value violates unique constraint "pg_type_typname_nsp_index"
    assert errors == [] and len(reports) == 3
    assert sum(r["admin_created"] for r in reports) == 1
    p = Platform(db_url, pm=pm)
    with p.connection() as conn:
        assert migrations.current(conn) == migrations.HEAD
    with p.session() as s:
        s.create("person", {"name": "after"})
    p.dispose()


def test_upgrade_returns_the_revision_it_found(db_url):
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    with p.connection() as conn:
        assert migrations.upgrade(conn, "0003") is None
    with p.connection() as conn:
        assert migrations.upgrade(conn) == "0003"
    with p.connection() as conn:
        assert migrations.upgrade(conn) == migrations.HEAD
    p.dispose()
