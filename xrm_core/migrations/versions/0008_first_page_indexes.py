"""A record's links and timeline are read a page at a time in their order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 08:30:00

The record page and REST ``related``/``history`` with ``limit`` read the first page of a
record's links in the order of (relationship type, id) and of its activities in the order
of (``at``, id). The indexes of revision 0001 stopped one column short — ``(source_id,
type)``, ``(target_id, type)``, ``(record_id, id)`` —, so the database read every link (or
activity) of the record and sorted them to return 50: a record linked 10,000 times was
sorted whole for each page. Each index is replaced by one ending in the order's columns:
``(source_id, type, id)``, ``(target_id, type, id)``, ``(record_id, at, id)``. Replaced,
not added: every write of a link or an activity maintains the same number of indexes as
before (an import costs what it did), and each new index still serves every query the old
one served (a prefix of it).

Plain DROP INDEX / CREATE INDEX on both engines: no table rebuild on SQLite, so the
append-only triggers of ``xrm_activities`` stay (see the package's docstring). The names
stay: they say which column a look-up starts from, which is unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, table, columns before, columns after)
INDEXES = [
    ("ix_xrm_relationships_source", "xrm_relationships", ["source_id", "type"], ["source_id", "type", "id"]),
    ("ix_xrm_relationships_target", "xrm_relationships", ["target_id", "type"], ["target_id", "type", "id"]),
    ("ix_xrm_activities_record", "xrm_activities", ["record_id", "id"], ["record_id", "at", "id"]),
]


def upgrade() -> None:
    for name, table, _before, after in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)


def downgrade() -> None:
    for name, table, before, _after in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
