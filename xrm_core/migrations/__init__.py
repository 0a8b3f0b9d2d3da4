"""Alembic migrations of the core tables, run programmatically (no ``alembic.ini``).

``upgrade(conn)`` migrates the database behind an open connection *inside the caller's
transaction*: nothing is committed here, so a failing migration rolls back with the rest
of the caller's work (DDL is transactional on PostgreSQL and, with the BEGIN that
``xrm_core.db.make_engine`` issues, on SQLite too).
"""
from __future__ import annotations

import os

from sqlalchemy import Connection, inspect, text

__all__ = ["HEAD", "VERSION_TABLE", "current", "upgrade", "script_head"]

#: Where Alembic records the revision (kept apart from any plugin's own Alembic table).
VERSION_TABLE = "xrm_alembic_version"

#: The head revision id of the core migrations. A constant, so that every CLI command can
#: check the database without importing Alembic (~65 ms of start-up); a test keeps it equal
#: to :func:`script_head`, Alembic's own answer.
HEAD = "0003"

_SCRIPT_LOCATION = os.path.dirname(os.path.abspath(__file__))


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


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` to ``revision`` (default: the head).

    Runs in the caller's transaction and does not commit it.
    """
    from alembic import command
    command.upgrade(_config(conn), revision)


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
