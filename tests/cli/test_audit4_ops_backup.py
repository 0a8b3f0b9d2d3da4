"""Operator audit: ``scripts/backup`` copies an SQLite database while it is in use — what is
committed but still in the write-ahead log included, what is not committed left out — and
never overwrites a file or leaves half a backup behind. (PostgreSQL: it runs pg_dump.)"""
from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PersonPlugin
from xrm_core import Platform
from xrm_core.plugins import make_plugin_manager

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup"


def _backup(*args, env=None):
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env)


def _count(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM xrm_records").fetchone()[0]


@pytest.fixture
def busy_db(tmp_path):
    """An initialised SQLite database whose last writes are still in its -wal file, and a
    platform (kept open, as `xrm serve` keeps it) on it."""
    path = tmp_path / "xrm.db"
    p = Platform(f"sqlite:///{path}", pm=make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    p.init(admin_password="secret")
    hold = p.engine.connect()  # an open connection: nothing checkpoints the log on close
    with p.session() as s:
        for i in range(50):
            s.create("person", {"name": f"p{i}"})
    assert (tmp_path / "xrm.db-wal").stat().st_size > 0
    yield path, p
    hold.close()
    p.dispose()


def test_a_backup_holds_every_committed_write_and_opens(busy_db, tmp_path):
    path, p = busy_db
    dest = tmp_path / "backup.db"
    r = _backup(dest, "--db", f"sqlite:///{path}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"backed up {path} to {dest}\n"
    assert _count(dest) == _count(path) == 50
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("backup")) == ["backup.db"]
    restored = Platform(f"sqlite:///{dest}", pm=p.pm)
    with restored.session() as s:
        assert len(s.list("person", limit=100)) == 50
        s.create("person", {"name": "after restore"})  # history triggers and all: usable
    restored.dispose()


def test_an_uncommitted_write_is_not_in_the_backup_and_does_not_block_it(busy_db, tmp_path):
    path, p = busy_db
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as an import in progress does
    writer.execute("DELETE FROM xrm_relationships")
    writer.execute("UPDATE xrm_records SET version = version + 100")
    started = time.monotonic()
    try:
        r = _backup(tmp_path / "backup.db", "--db", f"sqlite:///{path}")
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert r.returncode == 0, r.stderr
    assert took < 15  # not the 30 s busy timeout: a reader does not wait for the writer
    with sqlite3.connect(tmp_path / "backup.db") as conn:
        assert conn.execute("SELECT max(version) FROM xrm_records").fetchone()[0] == 1


def test_an_existing_file_is_never_overwritten(busy_db, tmp_path):
    path, _ = busy_db
    dest = tmp_path / "backup.db"
    dest.write_bytes(b"precious")
    r = _backup(dest, "--db", f"sqlite:///{path}")
    assert r.returncode == 1
    assert r.stderr == f"error: {dest} exists already: choose a new file name (a backup never overwrites one)\n"
    assert dest.read_bytes() == b"precious"


@pytest.mark.parametrize("args, status, says", [
    ((), 2, "usage: bash scripts/backup DEST [--db URL]"),
    (("{dest}", "--db"), 2, "usage:"),
    (("{dest}", "--db", "sqlite:///{tmp}/missing.db"), 1, "error: no database at {tmp}/missing.db"),
    (("{dest}", "--db", "mysql://x/y"), 2, "error: mysql://x/y: xrm runs on SQLite"),
    (("{dest}", "--db", "sqlite:///:memory:"), 1, "not an SQLite database file"),
])
def test_misuse_is_one_line_and_writes_nothing(tmp_path, args, status, says):
    dest = tmp_path / "backup.db"
    r = _backup(*(a.format(dest=dest, tmp=tmp_path) for a in args))
    assert r.returncode == status, r.stderr
    assert says.format(tmp=tmp_path) in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_no_database_leaves_no_partial_backup(tmp_path):
    bad = tmp_path / "xrm.db"
    bad.write_bytes(b"this is not SQLite" * 100)
    r = _backup(tmp_path / "backup.db", "--db", f"sqlite:///{bad}")
    assert r.returncode == 1 and r.stderr.startswith(f"error: cannot back up {bad}: "), r.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["xrm.db"]
