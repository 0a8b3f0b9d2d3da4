"""API tokens; xrm_activities made append-only in the database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:30:00

History is the audit trail, so the database itself refuses to change or remove it:
UPDATE and DELETE of an ``xrm_activities`` row (and TRUNCATE on PostgreSQL) raise
"xrm_activities is append-only"; INSERT is untouched.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "xrm_activities is append-only"

_SQLITE_UP = [
    f"""
    CREATE TRIGGER xrm_activities_no_update
    BEFORE UPDATE ON xrm_activities
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}');
    END
    """,
    f"""
    CREATE TRIGGER xrm_activities_no_delete
    BEFORE DELETE ON xrm_activities
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}');
    END
    """,
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS xrm_activities_no_delete",
    "DROP TRIGGER IF EXISTS xrm_activities_no_update",
]

_PG_UP = [
    f"""
    CREATE FUNCTION xrm_activities_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'raise_exception';
    END
    $$
    """,
    """
    CREATE TRIGGER xrm_activities_append_only
    BEFORE UPDATE OR DELETE ON xrm_activities
    FOR EACH ROW EXECUTE FUNCTION xrm_activities_append_only()
    """,
    """
    CREATE TRIGGER xrm_activities_no_truncate
    BEFORE TRUNCATE ON xrm_activities
    FOR EACH STATEMENT EXECUTE FUNCTION xrm_activities_append_only()
    """,
]
_PG_DOWN = [
    "DROP TRIGGER IF EXISTS xrm_activities_no_truncate ON xrm_activities",
    "DROP TRIGGER IF EXISTS xrm_activities_append_only ON xrm_activities",
    "DROP FUNCTION IF EXISTS xrm_activities_append_only()",
]


def _statements(up: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return _SQLITE_UP if up else _SQLITE_DOWN
    if dialect == "postgresql":
        return _PG_UP if up else _PG_DOWN
    raise NotImplementedError(f"append-only history is not implemented for {dialect}")


def upgrade() -> None:
    op.create_table(
        "xrm_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        # SHA-256 of the token, looked up by equality.
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["xrm_users.id"],
            name=op.f("fk_xrm_tokens_user_id_xrm_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_xrm_tokens_token_hash")),
    )
    for statement in _statements(up=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(up=False):
        op.execute(statement)
    op.drop_table("xrm_tokens")
