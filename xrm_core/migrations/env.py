"""Alembic environment of the core tables: online mode only, on the caller's connection.

Run through :func:`xrm_core.migrations.upgrade`, which passes an open connection in
``config.attributes["connection"]``. No logging configuration is loaded here on purpose.
"""
from __future__ import annotations

from alembic import context

from xrm_core.db import metadata

VERSION_TABLE = "xrm_alembic_version"  # same as xrm_core.migrations.VERSION_TABLE

target_metadata = metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "xrm_core migrations need an open connection; "
            "use xrm_core.migrations.upgrade(conn)"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    # Inside the caller's transaction Alembic opens none of its own and commits nothing.
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("xrm_core migrations support online mode only")
run_migrations_online()
