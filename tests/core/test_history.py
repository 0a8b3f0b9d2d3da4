"""History: baseline, field-level diffs, deletes, links, user-logged interactions, timelines,
scope — and nothing, not even raw SQL, edits or deletes an activity."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select, text

from xrm_core import NotFound, ValidationError, db, hookimpl
from xrm_core.history import changes_payload, diff, merge_patch


def activity_count(platform) -> int:
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.activities)).scalar_one()


def changes_of(activity) -> dict:
    return {c["pointer"]: (c["old"], c["new"]) for c in activity["payload"]["changes"]}


# -- diff and merge patch ----------------------------------------------------------------
def test_diff_is_field_level_with_nested_pointers():
    old = {"a": 1, "gone": "x", "same": [1, 2], "obj": {"k": 1, "deep": {"z": 0}}, "arr": [1, 2],
           "n": 1, "weird/key~": 1, "to_obj": 1}
    new = {"a": 2, "same": [1, 2], "obj": {"k": 1, "deep": {"z": 1}, "new": True}, "arr": [2],
           "n": 1.5, "weird/key~": 2, "to_obj": {"x": 1}, "added": "y"}
    assert diff(old, new) == {
        "/a": (1, 2), "/gone": ("x", None), "/obj/deep/z": (0, 1), "/obj/new": (None, True),
        "/arr": ([1, 2], [2]), "/n": (1, 1.5), "/weird~1key~0": (1, 2), "/to_obj": (1, {"x": 1}),
        "/added": (None, "y")}
    assert diff(old, old) == {}
    assert diff({"flag": 1}, {"flag": True}) == {"/flag": (1, True)}  # equal in Python, not in JSON


RFC_7396_EXAMPLES = [  # RFC 7396, Appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, result", RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396(target, patch, result):
    original = repr(target)
    assert merge_patch(target, patch) == result
    assert repr(target) == original  # the target is not modified


# -- what the core writes ----------------------------------------------------------------
def test_create_update_delete_are_recorded_with_actor_and_time(org):
    with org.session("manager_a") as s:
        rec = s.create("person", {"name": "Ada", "tags": ["a"], "address": {"city": "Qom", "line1": "1 Road"}})
    with org.session("manager_a") as s:
        s.update(rec.id, {"name": "Ada L", "tags": ["a", "b"], "age": 36,
                          "address": {"city": "Yazd", "line1": None}})
        s.update(rec.id, {"age": None})
        s.delete(rec.id)
        h = s.history(rec.id)
    assert [a["kind"] for a in h] == ["created", "updated", "updated", "deleted"]
    created, upd, upd2, deleted = h
    assert created["payload"] == {"data": {"name": "Ada", "tags": ["a"],
                                           "address": {"city": "Qom", "line1": "1 Road"}}}
    assert changes_of(upd) == {"/name": ("Ada", "Ada L"), "/tags": (["a"], ["a", "b"]), "/age": (None, 36),
                               "/address/city": ("Qom", "Yazd"), "/address/line1": ("1 Road", None)}
    assert upd["payload"]["version"] == 2 and "name" in upd["summary"]
    assert changes_of(upd2) == {"/age": (36, None)}
    assert deleted["payload"]["data"]["name"] == "Ada L" and deleted["payload"]["version"] == 3
    for a in h:
        assert a["record"] == rec.id and a["actor"] == "manager_a" and a["at"].endswith("Z")
        assert set(a) == {"id", "record", "kind", "at", "actor", "summary", "payload"}
    assert [a["at"] for a in h] == sorted(a["at"] for a in h)
    assert [a["id"] for a in h] == sorted(a["id"] for a in h)


def test_links_are_recorded_on_both_records(org):
    with org.session() as s:
        a = s.create("person", {"name": "A"}).id
        b = s.create("person", {"name": "B"}).id
        rel = s.relate("knows", a, b)
        s.unrelate(rel["id"])
        for rid, other, direction in ((a, b, "outgoing"), (b, a, "incoming")):
            related, unrelated = s.history(rid)[1:]
            for act, kind in ((related, "related"), (unrelated, "unrelated")):
                assert act["kind"] == kind and act["actor"] == "admin"
                assert act["payload"] == {"relationship": rel["id"], "type": "knows",
                                          "direction": direction, "other": other}


def test_history_limit(org):
    with org.session() as s:
        rid = s.create("person", {"name": "A"}).id
        for i in range(4):
            s.update(rid, {"age": i})
        assert [a["kind"] for a in s.history(rid, limit=2)] == ["created", "updated"]


def test_history_pages_by_position_in_both_orders(org):
    """Pages of (at, id) keyset positions: every entry once, in order, whatever the page size
    — entries of one transaction share their time and are kept apart by id."""
    with org.session() as s:
        rid = s.create("person", {"name": "A"}).id
        for i in range(6):
            s.update(rid, {"age": i})
    with org.session() as s:
        s.log(rid, "call", "later")
        whole = s.history(rid)
        assert len(whole) == 8
        for newest_first in (False, True):
            expected = whole[::-1] if newest_first else whole
            for size in (1, 3, 8, 20):
                seen, after = [], None
                while True:
                    page = s.history(rid, limit=size, newest_first=newest_first, after=after)
                    seen += page
                    if len(page) < size:
                        break
                    after = (page[-1]["at"], page[-1]["id"])
                assert seen == expected, (newest_first, size)
        assert s.history(rid, newest_first=True, limit=1)[0]["kind"] == "call"
        last = whole[-1]
        assert s.history(rid, after=(last["at"], last["id"])) == []  # past the end: empty, not 404


# -- logged interactions -----------------------------------------------------------------
def test_log_a_declared_kind(org):
    with org.session("agent_a") as s:
        rid = s.create("person", {"name": "A"}).id
        logged = s.log(rid, "call", "asked about the warranty", {"minutes": 4})
        assert logged == s.history(rid)[-1]
    assert (logged["kind"], logged["actor"], logged["summary"], logged["payload"]) == (
        "call", "agent_a", "asked about the warranty", {"minutes": 4})
    assert logged["at"].endswith("Z") and logged["record"] == rid


def test_log_refuses_bad_input_and_writes_nothing(org):
    with org.session() as s:
        rid = s.create("person", {"name": "A"}).id
    before = activity_count(org)
    for kind, summary, payload, pointer in [
        ("fax", "x", None, "/kind"),
        ("created", "x", None, "/kind"),      # core kinds are written by the core only
        ("updated", "x", None, "/kind"),
        ("call", "", None, "/summary"),
        ("call", "   ", None, "/summary"),
        ("call", "x", ["not", "an", "object"], "/payload"),
        ("call", "a\x00b", None, "/summary"),  # stored on SQLite, a database error on PostgreSQL
        ("call", "\ud800", None, "/summary"),
        ("call", "red \x1b[31m text", None, "/summary"),
        ("call", "x\x7f", None, "/summary"),
    ]:
        with pytest.raises(ValidationError) as e:
            with org.session() as s:
                s.log(rid, kind, summary, payload)
        assert [x["pointer"] for x in e.value.errors] == [pointer]
        if pointer == "/kind":
            assert "call, email" in e.value.message
    assert activity_count(org) == before
    with org.session() as s:  # tabs and line breaks are text
        assert s.log(rid, "call", "line 1\r\n\tline 2", None)["summary"] == "line 1\r\n\tline 2"


class VisitKind:
    __name__ = "visits"

    @hookimpl
    def xrm_activity_kinds(self):
        return [{"name": "visit", "label": "Visit", "payload": {
            "type": "object", "properties": {"minutes": {"type": "integer", "minimum": 1}},
            "required": ["minutes"]}}]


def test_log_checks_the_payload_schema_of_its_kind(make_platform):
    p = make_platform(PersonPlugin(), VisitKind())
    with p.session() as s:
        rid = s.create("person", {"name": "A"}).id
        assert s.log(rid, "visit", "showroom", {"minutes": 30})["payload"] == {"minutes": 30}
    before = activity_count(p)
    for payload, pointer in (({"minutes": 0}, "/payload/minutes"), ({}, "/payload/minutes"), (None, "/payload/minutes")):
        with pytest.raises(ValidationError) as e:
            with p.session() as s:
                s.log(rid, "visit", "showroom", payload)
        assert [x["pointer"] for x in e.value.errors] == [pointer]
    assert activity_count(p) == before


def test_log_needs_a_visible_record(org):
    with org.session("manager_b") as s:
        rid = s.create("person", {"name": "B"}).id
    before = activity_count(org)
    for user in ("manager_a", "nobody"):
        with pytest.raises(NotFound):
            with org.session(user) as s:
                s.log(rid, "call", "hello")
    assert activity_count(org) == before


# -- timelines and scope -----------------------------------------------------------------
def test_timeline_includes_related_records(org):
    with org.session("manager_a") as s:
        a = s.create("person", {"name": "A"}).id
        note = s.create("note", {"text": "n"}).id
        s.relate("has_note", a, note)
        s.update(note, {"text": "n2"})
        s.log(note, "email", "sent the note")
        plain = s.history(a)
        full = s.history(a, include_related=True)
    assert all(x["record"] == a for x in plain) and "record_type" not in plain[0]
    assert [(x["record_type"], x["kind"]) for x in full] == [
        ("person", "created"), ("note", "created"), ("person", "related"), ("note", "related"),
        ("note", "updated"), ("note", "email")]


def test_timeline_leaves_out_related_records_outside_scope(org):
    with org.session("manager_a") as s:
        a = s.create("person", {"name": "A"}).id
    with org.session("manager_b") as s:
        hidden = s.create("person", {"name": "H"}).id
        s.log(hidden, "call", "secret call")
    with org.session() as s:
        rel = s.relate("knows", a, hidden)["id"]
    with org.session("manager_a") as s:
        full = s.history(a, include_related=True)
    assert [(x["record"], x["kind"]) for x in full] == [(a, "created")]
    assert hidden not in str(full) and rel not in str(full)
    with org.session("analyst") as s:  # whoever can read both sees the link
        assert s.history(a)[-1]["payload"]["other"] == hidden


@pytest.fixture
def linked_across_units(org):
    """Records of dealer_a (manager_a's unit) linked by the admin with one of dealer_b
    (manager_b's unit), in both directions, then one link removed; ``a`` is also linked
    with ``b``, its neighbour in dealer_a, and ``b`` with the dealer_b record too."""
    with org.session("manager_a") as s:
        a = s.create("person", {"name": "A"}).id
        b = s.create("person", {"name": "B"}).id
    with org.session("manager_b") as s:
        hidden = s.create("person", {"name": "H"}).id
    with org.session() as s:
        rels = [s.relate("knows", a, hidden)["id"], s.relate("knows", hidden, a)["id"]]
        s.relate("knows", a, b)
        rels.append(s.relate("knows", b, hidden)["id"])
        s.unrelate(rels[0])
    return org, a, b, hidden, rels


def test_history_leaves_out_links_with_records_outside_scope(linked_across_units):
    org, a, b, hidden, rels = linked_across_units
    with org.session("manager_a") as s:
        plain, full = s.history(a), s.history(a, include_related=True)
        first_two = s.history(a, limit=2)
    assert [(x["kind"], (x["payload"] or {}).get("other")) for x in plain] == [("created", None), ("related", b)]
    assert [(x["record"], x["kind"]) for x in full] == [(a, "created"), (b, "created"), (a, "related"), (b, "related")]
    assert first_two == plain  # the limit counts only what the reader sees
    for timeline in (plain, full):
        shown = json.dumps(timeline)
        assert hidden not in shown and not any(rel in shown for rel in rels)
        assert "cannot see" not in shown
    with org.session("manager_b") as s:  # the same from the other side
        assert [x["kind"] for x in s.history(hidden, include_related=True)] == ["created"]
    for user in ("admin", "analyst"):  # whoever can read both ends sees every link
        with org.session(user) as s:
            links = [(x["kind"], x["payload"]["relationship"], x["payload"]["other"])
                     for x in s.history(a) if x["kind"] in ("related", "unrelated")]
        assert links == [("related", rels[0], hidden), ("related", rels[1], hidden),
                         ("related", links[2][1], b), ("unrelated", rels[0], hidden)]


def test_history_leaves_out_links_with_deleted_records_outside_scope(linked_across_units):
    org, a, b, hidden, rels = linked_across_units
    with org.session("manager_b") as s:
        s.delete(hidden)  # leaves an `unrelated` (deleted) on a and b, naming it
    with org.session("manager_a") as s:
        s.delete(b)       # a deleted record's own timeline is filtered the same way
        timelines = {rid: s.history(rid) for rid in (a, b)}
    assert [x["kind"] for x in timelines[a]] == ["created", "related", "unrelated"]
    assert timelines[a][-1]["payload"]["other"] == b
    assert [x["kind"] for x in timelines[b]] == ["created", "related", "deleted"]
    assert timelines[b][1]["payload"]["other"] == a
    assert hidden not in json.dumps(timelines)
    with org.session() as s:
        assert [x["payload"]["other"] for x in s.history(a) if x["kind"] == "unrelated"] == [hidden, hidden, b]


def test_history_of_a_hidden_record_is_not_found(org):
    with org.session("manager_b") as s:
        rid = s.create("person", {"name": "B"}).id
    for user in ("manager_a", "agent_a", "nobody"):
        with org.session(user) as s:
            with pytest.raises(NotFound) as e:
                s.history(rid)
            with pytest.raises(NotFound) as unknown:
                s.history("0" * 20)
            assert str(e.value).replace(rid, "ID") == str(unknown.value).replace("0" * 20, "ID")


def test_history_of_a_deleted_record_stays_visible_to_its_readers(org):
    with org.session("manager_a") as s:
        rid = s.create("person", {"name": "A"}).id
        other = s.create("person", {"name": "B"}).id
        s.relate("knows", other, rid)
        s.delete(rid)
    for user in ("manager_a", "analyst", "north_lead", "admin"):
        with org.session(user) as s:
            assert [a["kind"] for a in s.history(rid)][-1] == "deleted"
            # the unlink left on the surviving record still names it for its readers
            assert s.history(other)[-1]["payload"]["other"] == rid
    for user in ("manager_b", "nobody", "agent_a"):
        with org.session(user) as s:
            with pytest.raises(NotFound):
                s.history(rid)


# -- append-only -------------------------------------------------------------------------
_COLUMNS = "id, record_id, record_type, unit_id, owner_id, kind, at, actor, summary, payload"
_FORGED = (f"INSERT INTO xrm_activities ({_COLUMNS}) SELECT id, record_id, record_type, unit_id, owner_id, "
           "kind, at, 'forger', 'rewritten', payload FROM xrm_activities WHERE kind = 'created'")
#: Statements that replace a row without saying UPDATE or DELETE (SQLite's REPLACE deletes
#: the old row without firing a DELETE trigger).
REWRITES = {
    "sqlite": [_FORGED.replace("INSERT", "INSERT OR REPLACE", 1), _FORGED.replace("INSERT", "REPLACE", 1),
               _FORGED + " ON CONFLICT (id) DO UPDATE SET summary = 'rewritten'"],
    "postgresql": [_FORGED + " ON CONFLICT (id) DO UPDATE SET summary = 'rewritten'",
                   "MERGE INTO xrm_activities a USING (SELECT 1 AS id) s ON a.id = s.id WHEN MATCHED THEN DELETE"],
}


def test_no_sql_can_edit_or_delete_an_activity(org):
    with org.session() as s:
        rid = s.create("person", {"name": "A"}).id
        s.update(rid, {"age": 1})
        before = s.history(rid)
    for statement in ["UPDATE xrm_activities SET summary = 'rewritten'",
                      "UPDATE xrm_activities SET payload = NULL WHERE kind = 'created'",
                      "DELETE FROM xrm_activities",
                      "DELETE FROM xrm_activities WHERE kind = 'updated'",
                      *REWRITES[org.engine.dialect.name]]:
        with pytest.raises(Exception, match="append-only"):
            with org.connection() as conn:
                conn.execute(text(statement))
    with org.session() as s:
        assert s.history(rid) == before


def test_truncate_is_refused_on_postgresql(org):
    with org.session() as s:
        s.create("person", {"name": "A"})
    if org.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(Exception, match="append-only"):
        with org.connection() as conn:
            conn.execute(text("TRUNCATE xrm_activities"))
    assert activity_count(org) == 1


class FollowUp:
    """Logs a call on every person from its after_create / after_update hooks."""

    __name__ = "testfollowup"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record, session):
        if record.type == "person" and event in ("after_create", "after_update"):
            session.log(record.id, "call", f"follow-up of {event}")


def test_a_records_own_activity_comes_before_what_its_hooks_logged(make_platform, tmp_path):
    """The timeline reads created → the hook's call → updated → the hook's call, whether the
    record came from create, update or an import (which writes a batch's history last)."""
    from xrm_core.importer import import_file
    p = make_platform(PersonPlugin(), FollowUp())
    f = tmp_path / "p.jsonl"
    f.write_text('{"name": "Imported"}\n', encoding="utf-8")
    with p.session() as s:
        made = s.create("person", {"name": "Made"})
        s.update(made.id, {"age": 3})
        assert import_file(s, "person", str(f))["imported"] == 1
        imported = next(r for r in s.list("person") if r.data["name"] == "Imported")
        assert [(a["kind"], a["summary"]) for a in s.history(made.id)] == [
            ("created", "created person"), ("call", "follow-up of after_create"),
            ("updated", "updated age"), ("call", "follow-up of after_update")]
        created, call = s.history(imported.id)
        assert (created["kind"], call["kind"]) == ("created", "call")
        assert created["payload"]["data"] == {"name": "Imported"}


def test_changes_say_whether_a_member_was_added_removed_or_replaced():
    """``old``/``new`` are null for an absent member; ``op`` tells a stored null from it,
    with pointers escaped as RFC 6901 escapes them (``/`` as ``~1``, ``~`` as ``~0``)."""
    before = {"a/b": 1, "~k": None, "o": {"x": None, "y": 2}, "gone": "v"}
    after = {"a/b": 2, "new~": None, "o": {"x": 3, "z": None}}
    ops = {c["pointer"]: (c["old"], c["new"], c["op"]) for c in changes_payload(diff(before, after), before, after)}
    assert ops == {
        "/a~1b": (1, 2, "replace"),
        "/~0k": (None, None, "remove"),      # a stored null removed
        "/new~0": (None, None, "add"),       # a null stored where nothing was
        "/o/x": (None, 3, "replace"),        # a stored null replaced
        "/o/y": (2, None, "remove"),
        "/o/z": (None, None, "add"),
        "/gone": ("v", None, "remove"),
    }
