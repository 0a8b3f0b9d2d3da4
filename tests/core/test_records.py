"""Records: create/get/list, merge-patch update, versions, conditional writes, unique
conflicts, units, and hooks that fail — every refused write leaves the database as before."""
from __future__ import annotations

import re

import orjson

import pytest
from argon2 import PasswordHasher
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import (
    Conflict, NotFound, PermissionDenied, PluginError, PreconditionFailed, ValidationError, accounts, db,
    hookimpl,
)

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")



@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """The org fixture hashes eight passwords; cheap argon2 parameters keep these tests fast."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def snapshot(platform) -> dict:
    """Row counts and every record's (id, version, data): 'the database exactly as before'."""
    with platform.engine.connect() as conn:
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (db.records, db.activities, db.relationships)}
        rows = conn.execute(select(db.records.c.id, db.records.c.version, db.records.c.data)
                            .order_by(db.records.c.id)).all()
    return {"counts": counts, "rows": [tuple(r) for r in rows]}


def pointers(err) -> set[str]:
    return {e["pointer"] for e in err.errors}


# -- create / get ------------------------------------------------------------------------
def test_create_sets_version_owner_unit_and_stamps(org):
    with org.session("agent_a") as s:
        rec = s.create("person", {"name": "Ada", "age": 36})
    assert rec.version == 1
    assert (rec.owner, rec.unit, rec.created_by, rec.updated_by) == ("agent_a", "dealer_a", "agent_a", "agent_a")
    assert STAMP.match(rec.created_at) and rec.created_at == rec.updated_at
    with org.session("agent_a") as s:
        got = s.get(rec.id)
    assert got.to_dict() == rec.to_dict()
    assert set(got.to_dict()) >= {"id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"}
    assert got.etag == '"1"'


def test_create_does_not_keep_a_reference_to_the_callers_dict(org):
    data = {"name": "Ada", "tags": ["a"]}
    with org.session() as s:
        rec = s.create("person", data)
        data["tags"].append("b")
        assert s.get(rec.id).data == {"name": "Ada", "tags": ["a"]}


def test_get_unknown_or_malformed_id_is_not_found(org):
    with org.session() as s:
        for bad in ("nope", "", 42, None):
            with pytest.raises(NotFound):
                s.get(bad)


def test_invalid_data_is_refused_with_pointers_and_nothing_stored(org):
    before = snapshot(org)
    with pytest.raises(ValidationError) as e:
        with org.session() as s:
            s.create("person", {"name": "", "age": -1, "email": "not an email", "tags": "x"})
    assert pointers(e.value) == {"/data/name", "/data/age", "/data/email", "/data/tags"}
    assert "/data/age" in str(e.value)
    with pytest.raises(ValidationError) as e:
        with org.session() as s:
            s.create("person", {"age": 3})
    assert e.value.errors and "name" in str(e.value)
    with pytest.raises(ValidationError) as e:
        with org.session() as s:
            s.create("person", ["not", "an", "object"])
    assert pointers(e.value) == {"/data"}
    with pytest.raises(NotFound):
        with org.session() as s:
            s.create("no_such_type", {"name": "x"})
    assert snapshot(org) == before


# -- units -------------------------------------------------------------------------------
@pytest.fixture
def regional_creator(org):
    """north_boss: creates persons anywhere in the north subtree."""
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "regional_creator", "grants": [
            {"type": "person", "actions": ["read", "create"], "depth": "subtree"}]})
        accounts.create_user(conn, "north_boss", "north", ["regional_creator"])
    return org


def test_create_in_a_unit_within_scope(regional_creator):
    org = regional_creator
    with org.session("north_boss") as s:
        assert s.create("person", {"name": "A"}, unit="dealer_a").unit == "dealer_a"
        assert s.create("person", {"name": "B"}).unit == "north"
    with org.session("manager_a") as s:
        assert s.create("person", {"name": "C"}, unit="dealer_a").unit == "dealer_a"
    with org.session() as s:
        rec = s.create("person", {"name": "D"}, unit="dealer_b")
    assert (rec.owner, rec.unit) == ("admin", "dealer_b")


def test_create_outside_scope_is_refused(regional_creator):
    before = snapshot(regional_creator)
    for user, unit, error in [
        ("north_boss", "dealer_b", PermissionDenied),   # subtree, but another branch
        ("north_boss", "hq", PermissionDenied),          # above the user's unit
        ("manager_a", "north", PermissionDenied),        # unit depth: own unit only
        ("agent_a", "dealer_b", PermissionDenied),       # own depth: own unit only
        ("north_lead", None, PermissionDenied),          # no create grant at all
        ("nobody", None, PermissionDenied),
        # a unit that does not exist is refused like one outside the scope: trying names
        # must not tell a scoped user which units exist (only an all-depth creator hears
        # "unknown unit": tests/web/test_audit11api_units.py)
        ("manager_a", "atlantis", PermissionDenied),
    ]:
        with pytest.raises(error) as e:
            with regional_creator.session(user) as s:
                s.create("person", {"name": "X"}, unit=unit)
        assert (unit or user) in str(e.value)
    assert snapshot(regional_creator) == before


# -- list --------------------------------------------------------------------------------
@pytest.fixture
def people(org):
    ages = [30, 10, 50, 20, 40, 20]
    with org.session() as s:
        return [s.create("person", {"name": f"p{i}", "age": a}) for i, a in enumerate(ages)]


def test_list_limit_and_where(org, people):
    with org.session() as s:
        assert len(s.list("person")) == 6
        assert len(s.list("person", limit=4)) == 4
        assert s.list("person", limit=0) == []
        assert {r.data["name"] for r in s.list("person", where={"age": 20})} == {"p3", "p5"}
        assert {r.data["name"] for r in s.list("person", where={"age": {"gte": 40}})} == {"p2", "p4"}
        assert s.count("person", {"age": {"lt": 25}}) == 3


def test_list_sort_and_keyset_pages(org, people):
    with org.session() as s:
        by_age = s.list("person", sort=["age"])
        assert [r.data["age"] for r in by_age] == [10, 20, 20, 30, 40, 50]
        desc = s.list("person", sort=["-age", "name"])
        assert [r.data["name"] for r in desc] == ["p2", "p4", "p0", "p3", "p5", "p1"]
        # Page through two at a time with the keyset cursor: no row lost, none repeated.
        seen, after = [], None
        while True:
            page = s.list("person", sort=["-age"], limit=2, after=after)
            if not page:
                break
            seen += [r.id for r in page]
            after = (page[-1].data["age"], page[-1].id)
        assert seen == [r.id for r in s.list("person", sort=["-age"])]
        assert len(set(seen)) == 6
        # Without a sort the id orders, and the cursor is the id alone.
        ids = [r.id for r in s.list("person")]
        assert ids == sorted(ids)
        assert [r.id for r in s.list("person", after=(ids[2],))] == ids[3:]


def test_list_refuses_bad_sort_and_cursor(org, people):
    with org.session() as s:
        with pytest.raises(ValidationError) as e:
            s.list("person", sort=["shoe_size"])
        assert pointers(e.value) == {"/sort/0"}
        with pytest.raises(ValidationError):
            s.list("person", sort=["age"], after=("x",))


# -- update ------------------------------------------------------------------------------
def test_update_is_a_json_merge_patch(org):
    with org.session("agent_a") as s:
        rec = s.create("person", {"name": "Ada", "email": "ada@example.org", "tags": ["a", "b"],
                                  "address": {"city": "Tabriz", "line1": "1 Road", "region": "East"}})
    with org.session("agent_a") as s:
        new = s.update(rec.id, {"email": None, "tags": ["c"], "age": 3,
                                "address": {"city": "Qom", "region": None}})
    assert new.data == {"name": "Ada", "tags": ["c"], "age": 3, "address": {"city": "Qom", "line1": "1 Road"}}
    assert new.version == 2 and new.updated_by == "agent_a" and new.updated_at >= rec.updated_at
    with org.session("agent_a") as s:
        assert s.get(rec.id).data == new.data
        s.update(rec.id, {"address": None, "missing_already": None})
        assert "address" not in s.get(rec.id).data


class ContactPlugin:
    __name__ = "contacts"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "contact", "schema": {"type": "object", "properties": {
            "name": {"type": "string"},
            "office": {"type": "object", "properties": {"floor": {"type": ["integer", "null"]},
                                                         "room": {"type": "string"}}}}}}]


def test_an_update_may_replace_members_whole_keeping_a_null_inside(make_platform):
    """A merge patch reads a null anywhere as "remove": ``replace_members`` sets each named
    member as it is, so a null inside an object is stored; a top-level null still removes."""
    p = make_platform(ContactPlugin())
    with p.session() as s:
        rec = s.create("contact", {"name": "Ada", "office": {"floor": 3, "room": "3.14"}})
        merged = s.update(rec.id, {"office": {"floor": None}})
        assert merged.data["office"] == {"room": "3.14"}  # the merge patch removed the key
        new = s.update(rec.id, {"office": {"floor": None}}, if_version=2, replace_members=True)
    assert new.data == {"name": "Ada", "office": {"floor": None}} and new.version == 3
    with p.session() as s:
        assert s.get(rec.id).data == {"name": "Ada", "office": {"floor": None}}
        assert s.history(rec.id)[-1]["payload"]["changes"] == [  # absent and null told apart by op
            {"pointer": "/office/floor", "old": None, "new": None, "op": "add"},
            {"pointer": "/office/room", "old": "3.14", "new": None, "op": "remove"}]
        assert s.update(rec.id, {"office": {"floor": None}}, replace_members=True).version == 3  # no change
        assert s.update(rec.id, {"name": None}, replace_members=True).data == {"office": {"floor": None}}
        with pytest.raises(PreconditionFailed):
            s.update(rec.id, {"name": "B"}, if_version=1, replace_members=True)
        with pytest.raises(ValidationError) as e:
            s.update(rec.id, {"office": {"floor": "3"}}, replace_members=True)
        assert pointers(e.value) == {"/data/office/floor"}
        assert s.get(rec.id).version == 4


def test_version_increases_by_one_per_change_and_not_for_a_noop(org):
    with org.session() as s:
        rec = s.create("person", {"name": "Ada"})
        for i in range(2, 5):
            assert s.update(rec.id, {"age": i}).version == i
        assert s.update(rec.id, {"age": 4}).version == 4       # nothing changes
        assert s.update(rec.id, {"email": None}).version == 4  # removing an absent field
        assert [a["kind"] for a in s.history(rec.id)] == ["created"] + ["updated"] * 3
        assert s.get(rec.id).version == 4


def test_update_records_who_changed_it(org):
    with org.session("agent_a") as s:
        rec = s.create("person", {"name": "Ada"})
    with org.session("manager_a") as s:
        new = s.update(rec.id, {"age": 1})
    assert (new.owner, new.created_by, new.updated_by) == ("agent_a", "agent_a", "manager_a")
    assert new.updated_at > new.created_at


def test_if_version(org):
    with org.session() as s:
        rec = s.create("person", {"name": "Ada"})
        assert s.update(rec.id, {"age": 1}, if_version=1).version == 2
    before = snapshot(org)
    with pytest.raises(PreconditionFailed) as e:
        with org.session() as s:
            s.update(rec.id, {"age": 2}, if_version=1)
    assert "version 2" in str(e.value)
    assert snapshot(org) == before


class BumpVersion:
    """Simulates a concurrent writer: bumps the stored version between read and write."""

    __name__ = "bumper"

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event == "before_update":
            session.conn.execute(db.records.update().where(db.records.c.id == record.id)
                                 .values(version=db.records.c.version + 1))


def test_the_update_itself_is_conditional_on_the_version_read(make_platform):
    p = make_platform(PersonPlugin(), BumpVersion())
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    before = snapshot(p)
    with pytest.raises(PreconditionFailed) as e:
        with p.session() as s:
            s.update(rec.id, {"age": 1})
    assert "changed concurrently" in str(e.value)
    assert snapshot(p) == before


def test_invalid_patch_is_refused_and_nothing_changes(org):
    with org.session() as s:
        rec = s.create("person", {"name": "Ada", "age": 3})
    before = snapshot(org)
    with pytest.raises(ValidationError) as e:
        with org.session() as s:
            s.update(rec.id, {"age": "three", "name": None, "address": {"planet": "Mars"}})
    assert pointers(e.value) == {"/data/age", "/data/name", "/data/address/planet"}
    assert "name" in str(e.value)
    with pytest.raises(ValidationError) as e:
        with org.session() as s:
            s.update(rec.id, [1, 2])
    assert pointers(e.value) == {"/data"}
    assert snapshot(org) == before


# -- unique ------------------------------------------------------------------------------
def test_unique_conflict_names_field_and_visible_record(org):
    with org.session("manager_a") as s:
        first = s.create("person", {"name": "A", "national_id": "N1"})
        s.create("person", {"name": "B", "national_id": "N2"})
    before = snapshot(org)
    with pytest.raises(Conflict) as e:
        with org.session("manager_a") as s:
            s.create("person", {"name": "again", "national_id": "N1"})
    err = e.value
    assert err.status == 409 and "national_id" in err.message and first.id in err.message
    assert pointers(err) == {"/data/national_id"} and err.extra["existing"] == first.id
    with pytest.raises(Conflict) as e:
        with org.session("manager_a") as s:
            other = s.list("person", where={"national_id": "N2"})[0]
            s.update(other.id, {"national_id": "N1"})
    assert first.id in e.value.message
    assert snapshot(org) == before
    with org.session("manager_a") as s:  # keeping one's own value is no conflict
        assert s.update(first.id, {"national_id": "N1", "age": 5}).version == 2


def test_unique_conflict_hides_a_record_the_caller_cannot_read(org):
    with org.session("manager_a") as s:
        hidden = s.create("person", {"name": "A", "national_id": "N1"})
    before = snapshot(org)
    for user in ("manager_b", "agent_a"):
        with pytest.raises(Conflict) as e:
            with org.session(user) as s:
                s.create("person", {"name": "B", "national_id": "N1"})
        err = e.value
        assert "national_id" in err.message and hidden.id not in str(err.to_dict())
        assert "existing" not in err.extra and pointers(err) == {"/data/national_id"}
    assert snapshot(org) == before


# -- delete ------------------------------------------------------------------------------
def test_delete(org):
    with org.session("manager_a") as s:
        rec = s.create("person", {"name": "A"})
    with org.session("manager_a") as s:
        s.delete(rec.id)
        with pytest.raises(NotFound):
            s.get(rec.id)
        assert s.history(rec.id)[-1]["kind"] == "deleted"
    with pytest.raises(NotFound):
        with org.session("manager_a") as s:
            s.delete(rec.id)


# -- hooks that fail ---------------------------------------------------------------------
class Failing:
    """Raises ``error`` at ``event``; may first write something, to prove it is undone."""

    __name__ = "failing"

    def __init__(self, event, error, write_first=False):
        self.event, self.error, self.write_first = event, error, write_first

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event != self.event or record.type != "person":
            return
        if self.write_first:
            session.create("note", {"text": "side effect"})
        raise self.error


@pytest.mark.parametrize("error, expected", [(RuntimeError("boom"), PluginError),
                                             (ValidationError("refused by rule"), ValidationError)])
def test_a_failing_hook_leaves_the_database_as_before(make_platform, error, expected):
    hook = Failing("never", error, write_first=True)
    p = make_platform(PersonPlugin(), hook)
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
        note = s.create("note", {"text": "n"})
        s.relate("has_note", rec.id, note.id)  # a delete would cascade to the note
    before = snapshot(p)
    for event in ("before_create", "after_create", "before_update", "after_update", "before_delete",
                  "after_delete"):
        hook.event = event
        with pytest.raises(expected) as e:
            with p.session() as s:
                if event.endswith("create"):
                    s.create("person", {"name": "Bob"})
                elif event.endswith("update"):
                    s.update(rec.id, {"age": 1})
                else:
                    s.delete(rec.id)
        if expected is PluginError:
            assert "failing" in str(e.value) and event in str(e.value) and "boom" in str(e.value)
        else:
            assert str(e.value) == "refused by rule"
        assert snapshot(p) == before, event


def test_a_failed_write_is_undone_even_if_the_caller_carries_on(make_platform):
    p = make_platform(PersonPlugin(), Failing("after_create", RuntimeError("boom"), write_first=True))
    before = snapshot(p)
    with p.session() as s:
        with pytest.raises(PluginError):
            s.create("person", {"name": "Bob"})
        assert s.count("person") == 0 and s.count("note") == 0
    assert snapshot(p) == before


class Rewriter:
    """before_* hooks that change the new state, to check it is validated and diffed again."""

    __name__ = "rewriter"

    def __init__(self, change, events=("before_create", "before_update")):
        self.change, self.events = change, events

    @hookimpl
    def xrm_record_event(self, event, record):
        if event in self.events:
            record.data.update(self.change)


def test_data_changed_by_a_before_hook_is_stored_and_diffed(make_platform):
    p = make_platform(PersonPlugin(), Rewriter({"vip": True}))
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
        assert s.get(rec.id).data == {"name": "Ada", "vip": True}
        rec = s.create("person", {"name": "Bob"})
        s.conn.execute(db.records.update().where(db.records.c.id == rec.id)
                       .values(data={"name": "Bob", "vip": False}))
        new = s.update(rec.id, {"age": 3})
        assert new.data == s.get(rec.id).data == {"name": "Bob", "vip": True, "age": 3}
        changes = s.history(rec.id)[-1]["payload"]["changes"]
        assert {c["pointer"]: (c["old"], c["new"]) for c in changes} == {"/age": (None, 3), "/vip": (False, True)}


def test_data_made_invalid_by_a_before_hook_is_refused(make_platform):
    hook = Rewriter({"age": -1}, events=())
    p = make_platform(PersonPlugin(), hook)
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    before = snapshot(p)
    for event in ("before_create", "before_update"):
        hook.events = (event,)
        with pytest.raises(ValidationError) as e:
            with p.session() as s:
                if event == "before_create":
                    s.create("person", {"name": "Bob"})
                else:
                    s.update(rec.id, {"name": "Bob"})
        assert pointers(e.value) == {"/data/age"}
    assert snapshot(p) == before


def test_nul_characters_are_refused_alike_on_both_engines(platform, tmp_path):
    from xrm_core.importer import import_file
    with platform.session() as s:
        with pytest.raises(ValidationError) as exc:
            s.create("person", {"name": "a\x00b", "tags": ["ok", "x\x00"]})
        assert {e["pointer"] for e in exc.value.errors} == {"/data/name", "/data/tags/1"}
        rec = s.create("person", {"name": "ok"})
        with pytest.raises(ValidationError):
            s.update(rec.id, {"name": "\x00"})
    f = tmp_path / "nul.jsonl"
    f.write_text('{"name": "fine"}\n{"name": "bad\\u0000"}\n', encoding="utf-8")
    with platform.session() as s:
        report = import_file(s, "person", str(f), skip_invalid=True)
    assert report["imported"] == 1
    assert report["invalid"] == [{"line": 2, "errors": [
        {"pointer": "/name", "message": "the NUL character (\\u0000) cannot be stored"}]}]


def _nested(levels: int):
    """``levels`` objects, each inside the last: {"a": {"a": … {} …}}."""
    node: dict = {}
    for _ in range(levels - 1):
        node = {"a": node}
    return node


@pytest.mark.parametrize("levels", [65, 300, 900])
def test_data_nested_too_deep_is_refused_everywhere_and_reads_keep_working(platform, tmp_path, levels):
    """JSON sets no depth limit but orjson writes at most 254 levels: data nested past that
    was stored and then broke every read of it. Refused beyond MAX_DEPTH (64) on every
    write path, with the pointer of the first object too deep."""
    from xrm_core import stored_json
    from xrm_core.importer import import_file
    deepest_ok = {"name": "ok", "extra": _nested(stored_json.MAX_DEPTH - 1)}  # 64 objects with the data's own
    too_deep = {"name": "deep", "extra": _nested(levels - 1)}
    where = "/data/extra" + "/a" * (stored_json.MAX_DEPTH - 1)  # the object at depth 64
    with platform.session() as s:
        ok = s.create("person", deepest_ok)
        with pytest.raises(ValidationError, match="nested too deeply") as exc:
            s.create("person", too_deep)
        assert [e["pointer"] for e in exc.value.errors] == [where]
        with pytest.raises(ValidationError, match="nested too deeply"):
            s.update(ok.id, {"extra": too_deep["extra"]})
        with pytest.raises(ValidationError, match="cannot be stored"):
            s.log(ok.id, "call", "deep payload", {"x": too_deep["extra"]})
    f = tmp_path / "deep.jsonl"
    f.write_bytes(orjson.dumps({"name": "fine"}) + b"\n" + b'{"name": "deep", "extra": ' + b'{"a": ' * (levels - 2)
                  + b"{}" + b"}" * (levels - 2) + b"}\n")
    with platform.session() as s:
        report = import_file(s, "person", str(f), skip_invalid=True)
        assert report["imported"] == 1
        assert [(r["line"], [e["pointer"] for e in r["errors"]]) for r in report["invalid"]] == [
            (2, [where.removeprefix("/data")])]
        # Everything stored reads back: the record, a page of records, its history.
        assert s.get(ok.id).data == deepest_ok
        assert len(s.list("person", limit=1000)) == 2
        assert orjson.loads(orjson.dumps(s.history(ok.id)))[0]["payload"]["data"] == deepest_ok


def test_integers_beyond_64_bits_are_refused_with_their_pointer(platform, tmp_path):
    from xrm_core.importer import import_file
    with platform.session() as s:
        for big in (2**64, 2**63, -2**63 - 1):
            with pytest.raises(ValidationError, match="beyond signed 64 bits") as exc:
                s.create("person", {"name": "big", "extra": [1, {"x": big}]})
            assert [e["pointer"] for e in exc.value.errors] == ["/data/extra/1/x"]
            assert "store it as a string" in exc.value.errors[0]["message"]
        s.create("person", {"name": "fits", "extra": [2**63 - 1, -2**63, 1234567890123456789.5, "12345678901234567890"]})
    f = tmp_path / "big.jsonl"
    f.write_text('{"name": "fine"}\n{"name": "big", "extra": 18446744073709551616}\n'
                 '{"name": "unsigned", "extra": 9223372036854775808}\n', encoding="utf-8")
    with platform.session() as s:
        report = import_file(s, "person", str(f), skip_invalid=True)
    assert report["imported"] == 1 and [r["line"] for r in report["invalid"]] == [2, 3]


def test_filter_integers_beyond_64_bits_are_refused(platform):
    with platform.session() as s:
        with pytest.raises(ValidationError) as exc:
            s.list("person", {"age": {"gt": 2**70}})
        assert exc.value.errors[0]["pointer"] == "/where/age/gt"


def test_text_too_long_for_an_index_is_refused_alike_on_both_engines(platform, tmp_path):
    """PostgreSQL's B-tree refuses entries over 2,704 bytes with a database error; SQLite
    took any length. Indexed and unique fields hold at most 2,000 bytes of text on both."""
    from xrm_core.entity_types import KEY_TEXT_LIMIT
    from xrm_core.importer import import_file
    wide = "长" * 700  # 2,100 bytes in 700 characters
    with platform.session() as s:
        rec = s.create("person", {"name": "ok", "national_id": "N" * KEY_TEXT_LIMIT})  # just fits
        with pytest.raises(ValidationError, match="cannot be stored in its indexes") as exc:
            s.create("person", {"name": "wide", "national_id": wide})
        assert [(e["pointer"], e["message"]) for e in exc.value.errors] == [
            ("/data/national_id", "2,100 bytes of text in an indexed field: at most 2,000 (UTF-8)")]
        with pytest.raises(ValidationError, match="cannot be stored in its indexes"):
            s.update(rec.id, {"national_id": "N" * (KEY_TEXT_LIMIT + 1)})
        s.create("person", {"name": wide * 10})  # not indexed: any length
    f = tmp_path / "long.jsonl"
    f.write_text(f'{{"name": "fine"}}\n{{"name": "long", "national_id": "{wide}"}}\n', encoding="utf-8")
    with platform.session() as s:
        report = import_file(s, "person", str(f), skip_invalid=True)
    assert report["imported"] == 1 and [(r["line"], r["errors"][0]["pointer"]) for r in report["invalid"]] == [
        (2, "/national_id")]


@pytest.mark.parametrize("text, pointer", [
    (b'{"a": 1, "a" : 2}', "/a"), (b'{"a":1,\t"a"\t:2}', "/a"), (b'{"n": {"a": 1, "a": 2}}', "/n/a"),
    (b'[{"a": 1, "a": 2}, 5]', "/0/a"), ('{"a": {"x": 1}, "a": {"y": 2}}', "/a")])
def test_loads_exact_finds_every_repeated_key(text, pointer):
    """The byte count that spares ordinary rows a second parse must let no repeat through:
    a list as long as the keys it holds was one."""
    from xrm_core.stored_json import RepeatedKey, loads_exact
    with pytest.raises(RepeatedKey) as e:
        loads_exact(text)
    assert e.value.pointer == pointer
    assert loads_exact(b'{"a": "x\\": y", "b": [{"c": 1}]}') == {"a": 'x": y', "b": [{"c": 1}]}


def test_a_delete_may_be_conditional_on_the_version(org):
    """The REST API's DELETE with If-Match read the version, then deleted without checking
    it again: a change landing in between was deleted unseen."""
    with org.session() as s:
        rec = s.create("person", {"name": "Ada"})
        s.update(rec.id, {"age": 3})
    before = snapshot(org)
    with pytest.raises(PreconditionFailed), org.session() as s:
        s.delete(rec.id, if_version=1)
    assert snapshot(org) == before
    with org.session() as s:
        s.delete(rec.id, if_version=2)
    with pytest.raises(NotFound), org.session() as s:
        s.get(rec.id)
