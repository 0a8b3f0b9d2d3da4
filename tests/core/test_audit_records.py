"""Records audit: merge patches that only change JSON types, diffs in one order on both
engines, before_update hooks inside the update's savepoint, concurrent writers alike on
both engines, restrict inside a cascade independent of relationship order."""
from __future__ import annotations

import threading
import time

import pytest
from conftest import PersonPlugin
from sqlalchemy import select

from xrm_core import Conflict, NotFound, PreconditionFailed, ValidationError, db, hookimpl


def dump(platform) -> dict:
    """Every row of the record, relationship and activity tables: 'exactly as before'."""
    with platform.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
                for t in (db.records, db.relationships, db.activities)}


class Free:
    """Schema-free types and relationship types for cascade / restrict mixes."""

    __name__ = "audit_free"

    @hookimpl
    def xrm_entity_types(self):
        return [{"name": n, "schema": {"type": "object"}} for n in ("thing", "part", "bit")]

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "has_part", "source": "thing", "target": "part", "cardinality": "one-to-many",
                 "on_delete": "cascade"},
                {"name": "has_bit", "source": "part", "target": "bit", "cardinality": "one-to-many",
                 "on_delete": "cascade"},
                {"name": "pinned_to", "source": "bit", "target": "thing", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]


@pytest.fixture
def free(make_platform):
    return make_platform(Free())


# -- merge patch and diff ----------------------------------------------------------------
@pytest.mark.parametrize("old, new, pointer", [([1], [True], "/v"), ([1], [1.0], "/v"),
                                               ([{"a": 0}], [{"a": False}], "/v"),
                                               ({"k": [0]}, {"k": [False]}, "/v/k")])
def test_a_patch_that_only_changes_json_types_inside_arrays_is_applied(free, old, new, pointer):
    with free.session() as s:
        rec = s.create("thing", {"v": old})
        got = s.update(rec.id, {"v": new})
        assert got.version == 2 and got.data == {"v": new}
    with free.session() as s:
        stored = s.get(rec.id).data["v"]
        assert repr(stored) == repr(new)  # not merely == (Python's 1 == True == 1.0)
        last = s.history(rec.id)[-1]
    assert last["kind"] == "updated" and last["payload"]["version"] == 2
    assert repr([(c["pointer"], c["old"], c["new"]) for c in last["payload"]["changes"]]) == \
        repr([(pointer, old, new)] if pointer == "/v" else [(pointer, old["k"], new["k"])])


def test_diff_and_summary_are_in_key_order_on_both_engines(free):
    with free.session() as s:
        rec = s.create("thing", {"b": 1, "a": 1, "": 1, "c": {"z": 1, "y": 1}, "a/b": 1, "m~n": 1, "é": 1})
        s.update(rec.id, {"b": 2, "a": 2, "": 2, "c": {"z": 2, "y": 2}, "a/b": None, "m~n": "1", "é": [1]})
        last = s.history(rec.id)[-1]
    assert [(c["pointer"], c["old"], c["new"]) for c in last["payload"]["changes"]] == [
        ("/", 1, 2), ("/a", 1, 2), ("/a~1b", 1, None), ("/b", 1, 2), ("/c/y", 1, 2), ("/c/z", 1, 2),
        ("/m~0n", 1, "1"), ("/é", 1, [1])]
    assert last["summary"] == 'updated "", a, a~1b, b, c/y and 3 more'


def test_an_equal_or_empty_patch_writes_nothing(free):
    with free.session() as s:
        rec = s.create("thing", {"a": {"b": [1, {"c": None}]}, "n": 1.5})
    before = dump(free)
    with free.session() as s:
        for patch in ({}, {"a": {"b": [1, {"c": None}]}}, {"gone": None}, {"a": {}}, {"n": 1.5}):
            assert s.update(rec.id, patch, if_version=1).version == 1
    assert dump(free) == before


# -- hooks inside the update's savepoint -------------------------------------------------
class WritesThenRefuses:
    """A before_update hook that writes a record through the session, then refuses."""

    __name__ = "writes_then_refuses"

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event == "before_update" and record.type == "person":
            session.create("note", {"text": "side effect"})
            if record.data.get("age") == 13:
                raise ValidationError("unlucky age", [{"pointer": "/data/age", "message": "13"}])


@pytest.mark.parametrize("patch", [{"age": 13}, {"age": -1}])  # refused by the hook / by the schema
def test_a_refused_update_undoes_its_hooks_writes_even_if_the_caller_carries_on(make_platform, patch):
    p = make_platform(PersonPlugin(), WritesThenRefuses())
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    before = dump(p)
    with p.session() as s:
        with pytest.raises(ValidationError):
            s.update(rec.id, patch)
        assert s.count("note") == 0
    assert dump(p) == before


class KeepsName:
    """A before_update hook that undoes any change of ``name``; counts after_update calls."""

    __name__ = "keeps_name"

    def __init__(self):
        self.after = 0

    @hookimpl
    def xrm_record_event(self, event, record, changes, session):
        if record.type != "person":
            return
        if event == "before_update" and "/name" in changes:
            record.data["name"] = changes["/name"][0]
            session.create("note", {"text": "written by a hook of a change that is undone"})
        elif event == "after_update":
            self.after += 1


def test_a_change_the_before_update_hooks_undo_writes_nothing(make_platform):
    hook = KeepsName()
    p = make_platform(PersonPlugin(), hook)
    with p.session() as s:
        rec = s.create("person", {"name": "Ada"})
    before = dump(p)
    with p.session() as s:
        got = s.update(rec.id, {"name": "Bob"})
        assert (got.version, got.data) == (1, {"name": "Ada"})
    assert dump(p) == before and hook.after == 0
    with p.session() as s:  # what the hooks keep is still written
        got = s.update(rec.id, {"name": "Bob", "age": 3})
        assert (got.version, got.data) == (2, {"name": "Ada", "age": 3})
        assert [c["pointer"] for c in s.history(rec.id)[-1]["payload"]["changes"]] == ["/age"]
    assert hook.after == 1


# -- concurrent writers ------------------------------------------------------------------
def _race(p, first, second):
    """Run ``first(session)`` and, while its transaction is still open, ``second(session)`` in
    another thread; return what the second returned or raised."""
    out, started = {}, threading.Event()

    def one():
        with p.session() as s:
            first(s)
            started.set()
            time.sleep(0.5)

    def two():
        started.wait(10)
        try:
            with p.session() as s:
                out["result"] = second(s)
        except Exception as e:  # noqa: BLE001 — the test looks at it
            out["result"] = e

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out["result"]


def test_concurrent_updates_behave_alike_on_both_engines(free):
    with free.session() as s:
        rec = s.create("thing", {"a": 0})
    # Without if_version the second writer waits and patches what the first wrote.
    got = _race(free, lambda s: s.update(rec.id, {"a": 1}), lambda s: s.update(rec.id, {"b": 2}).version)
    assert got == 3
    # With the version it read before, it is refused naming the version it missed.
    got = _race(free, lambda s: s.update(rec.id, {"a": 2}), lambda s: s.update(rec.id, {"b": 3}, if_version=3))
    assert isinstance(got, PreconditionFailed) and "version 4, not 3" in str(got)
    with free.session() as s:
        assert (s.get(rec.id).data, s.get(rec.id).version) == ({"a": 2, "b": 2}, 4)
        assert [a["payload"]["version"] for a in s.history(rec.id) if a["kind"] == "updated"] == [2, 3, 4]


def test_concurrent_deletes_delete_once(free):
    with free.session() as s:
        rec = s.create("thing", {})
    got = _race(free, lambda s: s.delete(rec.id), lambda s: s.delete(rec.id))
    assert isinstance(got, NotFound)
    with free.session() as s:
        assert [a["kind"] for a in s.history(rec.id)] == ["created", "deleted"]


# -- restrict inside a cascade -----------------------------------------------------------
@pytest.mark.parametrize("pin_first", [True, False])
def test_a_restrict_to_a_record_the_same_delete_removes_does_not_depend_on_order(free, pin_first):
    with free.session() as s:
        t, pt, b = s.create("thing", {}).id, s.create("part", {}).id, s.create("bit", {}).id
        if pin_first:
            s.relate("pinned_to", b, t)
        s.relate("has_part", t, pt)
        s.relate("has_bit", pt, b)
        if not pin_first:
            s.relate("pinned_to", b, t)
        survivor = s.create("thing", {}).id
    with free.session() as s:
        s.delete(t)  # the bit's restrict names the thing being deleted: nothing is left dangling
        for rid in (t, pt, b):
            assert s.history(rid)[-1]["kind"] == "deleted"
        assert s.count("bit") == 0 and s.count("thing") == 1
    # A restrict to a record that survives still refuses, however deep the cascade.
    with free.session() as s:
        t, pt, b = s.create("thing", {}).id, s.create("part", {}).id, s.create("bit", {}).id
        s.relate("pinned_to", b, t)
        s.relate("pinned_to", b, survivor)
        s.relate("has_part", t, pt)
        s.relate("has_bit", pt, b)
    before = dump(free)
    with pytest.raises(Conflict) as e:
        with free.session() as s:
            s.delete(t)
    assert e.value.errors == [{"pointer": "/relationships", "message": f"pinned_to → {survivor}"}]
    assert dump(free) == before


# -- relate_many against stored relationships --------------------------------------------
def test_relate_many_names_the_pair_stored_relationships_refuse(make_platform):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        a, b, c, d = (s.create("person", {"name": n}).id for n in "abcd")
        s.relate("knows", a, b)
        s.relate("mentor_of", a, b)  # one-to-one
    before = dump(p)
    cases = [("knows", [(c, d), (a, b)], 1, f"{a} is already related to {b}"),
             ("knows", [(b, a), (c, a)], None, None),  # the reversed direction is another pair
             ("mentor_of", [(d, c), (c, b)], 1, f"{b} already has a 'mentor_of' source"),
             ("mentor_of", [(a, c)], 0, f"{a} already has a 'mentor_of' target")]
    for rel, pairs, n, message in cases:
        if n is None:
            with p.session() as s:
                assert len(s.relate_many(rel, pairs)) == 2
                s.conn.rollback()  # keep the database as before for the next case
            continue
        with pytest.raises(Conflict) as e:
            with p.session() as s:
                s.relate_many(rel, pairs)
        assert message in e.value.message and f"pair {n}:" in e.value.message
        assert e.value.errors == [{"pointer": f"/pairs/{n}", "message": "conflict"}]
        assert dump(p) == before


def test_if_version_must_be_an_integer(platform):
    from xrm_core import ValidationError
    with platform.session() as s:
        rid = s.create("person", {"name": "V"}).id
        for bad in (True, "1", 1.0):
            with pytest.raises(ValidationError, match="if_version must be a version number"):
                s.update(rid, {"age": 1}, if_version=bad)
        assert s.update(rid, {"age": 1}, if_version=1).version == 2
