"""Each user may have a time zone of its own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 02:00:00

``xrm_users.time_zone``: the IANA name (``Asia/Tehran``) in which the admin UI shows and
reads the user's times; NULL (every user made before this revision) for none: the browser's
zone, else the server's default (``XRM_BABEL_DEFAULT_TIMEZONE``, else UTC). A plain ADD
COLUMN on both engines: no table rebuild on SQLite, where ``xrm_users`` is referred to by
other tables (see the package's docstring).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("xrm_users", sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35 and later): a batch would rebuild
    # xrm_users, which other tables refer to.
    op.drop_column("xrm_users", "time_zone")
