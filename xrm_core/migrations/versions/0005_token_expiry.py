"""API tokens may expire.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:20:00

``xrm_tokens.expires_at``: the ISO-8601 UTC time from which a token is refused (like a
revoked one); NULL for a token that does not expire (every token made before this revision).
A plain ADD COLUMN on both engines: no table rebuild on SQLite (``xrm_tokens`` refers to
``xrm_users``, see the package's docstring).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("xrm_tokens", sa.Column("expires_at", sa.String(32), nullable=True))


def downgrade() -> None:
    # SQLite can drop a column in place since 3.35 (no rebuild); older ones need a batch.
    with op.batch_alter_table("xrm_tokens") as batch:
        batch.drop_column("expires_at")
