"""SQLite: ``INSERT OR REPLACE`` cannot rewrite an activity.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 03:15:00

``INSERT OR REPLACE`` (or ``REPLACE``) of a row whose id is taken deletes the old row and
inserts the new one, and SQLite fires no DELETE trigger for that deletion (unless
``recursive_triggers`` is on): the triggers of revision 0002 let it rewrite any activity —
its actor, summary or payload. A BEFORE INSERT trigger now refuses an insert whose id an
activity already has, with the message of revision 0002. Every insert the platform makes
leaves the id to the database (or restores into an empty table), so none is refused.

PostgreSQL needs nothing: ``INSERT … ON CONFLICT DO UPDATE`` fires the UPDATE trigger and
``MERGE … DELETE`` the DELETE trigger of revision 0002.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "xrm_activities is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"""
        CREATE TRIGGER xrm_activities_no_replace
        BEFORE INSERT ON xrm_activities
        WHEN EXISTS (SELECT 1 FROM xrm_activities WHERE id = NEW.id)
        BEGIN
            SELECT RAISE(ABORT, '{MESSAGE}');
        END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS xrm_activities_no_replace")
