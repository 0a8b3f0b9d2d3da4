"""Two formerly slow paths keep their semantics on both engines.

1. ``xrm import --update-by`` of a type with record hooks updates row by row through
   ``records.update``, which now writes its UPDATE and its ``updated`` activity without
   building SQLAlchemy statements per row: hooks still run for every changed row with the
   same arguments, a refusal names the row's line and leaves nothing of it behind, history
   carries the field diffs, versions go up by one per changing row, a concurrent change is
   still refused.
2. A delete that no record hook takes part in is planned in memory and written set-based
   (``planned_deletes.delete_without_hooks``): the outcome — records and relationships
   removed, activities and their order, refusals and their messages — is that of the
   one-record-at-a-time delete, which is kept as the oracle here (the planned path switched
   off); chains far deeper than Python's recursion limit work; with hooks the per-record
   path still runs them.
"""
from __future__ import annotations

import json
import re

import pytest
from conftest import PersonPlugin
from sqlalchemy import event, func, select, text

from xrm_core import Conflict, PermissionDenied, PreconditionFailed, ValidationError, db, for_types, hookimpl
from xrm_core import planned_deletes
from xrm_core.importer import import_file

REL, A, R = db.relationships, db.activities, db.records


# -- 1. updates of a type with record hooks -------------------------------------------------
class UpdateHooks:
    """Records every update event of a person; refuses a name "refuse" (after writing a
    note, which must go with the refused row); bumps the stored version behind the
    update's back when the name is "race"."""

    __name__ = "update_hooks"

    def __init__(self):
        self.calls: list[tuple] = []

    @hookimpl
    @for_types("person")
    def xrm_record_event(self, event, record, changes, session):
        if event not in ("before_update", "after_update"):
            return
        self.calls.append((event, record.id, record.version, dict(changes), dict(record.data)))
        if event == "before_update" and record.data.get("name") == "refuse":
            session.create("note", {"text": f"left by {record.id}"})
            raise ValidationError("no such name", [{"pointer": "/data/name", "message": "refused by the hook"}])
        if event == "before_update" and record.data.get("name") == "race":
            session.conn.execute(text("UPDATE xrm_records SET version = version + 1 WHERE id = :i"), {"i": record.id})


@pytest.fixture
def hooks():
    return UpdateHooks()


@pytest.fixture
def hooked(make_platform, hooks):
    return make_platform(PersonPlugin(), hooks)


def _write_jsonl(tmp_path, rows) -> str:
    path = tmp_path / "changes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _state(p) -> tuple:
    with p.engine.connect() as conn:
        recs = [tuple(r) for r in conn.execute(select(R.c.id, R.c.data, R.c.version).order_by(R.c.id))]
        acts = conn.execute(select(func.count()).select_from(A)).scalar_one()
    return recs, acts


def test_a_hooked_update_import_runs_the_hooks_of_each_changed_row_and_logs_its_diff(hooked, hooks, tmp_path):
    with hooked.session() as s:
        ann = s.create("person", {"name": "Ann", "national_id": "1", "age": 30, "tags": ["a"]}).id
        bob = s.create("person", {"name": "Bob", "national_id": "2", "age": 40}).id
        mark = s.conn.execute(select(func.max(A.c.id))).scalar_one()
    path = _write_jsonl(tmp_path, [
        {"national_id": "1", "age": 31, "tags": None, "vip": True},  # line 1: changes Ann
        {"national_id": "2", "age": 40},                             # line 2: changes nothing
        {"national_id": "2", "name": "refuse"},                      # line 3: refused by the hook
        {"national_id": "1", "name": "Anna"},                        # line 4: Ann again
    ])
    hooks.calls.clear()
    with hooked.session() as s:
        report = import_file(s, "person", path, update_by="national_id", skip_invalid=True)
    assert report["invalid"] == [{"line": 3, "errors": [{"pointer": "/name", "message": "refused by the hook"}]}]
    assert (report["updated"], report["unchanged"], report["imported"]) == (2, 1, 3)
    after_1 = {"name": "Ann", "national_id": "1", "age": 31, "vip": True}
    assert hooks.calls == [
        ("before_update", ann, 2, {"/age": (30, 31), "/tags": (["a"], None), "/vip": (None, True)}, after_1),
        ("after_update", ann, 2, {"/age": (30, 31), "/tags": (["a"], None), "/vip": (None, True)}, after_1),
        ("before_update", bob, 2, {"/name": ("Bob", "refuse")}, {"name": "refuse", "national_id": "2", "age": 40}),
        ("before_update", ann, 3, {"/name": ("Ann", "Anna")}, {**after_1, "name": "Anna"}),
        ("after_update", ann, 3, {"/name": ("Ann", "Anna")}, {**after_1, "name": "Anna"}),
    ]
    with hooked.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(R))}
        acts = conn.execute(select(A).where(A.c.id > mark).order_by(A.c.id)).all()
        notes = conn.execute(select(func.count()).select_from(R).where(R.c.type == "note")).scalar_one()
    assert notes == 0   # what the refusing hook wrote went with its row
    assert (rows[ann].data, rows[ann].version) == ({**after_1, "name": "Anna"}, 3)
    assert (rows[bob].data, rows[bob].version) == ({"name": "Bob", "national_id": "2", "age": 40}, 1)
    assert [(a.record_id, a.record_type, a.kind, a.actor, a.summary, a.payload) for a in acts] == [
        (ann, "person", "updated", "admin", "updated from changes.jsonl line 1", {"version": 2, "changes": [
            {"pointer": "/age", "old": 30, "new": 31, "op": "replace"},
            {"pointer": "/tags", "old": ["a"], "new": None, "op": "remove"},
            {"pointer": "/vip", "old": None, "new": True, "op": "add"}]}),
        (ann, "person", "updated", "admin", "updated from changes.jsonl line 4", {"version": 3, "changes": [
            {"pointer": "/name", "old": "Ann", "new": "Anna", "op": "replace"}]}),
    ]
    assert acts[-1].at == rows[ann].updated_at and (acts[-1].unit_id, acts[-1].owner_id) == (
        rows[ann].unit_id, rows[ann].owner_id)


@pytest.mark.parametrize("mode", ["all-or-nothing", "dry-run"])
def test_a_hooked_update_import_refused_or_dry_run_changes_nothing(hooked, tmp_path, mode):
    with hooked.session() as s:
        s.create("person", {"name": "Ann", "national_id": "1"})
        s.create("person", {"name": "Bob", "national_id": "2"})
    before = _state(hooked)
    rows = [{"national_id": "1", "age": 5}, {"national_id": "2", "name": "refuse" if mode != "dry-run" else "Bo"}]
    path = _write_jsonl(tmp_path, rows)
    with hooked.session() as s:
        if mode == "dry-run":
            report = import_file(s, "person", path, update_by="national_id", dry_run=True)
            assert report["invalid"] == []
        else:
            with pytest.raises(ValidationError) as e:
                import_file(s, "person", path, update_by="national_id")
            assert [r["line"] for r in e.value.extra["report"]["invalid"]] == [2]
    assert _state(hooked) == before


def test_an_update_refuses_a_change_made_behind_its_back_and_writes_nothing(hooked):
    with hooked.session() as s:
        rid = s.create("person", {"name": "Ann"}).id
    before = _state(hooked)
    with hooked.session() as s:
        with pytest.raises(PreconditionFailed, match="changed concurrently"):
            s.update(rid, {"name": "race"})
        # the session goes on: the update's savepoint took the hook's write with it
        assert s.get(rid).version == 1
    assert _state(hooked) == before


def test_the_updated_activity_is_the_row_log_activity_writes(hooked):
    data = {"name": "X", "score": 1e16, "address": {"city": "Tabriz", "line1": "é ✓ 中 \"q\""}}
    with hooked.session() as s:
        rec = s.create("person", {"name": "W", "address": {"city": "Rasht"}})
        updated = s.update(rec.id, data)
        got = s.conn.execute(select(A).where(A.c.record_id == rec.id, A.c.kind == "updated")).one()
        stored = s.conn.execute(select(R.c.data, R.c.version, R.c.updated_at)).all()[0]
        s.log_activity(updated, "updated", got.summary, got.payload, at=got.at)
        cols = "record_id, record_type, unit_id, owner_id, kind, at, actor, summary, CAST(payload AS TEXT)"
        both = s.conn.execute(text(f"SELECT {cols} FROM xrm_activities WHERE record_id = :r AND kind = 'updated' "
                                   "ORDER BY id"), {"r": rec.id}).all()
    assert tuple(both[0]) == tuple(both[1])
    assert got.payload == {"version": 2, "changes": [
        {"pointer": "/address/city", "old": "Rasht", "new": "Tabriz", "op": "replace"},
        {"pointer": "/address/line1", "old": None, "new": data["address"]["line1"], "op": "add"},
        {"pointer": "/name", "old": "W", "new": "X", "op": "replace"},
        {"pointer": "/score", "old": None, "new": 1e16, "op": "add"}]}
    assert (stored.data, stored.version, stored.updated_at) == (data, 2, got.at)
    assert isinstance(stored.data["score"], float)


# -- 2. deletes cascading through many records -----------------------------------------------
class Links:
    """Cascades person → person (``sponsors``), a restrict person → note (``pins``)."""

    __name__ = "links"

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "sponsors", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "cascade"},
                {"name": "pins", "source": "person", "target": "note", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]


class NoteHooks:
    """Records the delete events of notes."""

    __name__ = "note_hooks"

    def __init__(self):
        self.calls: list[tuple] = []

    @hookimpl
    @for_types("note")
    def xrm_record_event(self, event, record, session):
        if event in ("before_delete", "after_delete"):
            exists = session.conn.execute(select(func.count()).select_from(R).where(R.c.id == record.id)).scalar_one()
            self.calls.append((event, record.id, record.data["text"], exists))


@pytest.fixture
def linked(make_platform):
    return make_platform(PersonPlugin(), Links())


@pytest.fixture
def linked_org(linked):
    from xrm_core import accounts
    with linked.connection() as conn:
        accounts.create_unit(conn, "dealer_a")
        accounts.create_unit(conn, "dealer_b")
        accounts.save_role(conn, {"name": "manager", "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]})
        accounts.create_user(conn, "manager_a", "dealer_a", ["manager"], "pw")
    return linked


@pytest.fixture
def planned(monkeypatch):
    """How many deletes took the planned path (and whether each did)."""
    taken: list[bool] = []
    real = planned_deletes.delete_without_hooks

    def spy(s, rec):
        taken.append(real(s, rec))
        return taken[-1]
    monkeypatch.setattr(planned_deletes, "delete_without_hooks", spy)
    return taken


def one_by_one(monkeypatch):
    """Switch the planned path off: every delete goes one record at a time (the oracle)."""
    monkeypatch.setattr(planned_deletes, "delete_without_hooks", lambda s, rec: False)


def _people(s, n, tag, unit=None):
    return [r.id for r in s.create_many("person", [{"name": f"{tag}{i}"} for i in range(n)], unit)]


def _notes(s, n, tag, unit=None):
    return [r.id for r in s.create_many("note", [{"text": f"{tag}{i}"} for i in range(n)], unit)]


def build_web(s) -> tuple[str, list[str], list[str]]:
    """A hub whose cascades reach a tree with a cycle, a record reached twice, a chain,
    restricts to records doomed and links (both ways) to records that stay. Returns the
    hub, and the record and relationship ids in creation order (two webs built alike map
    onto each other by position)."""
    hub = s.create("person", {"name": "hub"}).id
    stay, kids, grand, leaves = _people(s, 40, "s"), _people(s, 6, "k"), _people(s, 6, "g"), _notes(s, 12, "n")
    made = []

    def rel(name, a, b):
        made.append(s.relate(name, a, b)["id"])

    for i, p in enumerate(stay[:20]):
        rel("knows", hub, p) if i % 2 else rel("knows", p, hub)
        if i % 4 == 0:
            k = kids[i // 4]
            rel("sponsors", hub, k)
            rel("knows", k, stay[20 + i // 4])          # a doomed record's link to one that stays
            rel("knows", stay[30 + i // 4], k)
            rel("has_note", k, leaves[i // 4])
            rel("pins", hub, leaves[i // 4])             # restrict, target doomed: removed
            rel("pins", stay[i], leaves[i // 4])         # the leaf's link to one that stays
            rel("sponsors", k, grand[i // 4])
            rel("knows", grand[i // 4], hub)             # back to the hub
    rel("sponsors", kids[0], grand[1])                   # grand[1] reached twice
    rel("sponsors", grand[2], kids[1])                   # a cycle kids[1] → grand[1]... → kids[1]
    rel("sponsors", grand[1], hub)                       # a cycle back to the hub
    rel("has_note", grand[3], leaves[10])
    rel("mentor_of", stay[39], hub)                      # a restrict where the hub is the target
    chain = _people(s, 5, "c")
    rel("sponsors", grand[4], chain[0])
    for a, b in zip(chain, chain[1:]):
        rel("sponsors", a, b)
    return hub, [hub, *stay, *kids, *grand, *leaves, *chain], made


def _swapper(mapping: dict[str, str]):
    pattern = re.compile("|".join(map(re.escape, mapping)))

    def swap(v):
        if isinstance(v, str):
            return pattern.sub(lambda m: mapping[m.group(0)], v)
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(swap(x) for x in v)
        return v
    return swap


def _since(conn, mark) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        select(A.c.record_id, A.c.record_type, A.c.unit_id, A.c.owner_id, A.c.kind, A.c.actor, A.c.summary,
               A.c.payload).where(A.c.id > mark).order_by(A.c.id))]


def _mark(conn) -> int:
    return conn.execute(select(func.coalesce(func.max(A.c.id), 0))).scalar_one()


def test_a_planned_delete_removes_and_logs_what_one_record_at_a_time_does(linked, planned, monkeypatch):
    with linked.session() as s:
        hub_a, recs_a, rels_a = build_web(s)
        hub_b, recs_b, rels_b = build_web(s)
    with linked.engine.connect() as conn:
        mark = _mark(conn)
    with linked.session() as s:
        s.delete(hub_a)
    assert planned == [True]
    with linked.engine.connect() as conn:
        fast = _since(conn, mark)
        mark = _mark(conn)
    one_by_one(monkeypatch)
    with linked.session() as s:
        s.delete(hub_b)
    with linked.engine.connect() as conn:
        slow = _since(conn, mark)
        left = set(conn.execute(select(R.c.id)).scalars())
        links = [tuple(r) for r in conn.execute(select(REL.c.type, REL.c.source_id, REL.c.target_id))]
    to_a = _swapper(dict(zip(recs_b + rels_b, recs_a + rels_a)))
    assert fast == to_a(slow)
    kinds = [a[4] for a in fast]
    assert kinds.count("deleted") == 1 + 5 + 5 + 6 + 5 and kinds.count("unrelated") > 20
    deleted = [a[0] for a in fast if a[4] == "deleted"]
    assert len(deleted) == len(set(deleted)) and deleted[-1] == hub_a   # each once, the hub last
    assert {r for r in recs_a if r in left} == {to_a(r) for r in recs_b if r in left} and len(
        [r for r in recs_a if r in left]) == 40 + 2 + 6
    assert sorted(link for link in links if link[1] in recs_a) == sorted(
        to_a(link) for link in links if link[1] in recs_b)


def test_a_restrict_deep_in_the_cascade_refuses_as_before_and_changes_nothing(linked, planned, monkeypatch):
    with linked.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        kids, kept = _people(s, 3, "k"), _notes(s, 1, "kept")[0]
        s.relate_many("knows", [(hub, p) for p in _people(s, 30, "p")])
        s.relate_many("sponsors", [(hub, kids[0]), (kids[0], kids[1]), (kids[1], kids[2])])
        s.relate("pins", kids[2], kept)
    with linked.engine.connect() as conn:
        before = (_since(conn, 0), [tuple(r) for r in conn.execute(select(REL))],
                  [tuple(r) for r in conn.execute(select(R))])
    messages = []
    for path in ("planned", "one by one"):
        if path == "one by one":
            one_by_one(monkeypatch)
        with linked.session() as s, pytest.raises(Conflict) as e:
            s.delete(hub)
        messages.append((e.value.message, e.value.errors))
        with linked.engine.connect() as conn:
            assert (_since(conn, 0), [tuple(r) for r in conn.execute(select(REL))],
                    [tuple(r) for r in conn.execute(select(R))]) == before
    assert planned == []   # the planned path raised it (it returns True or False otherwise)
    assert messages[0] == messages[1]
    # Said from the record asked for, with the way there (audit 8: the cascaded id alone was
    # one the caller never typed).
    assert messages[0][0].startswith(f"cannot delete {hub}: its 'sponsors' → 'sponsors' → 'sponsors' relationships "
                                     f"cascade to {kids[2]}, whose relationship type(s) pins restrict")


def test_a_cascade_into_a_record_the_actor_may_not_delete_names_the_chain_and_changes_nothing(linked_org, planned,
                                                                                               monkeypatch):
    with linked_org.session() as s:
        hub = s.create("person", {"name": "hub"}, unit="dealer_a").id
        mine = _people(s, 20, "m", "dealer_a")
        theirs = _notes(s, 1, "t", "dealer_b")[0]
        s.relate_many("knows", [(hub, p) for p in mine[2:]])
        s.relate_many("sponsors", [(hub, mine[0]), (mine[0], mine[1])])
        s.relate("has_note", mine[1], theirs)
    with linked_org.engine.connect() as conn:
        before = _since(conn, 0), [tuple(r) for r in conn.execute(select(REL))]
    messages = []
    for path in ("planned", "one by one"):
        if path == "one by one":
            one_by_one(monkeypatch)
        with linked_org.session("manager_a") as s, pytest.raises(PermissionDenied) as e:
            s.delete(hub)
        messages.append((e.value.message, getattr(e.value, "cascade_path", None)))
        with linked_org.engine.connect() as conn:
            assert (_since(conn, 0), [tuple(r) for r in conn.execute(select(REL))]) == before
    assert planned == []   # raised by the planned path
    assert messages[0] == messages[1] == (
        f"cannot delete {hub}: its 'sponsors' → 'sponsors' → 'has_note' relationships cascade to a record you "
        f"may not delete", ("sponsors", "sponsors", "has_note"))
    assert theirs not in messages[0][0]


def test_a_chain_deeper_than_the_recursion_limit_is_deleted_each_record_once(linked, planned):
    import sys
    depth = sys.getrecursionlimit() + 500
    with linked.session() as s:
        chain = _people(s, depth, "c")
        for i in range(0, depth - 1, 2000):
            s.relate_many("sponsors", list(zip(chain[i:i + 2001], chain[i + 1:i + 2001])))
        s.relate("sponsors", chain[-1], chain[0])   # and round again
        mark = _mark(s.conn)
    with linked.session() as s:
        s.delete(chain[0])
    assert planned == [True]
    with linked.engine.connect() as conn:
        acts = _since(conn, mark)
        assert conn.execute(select(func.count()).select_from(R).where(R.c.type == "person")).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(REL)).scalar_one() == 0
    # depth first: the end of the chain goes first, the record the delete started from last
    assert [a[0] for a in acts] == list(reversed(chain)) and {a[4] for a in acts} == {"deleted"}


def test_a_planned_cascade_runs_a_few_statements_whatever_its_size(linked, planned):
    def statements(n: int) -> int:
        with linked.session() as s:
            hub = s.create("person", {"name": "hub"}).id
            s.relate_many("has_note", [(hub, leaf) for leaf in _notes(s, n, f"n{n}_")])
        seen = []
        with linked.session() as s:
            event.listen(s.conn, "before_cursor_execute", lambda *a: seen.append(a[2]))
            s.delete(hub)
        return len(seen)
    small, large = statements(10), statements(3000)
    assert planned == [True, True]
    assert large < 60 and large - small < 50   # one record at a time ran five per record


def test_with_record_hooks_the_delete_goes_one_record_at_a_time_and_runs_them(make_platform, planned):
    hooks = NoteHooks()
    p = make_platform(PersonPlugin(), Links(), hooks)
    with p.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        kid = s.create("person", {"name": "kid"}).id
        leaves = _notes(s, 3, "n")
        s.relate("sponsors", hub, kid)
        s.relate_many("has_note", [(kid, leaf) for leaf in leaves])
        lone, alone = s.create("person", {"name": "lone"}).id, s.create("person", {"name": "alone"}).id
        s.relate_many("sponsors", [(lone, x) for x in _people(s, 5, "x")])
        s.relate_many("knows", [(alone, x) for x in _people(s, 5, "y")])
    with p.session() as s:
        s.delete(hub)
        s.delete(lone)    # reaches no hooked record: planned
        s.delete(alone)   # cascades to nothing: one record, its links removed set-based as before
    assert planned == [False, True, False]
    assert hooks.calls == [call for leaf, i in zip(leaves, range(3)) for call in (
        ("before_delete", leaf, f"n{i}", 1), ("after_delete", leaf, f"n{i}", 0))]
    with p.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(R).where(R.c.id.in_([hub, kid, lone, alone, *leaves]))
                            ).scalar_one() == 0
