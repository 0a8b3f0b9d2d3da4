"""Failed logins counted in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 11:30:00

The admin UI refuses logins for a user name from an address after too many recent failures.
The count lived in each app process, so behind a load balancer with N workers an attacker got
N times the attempts; kept here, every process counts the same failures.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xrm_login_failures",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_xrm_login_failures"),
    )
    op.create_index("ix_xrm_login_failures_key", "xrm_login_failures", ["key", "at"])
    op.create_index("ix_xrm_login_failures_at", "xrm_login_failures", ["at"])


def downgrade() -> None:
    op.drop_table("xrm_login_failures")
