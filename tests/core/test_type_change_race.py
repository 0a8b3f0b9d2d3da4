"""A record written while an admin changes its type (``types update``) on PostgreSQL.

Writers there run concurrently (SQLite serialises them): a session that read the type
before the change committed validated a new record against the old schema, and stored a
record the new one refuses. Writes now read their type's row ``FOR SHARE``, so either the
writer validates against the new version, or the change waits and sees the writer's record.
"""
from __future__ import annotations

import threading
import time

import pytest

from xrm_core import ValidationError, entity_types, hookimpl

TICKET = {"name": "ticket", "schema": {"type": "object", "properties": {
    "title": {"type": "string"}, "team": {"type": "string"}}}}
WITH_TEAM = {**TICKET, "schema": {**TICKET["schema"], "required": ["team"]}}


class TicketPlugin:
    __name__ = "tickets"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [TICKET]


@pytest.fixture
def platform(make_platform):
    p = make_platform(TicketPlugin())
    if p.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no write runs while a type changes")
    return p


def test_a_writer_that_read_the_type_before_a_change_validates_against_the_new_one(platform):
    with platform.session() as writer:
        assert writer.entity_types_map()["ticket"] == 1  # read before the change
        with platform.connection() as conn:
            entity_types.update(conn, WITH_TEAM)  # committed meanwhile
        with pytest.raises(ValidationError) as e:
            writer.create("ticket", {"title": "no team"})
        assert [err["pointer"] for err in e.value.errors] == ["/data/team"]
        assert writer.create("ticket", {"title": "ok", "team": "a"}).data["team"] == "a"


def test_a_change_waits_for_a_writer_and_sees_its_record(platform):
    outcome = {}
    with platform.session() as writer:
        writer.create("ticket", {"title": "no team"})  # valid under version 1, not yet committed

        def change():
            try:
                with platform.connection() as conn:
                    outcome["report"] = entity_types.update(conn, WITH_TEAM)
            except ValidationError as e:
                outcome["refused"] = e

        t = threading.Thread(target=change)
        t.start()
        time.sleep(0.5)
        assert t.is_alive()  # waiting for the writer's transaction
    t.join(10)
    assert not t.is_alive()
    refused = outcome.get("refused")
    assert refused is not None, outcome
    assert refused.extra["impact"]["invalid"] == 1
    with platform.session() as s:
        assert s.entity_types_map()["ticket"] == 1
