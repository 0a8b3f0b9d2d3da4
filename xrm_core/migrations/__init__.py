"""Alembic migrations of the core tables, run programmatically (no ``alembic.ini``).

``upgrade(conn)`` migrates the database behind an open connection *inside the caller's
transaction*: nothing is committed here, so a failing migration rolls back with the rest
of the caller's work (DDL is transactional on PostgreSQL and, with the BEGIN that
``xrm_core.db.make_engine`` issues, on SQLite too).
"""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

__all__ = ["HEAD", "VERSION_TABLE", "current", "upgrade"]

#: Where Alembic records the revision (kept apart from any plugin's own Alembic table).
VERSION_TABLE = "xrm_alembic_version"

_SCRIPT_LOCATION = os.path.dirname(os.path.abspath(__file__))


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": escape it in case the install path contains one.
    config.set_main_option("script_location", _SCRIPT_LOCATION.replace("%", "%%"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migration revisions found"
    return head


#: The head revision id of the core migrations.
HEAD: str = _head()


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` to ``revision`` (default: the head).

    Runs in the caller's transaction and does not commit it.
    """
    command.upgrade(_config(conn), revision)


def current(conn: Connection) -> str | None:
    """The revision the database behind ``conn`` is at, or ``None`` if never migrated."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()
