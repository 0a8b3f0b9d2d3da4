"""Definitions stored as plain JSON on PostgreSQL, keeping their key order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:45:00

JSONB normalises the order of object keys, so an entity type's schema properties came back
in another order than written — and that order drives form fields and CSV export columns.
SQLite stores JSON as text and needs no change. Rows already stored keep the order JSONB
gave them; a plugin type is rewritten in its own order at its next definition change.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("xrm_entity_types", "xrm_entity_type_versions", "xrm_relationship_types",
          "xrm_activity_kinds", "xrm_kpis")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN definition TYPE json USING definition::text::json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN definition TYPE jsonb USING definition::jsonb")
