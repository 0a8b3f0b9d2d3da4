"""perf14: viewing a page does not take SQLite's write lock.

Each UI request checked its login in a *writing* transaction (``BEGIN IMMEDIATE``) although
the check only reads: every page view took the database's write lock, so while an import or
any other write held it, every page of every user waited (up to the busy timeout) and then
failed with 503. A read transaction reads beside a writer (WAL).
"""
from __future__ import annotations

import sqlite3

import pytest

from xrm_core import db

from conftest import PersonPlugin
from test_ui_support import Browser


def test_a_page_is_served_while_another_connection_holds_the_write_lock(make_platform, db_url, monkeypatch):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's database-wide write lock")
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)  # a refusal after 1 s, not 30
    p = make_platform(PersonPlugin())
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    b = Browser(p)
    b.login()
    p.engine.dispose()  # new connections take the short busy timeout
    writer = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # an import in progress elsewhere
    try:
        for path in ("/r/person", f"/r/person/{rec.id}"):
            r = b.get(path)
            assert r.status_code == 200, (path, r.status_code)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
