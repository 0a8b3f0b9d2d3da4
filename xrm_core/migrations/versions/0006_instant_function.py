"""Date-time fields compare as instants: the SQL function ``xrm_instant(text)`` on PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00

Filters, sorts, cursors and the per-type expression indexes of a ``format: date-time``
field read ``xrm_instant(data #>> '{field}')``: the value's instant in UTC as fixed-width
text (:mod:`xrm_core.instants`, where the function's body and why it may be IMMUTABLE are
explained). It is created in the current schema (the first of ``search_path``), where the
core tables are, so each database or schema has its own. SQLite needs nothing: its
expression is built from built-in functions.

The indexes themselves are not built here: their names hash their expressions, so the sync
of definitions that follows the upgrade in ``xrm init`` drops the old text-expression
indexes of date-time fields and builds the new ones (``entity_types.apply_indexes``).
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from xrm_core.instants import PG_FUNCTION

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(PG_FUNCTION)  # as written: no bind parameters read into "::int"


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Indexes built on it go with it: an older release's sync rebuilds its own.
        op.execute("DROP FUNCTION IF EXISTS xrm_instant(text) CASCADE")
