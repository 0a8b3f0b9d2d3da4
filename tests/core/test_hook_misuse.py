"""Record event hooks that reach for their own record, and the session's other edges a
plugin author meets: each gets an error that says what to do (naming the plugin) and
leaves the database as it was; a cascade whose hook deletes the parent deletes it once;
a timeline with related records binds no parameter per related record; an activity kind
with a broken payload schema is refused by ``xrm init``, not by every later log."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from xrm_core import DefinitionError, PluginError, db, for_types, hookimpl


class SelfPlugin:
    """What a ``note``'s hooks do to the note itself is chosen by its ``do`` attribute."""

    __name__ = "selfish"

    def __init__(self):
        self.after_deletes = []

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "note", "schema": {"type": "object", "properties": {
                    "do": {"type": "string"}, "n": {"type": "integer"}, "parent": {"type": "string"},
                    "via": {"enum": ["relate", "relate_many"]}}}},
                {"name": "folder", "schema": {"type": "object"}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "links", "source": "note", "target": "note", "cardinality": "many-to-many"},
                {"name": "holds", "source": "folder", "target": "note", "cardinality": "one-to-many",
                 "on_delete": "cascade"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "call", "label": "Call"}]

    @hookimpl
    @for_types("note", "folder")
    def xrm_record_event(self, event, record, session):
        do = record.data.get("do")
        if event == "after_delete":
            self.after_deletes.append(record.id)
            if do == "delete parent":
                session.delete(record.data["parent"])
            return
        if do in ("relate self", "relate self as target") and event in ("before_create", "before_update"):
            # the single and the bulk path of relating must refuse the same
            ends = [record.id, session.create("note", {}).id]
            if do == "relate self as target":
                ends.reverse()
            if record.data.get("via") == "relate_many":
                session.relate_many("links", [ends])
            else:
                session.relate("links", *ends)
        elif event == "before_create" and do == "log":
            session.log(record.id, "call", "welcome")
        elif event == "before_create" and do == "relate as system":
            system = session.as_system()
            system.relate("links", record.id, system.create("note", {}).id)
        elif event == "before_update" and do == "bump":
            session.update(record.id, {"n": 99})
        elif event == "before_update" and do == "read":
            record.data["n"] = session.get(record.id).data.get("n", 0) + 10


@pytest.fixture
def platform(make_platform):
    return make_platform(SelfPlugin())


def _counts(p) -> tuple:
    with p.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (db.records, db.relationships, db.activities))


@pytest.mark.parametrize("do,via", [("relate self", "relate"), ("relate self", "relate_many"),
                                    ("relate self as target", "relate"), ("relate self as target", "relate_many"),
                                    ("log", None), ("relate as system", None)])
def test_a_before_create_hook_using_its_record_is_told_to_use_after_create(platform, do, via):
    before = _counts(platform)
    with pytest.raises(PluginError) as e, platform.session() as s:
        s.create("note", {"do": do, **({"via": via} if via else {})})
    message = str(e.value)
    assert "selfish" in message and "is not stored until its before_create hooks have run" in message
    assert "after_create" in message
    assert _counts(platform) == before


def test_a_before_update_hook_updating_its_record_is_told_to_change_record_data(platform):
    with platform.session() as s:
        rec = s.create("note", {"n": 1})
    before = _counts(platform)
    with pytest.raises(PluginError) as e, platform.session() as s:
        s.update(rec.id, {"do": "bump"})
    assert "selfish" in str(e.value) and "may not update the record it is called for" in str(e.value)
    assert "concurrent" not in str(e.value)
    assert _counts(platform) == before
    # Reading the stored record from the hook is fine: it is the version the update started from.
    with platform.session() as s:
        assert s.update(rec.id, {"do": "read"}).data == {"do": "read", "n": 11}


def test_a_before_update_hook_relating_its_record_is_refused_alike_by_relate_and_relate_many(platform):
    """relate_many skipped relate's check: a before_update hook linked its own record as a
    source through it (an update of the record the update was still writing)."""
    with platform.session() as s:
        ids = [s.create("note", {}).id for _ in range(2)]
    before = _counts(platform)
    messages = []
    for rid, via in zip(ids, ("relate", "relate_many")):
        with pytest.raises(PluginError) as e, platform.session() as s:
            s.update(rid, {"do": "relate self", "via": via})
        messages.append(str(e.value).replace(rid, "ID"))
        assert _counts(platform) == before
    assert messages[0] == messages[1]
    assert "selfish" in messages[0] and "may not update the record it is called for" in messages[0]
    # As a target the record is only read, not changed: both paths relate it.
    for rid, via in zip(ids, ("relate", "relate_many")):
        with platform.session() as s:
            s.update(rid, {"do": "relate self as target", "via": via})
            assert [r["direction"] for r in s.related(rid)] == ["incoming"]


def test_a_cascaded_hook_that_deletes_the_parent_deletes_it_once(platform):
    with platform.session() as s:
        folder = s.create("folder", {})
        note = s.create("note", {"do": "delete parent", "parent": folder.id})
        s.relate("holds", folder.id, note.id)
    plugin = platform.pm.get_plugin("selfish")
    with platform.session() as s:
        s.delete(folder.id)
    with platform.session() as s:
        kinds = [a["kind"] for a in s.history(folder.id)]
        assert kinds.count("deleted") == 1
    assert sorted(plugin.after_deletes) == sorted([folder.id, note.id])


def test_a_timeline_with_related_records_binds_no_parameter_per_related_record(platform):
    """A list of ids in Python bound one parameter per related record: PostgreSQL takes at
    most 65,535, so a record linked to more could not show its timeline."""
    bound = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT") and "xrm_activities" in statement and "ORDER BY" in statement:
            bound.append(len(parameters))

    with platform.session() as s:
        hub = s.create("note", {})
        s.relate_many("links", [(hub.id, s.create("note", {"n": i}).id) for i in range(3)])
    event.listen(platform.engine, "before_cursor_execute", count)
    try:
        with platform.session() as s:
            few = s.history(hub.id, include_related=True)
            s.relate_many("links", [(hub.id, s.create("note", {"n": i}).id) for i in range(40)])
        with platform.session() as s:
            many = s.history(hub.id, include_related=True)
    finally:
        event.remove(platform.engine, "before_cursor_execute", count)
    assert len(few) == 1 + 3 * 2 + 3 and len(many) == 1 + 43 * 2 + 43  # created, related pairs
    assert len(bound) == 2 and bound[0] == bound[1]


def test_an_activity_kind_with_a_broken_payload_schema_is_refused_by_init(make_platform):
    class BadKinds:
        __name__ = "badkinds"

        @staticmethod
        @hookimpl
        def xrm_activity_kinds():
            return [{"name": "ir_call", "label": "Call", "payload": {"type": "nonsense"}}]

    with pytest.raises(DefinitionError) as e:
        make_platform(BadKinds())
    assert "badkinds" in str(e.value)
    assert [err["pointer"] for err in e.value.errors] == ["/payload/type"]
