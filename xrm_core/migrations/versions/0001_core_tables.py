"""Core tables (everything of xrm_core.db except xrm_tokens).

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:30:00

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration is a frozen snapshot: the schema is spelled out, xrm_core.db is not imported.
# Constraint names follow db.py's naming_convention.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _stamp() -> sa.String:
    return sa.String(length=32)  # ISO-8601 UTC text


def upgrade() -> None:
    op.create_table(
        "xrm_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label", JSON, nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["xrm_units.id"],
            name=op.f("fk_xrm_units_parent_id_xrm_units"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_units")),
        sa.UniqueConstraint("name", name=op.f("uq_xrm_units_name")),
    )
    op.create_index(op.f("ix_xrm_units_path"), "xrm_units", ["path"], unique=False)

    op.create_table(
        "xrm_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["xrm_units.id"],
            name=op.f("fk_xrm_users_unit_id_xrm_units"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_users")),
        sa.UniqueConstraint("name", name=op.f("uq_xrm_users_name")),
    )

    op.create_table(
        "xrm_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("label", JSON, nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_xrm_roles_name")),
    )

    op.create_table(
        "xrm_user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["xrm_users.id"],
            name=op.f("fk_xrm_user_roles_user_id_xrm_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["xrm_roles.id"],
            name=op.f("fk_xrm_user_roles_role_id_xrm_roles"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_xrm_user_roles")),
    )

    op.create_table(
        "xrm_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("depth", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["xrm_roles.id"],
            name=op.f("fk_xrm_grants_role_id_xrm_roles"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_grants")),
        sa.UniqueConstraint(
            "role_id", "entity_type", "action",
            name=op.f("uq_xrm_grants_role_id_entity_type_action"),
        ),
    )

    op.create_table(
        "xrm_entity_types",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_xrm_entity_types")),
    )

    op.create_table(
        "xrm_entity_type_versions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_xrm_entity_type_versions")),
    )

    op.create_table(
        "xrm_relationship_types",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_xrm_relationship_types")),
    )

    op.create_table(
        "xrm_activity_kinds",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_xrm_activity_kinds")),
    )

    op.create_table(
        "xrm_kpis",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_xrm_kpis")),
    )

    op.create_table(
        "xrm_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("updated_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["type"], ["xrm_entity_types.name"],
            name=op.f("fk_xrm_records_type_xrm_entity_types"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["xrm_users.id"],
            name=op.f("fk_xrm_records_owner_id_xrm_users"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["xrm_units.id"],
            name=op.f("fk_xrm_records_unit_id_xrm_units"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_records")),
    )
    op.create_index("ix_xrm_records_type_id", "xrm_records", ["type", "id"], unique=False)
    op.create_index("ix_xrm_records_unit", "xrm_records", ["unit_id"], unique=False)
    op.create_index("ix_xrm_records_owner", "xrm_records", ["owner_id"], unique=False)

    op.create_table(
        "xrm_relationships",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("data", JSON, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["type"], ["xrm_relationship_types.name"],
            name=op.f("fk_xrm_relationships_type_xrm_relationship_types"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["xrm_records.id"],
            name=op.f("fk_xrm_relationships_source_id_xrm_records"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["xrm_records.id"],
            name=op.f("fk_xrm_relationships_target_id_xrm_records"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_relationships")),
        sa.UniqueConstraint(
            "type", "source_id", "target_id",
            name=op.f("uq_xrm_relationships_type_source_id_target_id"),
        ),
    )
    op.create_index(
        "ix_xrm_relationships_source", "xrm_relationships", ["source_id", "type"], unique=False,
    )
    op.create_index(
        "ix_xrm_relationships_target", "xrm_relationships", ["target_id", "type"], unique=False,
    )

    op.create_table(
        "xrm_activities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        # No foreign key: the history of a deleted record outlives it.
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=100), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("at", _stamp(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xrm_activities")),
    )
    op.create_index(
        "ix_xrm_activities_record", "xrm_activities", ["record_id", "id"], unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_xrm_activities_record", table_name="xrm_activities")
    op.drop_table("xrm_activities")
    op.drop_index("ix_xrm_relationships_target", table_name="xrm_relationships")
    op.drop_index("ix_xrm_relationships_source", table_name="xrm_relationships")
    op.drop_table("xrm_relationships")
    op.drop_index("ix_xrm_records_owner", table_name="xrm_records")
    op.drop_index("ix_xrm_records_unit", table_name="xrm_records")
    op.drop_index("ix_xrm_records_type_id", table_name="xrm_records")
    op.drop_table("xrm_records")
    op.drop_table("xrm_kpis")
    op.drop_table("xrm_activity_kinds")
    op.drop_table("xrm_relationship_types")
    op.drop_table("xrm_entity_type_versions")
    op.drop_table("xrm_entity_types")
    op.drop_table("xrm_grants")
    op.drop_table("xrm_user_roles")
    op.drop_table("xrm_roles")
    op.drop_table("xrm_users")
    op.drop_index(op.f("ix_xrm_units_path"), table_name="xrm_units")
    op.drop_table("xrm_units")
