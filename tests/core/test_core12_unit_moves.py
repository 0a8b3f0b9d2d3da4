"""A ``before_update`` hook may move a record to another unit by setting ``record.unit``, as
a ``before_create`` hook routes a new one (a plugin re-assigning a record when its routing
field changes). Before, the change was undone after the hooks: the record stayed where it
was. The unit must exist (a refusal naming the plugin, nothing written) and lie in the acting
user's create or update scope (sec12: refused otherwise, nothing written); the ``updated``
activity records the move."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from xrm_core import NotFound, ValidationError, db, hookimpl
from conftest import PersonPlugin


class Router:
    """Moves a person to the unit its ``national_id`` names when an update sets it."""

    __name__ = "core12router"

    def __init__(self):
        self.after = []

    @hookimpl
    def xrm_record_event(self, event, record, changes):
        if event == "before_update" and "/national_id" in changes:
            record.unit = record.data["national_id"]
            if record.data.get("name") == "undo":  # the data change undone: the move alone stays
                record.data.pop("national_id")
        if event == "before_delete":
            record.unit = "dealer_b"  # not stored: a record being deleted goes nowhere
        if event == "after_update":
            self.after.append(record.unit)


def _unit_of_activity(platform, activity_id):
    with platform.engine.connect() as conn:
        return conn.execute(select(db.activities.c.unit_id).where(db.activities.c.id == activity_id)).scalar_one()


def test_a_before_update_hook_moves_the_record(make_platform):
    router = Router()
    p = make_platform(PersonPlugin(), router)
    with p.session() as s:
        s.create_unit("north")
        s.create_unit("south")
        rec = s.create("person", {"name": "Ada"})
        moved = s.update(rec.id, {"national_id": "north"})
        assert (moved.unit, moved.version) == ("north", 2)
        assert s.get(rec.id).unit == "north" and router.after == ["north"]
        last = s.history(rec.id)[-1]
        assert last["summary"] == "updated national_id; moved from unit root to north"
        assert last["payload"]["unit"] == {"old": "root", "new": "north"}
        assert last["payload"]["version"] == 2
        north = s.unit_id("north")
    assert _unit_of_activity(p, last["id"]) == north
    with p.session() as s:
        # the data change undone by the hook, the move kept: written, version and all
        again = s.update(rec.id, {"national_id": "south", "name": "undo"})
        assert (again.unit, again.version) == ("south", 3)
        assert s.history(rec.id)[-1]["payload"]["unit"] == {"old": "north", "new": "south"}
        # a patch that changes nothing runs no hook and moves nothing
        assert s.update(rec.id, {"name": "undo"}).version == 3
        s.delete(rec.id)  # a unit set in before_delete is not stored (the record goes)


def test_a_move_to_an_unknown_unit_is_refused_naming_the_plugin(make_platform):
    p = make_platform(PersonPlugin(), Router())
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    with pytest.raises(ValidationError) as e, p.session() as s:
        s.update(rec.id, {"national_id": "atlantis"})
    assert e.value.errors == [{"pointer": "/unit",
                               "message": "unknown unit (set by the before_update hook of plugin 'core12router')"}]
    assert "moved to unknown unit 'atlantis'" in e.value.message
    with p.session() as s:
        assert (s.get(rec.id).unit, s.get(rec.id).version, len(s.history(rec.id))) == ("root", 1, 1)


def test_the_plugin_may_not_move_a_record_out_of_the_users_scope(make_platform):
    """(sec12) A move is limited by the acting user's create/update scope."""
    from xrm_core import PermissionDenied, accounts
    p = make_platform(PersonPlugin(), Router())
    with p.connection() as conn:
        for unit in ("dealer_a", "dealer_b"):
            accounts.create_unit(conn, unit)
        accounts.save_role(conn, {"name": "manager", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "unit"}]})
        for user, unit in (("manager_a", "dealer_a"), ("colleague_a", "dealer_a")):
            accounts.create_user(conn, user, unit, ["manager"], "pw")
    with p.session("manager_a") as s:
        rec = s.create("person", {"name": "Ada"})
    with pytest.raises(PermissionDenied), p.session("colleague_a") as s:
        s.update(rec.id, {"national_id": "dealer_b"})
    with p.session("manager_a") as s:
        assert (s.get(rec.id).unit, s.get(rec.id).version) == ("dealer_a", 1)
