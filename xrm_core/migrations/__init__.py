"""Alembic migrations of the core tables, run programmatically (no ``alembic.ini``).

``upgrade(conn)`` migrates the database behind an open connection *inside the caller's
transaction*: nothing is committed here, so a failing migration rolls back with the rest
of the caller's work (DDL is transactional on PostgreSQL and, with the BEGIN that
``xrm_core.db.make_engine`` issues, on SQLite too).

Writing a migration: on SQLite, ``op.batch_alter_table`` rebuilds a table (copy, drop,
rename). Inside the transaction foreign keys stay on, so rebuilding a table other tables
refer to (units, users, roles, records, entity or relationship types) fails with "FOREIGN
KEY constraint failed" (and would fire their ON DELETE CASCADE); rebuilding
``xrm_activities`` drops its append-only triggers, which :func:`upgrade` then refuses. Prefer
``op.add_column`` (no rebuild on SQLite), and recreate the triggers after a rebuild.
"""
from __future__ import annotations

import os

from sqlalchemy import Connection, inspect, text

from ..errors import XrmError

__all__ = ["HEAD", "VERSION_TABLE", "NewerDatabase", "current", "upgrade", "script_head", "revisions"]

#: Where Alembic records the revision (kept apart from any plugin's own Alembic table).
VERSION_TABLE = "xrm_alembic_version"

#: The head revision id of the core migrations. A constant, so that every CLI command can
#: check the database without importing Alembic (~65 ms of start-up); a test keeps it equal
#: to :func:`script_head`, Alembic's own answer.
HEAD = "0009"

_SCRIPT_LOCATION = os.path.dirname(os.path.abspath(__file__))

#: First key of the PostgreSQL advisory lock :func:`upgrade` holds (``"xrm"`` in ASCII).
_UPGRADE_LOCK = 0x78726D


def _config(conn: Connection | None = None):
    from alembic.config import Config  # local: Alembic is needed only to migrate
    config = Config()
    # ConfigParser interpolates "%": escape it in case the install path contains one.
    config.set_main_option("script_location", _SCRIPT_LOCATION.replace("%", "%%"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def script_head() -> str:
    """The head revision of the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migration revisions found"
    return head


class NewerDatabase(XrmError):
    """The database is at a revision these migrations do not know: a newer xrm set it up."""

    status = 409
    title = "Database newer than this xrm"


def revisions() -> set[str]:
    """Every revision id of the migration scripts."""
    from alembic.script import ScriptDirectory
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def upgrade(conn: Connection, revision: str = "head") -> str | None:
    """Upgrade the database behind ``conn`` to ``revision`` (default: the head); return the
    revision it was at (``None``: never migrated), read once any concurrent upgrade ended.

    Runs in the caller's transaction and does not commit it; on PostgreSQL a second upgrade
    of the same schema waits until that transaction ends. A database at a revision the
    scripts do not know (written by a newer xrm) is refused with :class:`NewerDatabase`,
    changing nothing.
    """
    from alembic import command
    if conn.dialect.name == "postgresql":
        # Two `xrm init` at once (two hosts deploying) both saw an empty database and both
        # created the tables: one failed on "duplicate key … pg_type_typname_nsp_index".
        # SQLite's BEGIN IMMEDIATE already makes the second wait; here a lock held until
        # the caller's transaction ends does, per schema (test schemas share a database).
        conn.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                     {"key": _UPGRADE_LOCK})
    found = current(conn)
    if found is not None and found not in revisions():
        raise NewerDatabase(
            f"the database is at revision {found}, newer than this xrm knows (up to {HEAD}): "
            "a newer release of xrm upgraded it; use that release or a later one")
    command.upgrade(_config(conn), revision)
    if current(conn) not in (None, "0001"):
        _check_append_only(conn)
    return found


#: The triggers of revision 0002 that keep ``xrm_activities`` append-only, per dialect.
APPEND_ONLY_TRIGGERS = {
    "sqlite": {"xrm_activities_no_update", "xrm_activities_no_delete"},
    "postgresql": {"xrm_activities_append_only", "xrm_activities_no_truncate"},
}
#: ... and the one revision 0009 adds on SQLite (refusing ``INSERT OR REPLACE``).
NO_REPLACE_TRIGGER = ("0009", "xrm_activities_no_replace")


def _check_append_only(conn: Connection) -> None:
    """Refuse a migration that left the history without its append-only triggers.

    On SQLite, an Alembic batch operation on ``xrm_activities`` copies the table into a new
    one and drops the old: its triggers go with it, silently. Raising here rolls the whole
    upgrade back; such a migration must create the triggers again.
    """
    if conn.dialect.name == "sqlite":
        found = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                  "AND tbl_name = 'xrm_activities'")).scalars().all()
    else:
        found = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                  "AND tgrelid = 'xrm_activities'::regclass")).scalars().all()
    expected = set(APPEND_ONLY_TRIGGERS.get(conn.dialect.name, set()))
    if conn.dialect.name == "sqlite" and current(conn) >= NO_REPLACE_TRIGGER[0]:
        expected.add(NO_REPLACE_TRIGGER[1])
    missing = expected - set(found)
    if missing:
        raise RuntimeError(f"after the migrations xrm_activities lacks the append-only trigger(s) "
                           f"{', '.join(sorted(missing))}: a migration dropped them (on SQLite a batch "
                           "operation rebuilds a table without its triggers); it must create them again")


def current(conn: Connection) -> str | None:
    """The revision the database behind ``conn`` is at, or ``None`` if never migrated.

    Read with plain SQL (the one-row table Alembic keeps), so checking costs no Alembic import.
    """
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions {rows}: branched migrations are not supported")
    return rows[0] if rows else None
