"""Deleting a record with many relationships: the set-based path writes what the per-link
path wrote, statement counts do not grow with the links, and all or nothing holds.

The relationships that are only removed (``unlink``, ``restrict`` to a record the same
delete removes, and every one where the record is the target) go in chunks; cascades stay
one record at a time. The expectations are built independently: from the relationships
read before the delete, and from the per-link loop the delete ran before (kept here as the
oracle, :func:`per_link_unlink_all`).
"""
from __future__ import annotations

import math
import re

import pytest
from conftest import PersonPlugin
from sqlalchemy import delete, event, func, select, text

from xrm_core import Conflict, PermissionDenied, PluginError, db, for_types, hookimpl, history
from xrm_core import deletes, records

REL, A, R = db.relationships, db.activities, db.records


class Fanout:
    """A person-to-person cascade (chains, cycles), a person-to-note restrict, and a note
    hook that fails on its ``fail_at``-th ``after_delete`` (0: never) and, with
    ``relate_back``, relates the note's ``hub`` to a new person (noted in ``made``)."""

    __name__ = "fanout"

    def __init__(self):
        self.fail_at = 0
        self.note_deletes = 0
        self.relate_back = False
        self.made: list[str] = []

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "sponsors", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "cascade"},
                {"name": "pins", "source": "person", "target": "note", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]

    @hookimpl
    @for_types("note")
    def xrm_record_event(self, event, record, session):
        if event == "after_delete":
            self.note_deletes += 1
            if self.note_deletes == self.fail_at:
                raise RuntimeError(f"note {record.id} cannot go")
            if self.relate_back and "hub" in record.data:
                late = session.create("person", {"name": "late"}).id
                self.made += [late, session.relate("knows", record.data["hub"], late)["id"]]


@pytest.fixture
def fanout():
    return Fanout()


@pytest.fixture
def platform(make_platform, fanout):
    """The person plugin and :class:`Fanout` (the ``org`` fixture builds on this one)."""
    return make_platform(PersonPlugin(), fanout)


# -- helpers -----------------------------------------------------------------------------
def people(s, n, tag, unit=None):
    return [r.id for r in s.create_many("person", [{"name": f"{tag}{i}"} for i in range(n)], unit)]


def notes(s, n, tag, unit=None):
    return [r.id for r in s.create_many("note", [{"text": f"{tag}{i}"} for i in range(n)], unit)]


def touching(conn, record_id):
    return conn.execute(select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id)
                        .where((REL.c.source_id == record_id) | (REL.c.target_id == record_id))
                        .order_by(REL.c.id)).all()


def last_activity(conn) -> int:
    return conn.execute(select(func.coalesce(func.max(A.c.id), 0))).scalar_one()


def written_since(conn, mark: int) -> list[tuple]:
    """The activities with ids above ``mark``, in id order, as the columns a reader sees."""
    return [tuple(r) for r in conn.execute(
        select(A.c.record_id, A.c.record_type, A.c.unit_id, A.c.owner_id, A.c.kind, A.c.actor, A.c.summary,
               A.c.payload).where(A.c.id > mark).order_by(A.c.id))]


def dump(platform) -> dict:
    """Everything a delete may touch, row by row."""
    with platform.engine.connect() as conn:
        return {"records": [tuple(r) for r in conn.execute(select(R.c.id, R.c.version, R.c.data).order_by(R.c.id))],
                "relationships": [tuple(r) for r in conn.execute(
                    select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id).order_by(REL.c.id))],
                "activities": [tuple(r) for r in conn.execute(
                    select(A.c.id, A.c.record_id, A.c.kind, A.c.at, A.c.summary).order_by(A.c.id))]}


def unlinked(row, hub_id, hub_type="person"):
    """What the other end of ``row`` gets when ``hub_id`` is deleted: (other id, kind, summary, payload)."""
    outgoing = row.source_id == hub_id
    return (row.target_id if outgoing else row.source_id, "unrelated",
            f"{row.type} with {hub_type} {hub_id} removed (deleted)",
            {"relationship": row.id, "type": row.type, "direction": "incoming" if outgoing else "outgoing",
             "other": hub_id, "reason": "deleted"})


def expected_from_rows(conn, hub_id, rows, actor="admin"):
    """The activities deleting ``hub_id`` writes when ``rows`` (its relationships, read
    before) are unlinks or cascades to leaves: for each relationship in id order, the other
    end's ``unrelated`` or the leaf's ``deleted``; then the hub's ``deleted``."""
    stored = {r.id: r for r in conn.execute(select(R))}
    out = []

    def of(rid, kind, summary, payload):
        r = stored[rid]
        return (rid, r.type, r.unit_id, r.owner_id, kind, actor, summary, payload)

    for row in rows:
        if row.source_id == hub_id and row.type == "has_note":
            leaf = stored[row.target_id]
            out.append(of(leaf.id, "deleted", "deleted note", {"data": leaf.data, "version": leaf.version}))
        else:
            out.append(of(*unlinked(row, hub_id)))
    hub = stored[hub_id]
    out.append(of(hub_id, "deleted", "deleted person", {"data": hub.data, "version": hub.version}))
    return out


def per_link_unlink_all(s, rec, rows, seen):
    """The loop of the delete before the set-based path: a DELETE, a read of the other end
    and an INSERT of its activity per relationship, in id order — the oracle (a generator,
    as the delete's steps are: it yields the deletes it cascades to)."""
    deletes._refuse_restricted(s, rec, rows, seen)
    cascaded = False
    for row in rows:
        if s.conn.execute(delete(REL).where(REL.c.id == row.id)).rowcount == 0:
            continue
        outgoing = row.source_id == rec.id
        other_id = row.target_id if outgoing else row.source_id
        if outgoing and s.relationship_type(row.type).get("on_delete") == "cascade":
            yield from deletes._cascade(s, rec, row, other_id, seen)
            cascaded = True
        else:
            other = records._row(s, other_id)
            if other is not None:
                _, kind, summary, payload = unlinked(row, rec.id, rec.type)
                s.log_activity(records.from_row(s, other), kind, summary, payload)
    return cascaded


# -- the history a delete writes -----------------------------------------------------------
def test_many_unlinks_and_cascades_write_the_history_of_the_relationships_in_id_order(platform):
    with platform.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        others, leaves = people(s, 300, "p"), notes(s, 30, "n")
        for i in range(0, 300, 10):   # interleaved types, so that runs of unlinks lie between cascades
            s.relate_many("knows", [(hub, o) for o in others[i:i + 5]])
            s.relate_many("knows", [(o, hub) for o in others[i + 5:i + 10]])
            s.relate("has_note", hub, leaves[i // 10])
        s.relate("mentor_of", others[0], hub)   # a restrict where the hub is the target: removed
        rows = touching(s.conn, hub)
        expected = expected_from_rows(s.conn, hub, rows)
        mark = last_activity(s.conn)
    with platform.session() as s:
        s.delete(hub)
    with platform.engine.connect() as conn:
        assert written_since(conn, mark) == expected
        assert touching(conn, hub) == []
        assert conn.execute(select(func.count()).select_from(R).where(R.c.id.in_(leaves))).scalar_one() == 0
        stamps = conn.execute(select(A.c.at).where(A.c.id > mark).order_by(A.c.id)).scalars().all()
    assert stamps == sorted(stamps) and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in stamps)
    with platform.session() as s:   # what a survivor's timeline shows
        last = s.history(others[7])[-1]
    mine = next(e for e in expected if e[0] == others[7])
    assert (last["kind"], last["summary"], last["payload"]) == (mine[4], mine[6], mine[7])


def build_tangle(s) -> tuple[str, list[str], list[str]]:
    """A hub with links of every kind in interleaved id order, including cascaded records
    that link back to the hub and to survivors, a cycle, and restricts to doomed records.
    Returns the hub, and every record id and relationship id in creation order (two
    tangles built alike, with the same data, map onto each other by position)."""
    hub = s.create("person", {"name": "hub"}).id
    survivors, doomed_notes, sponsored = people(s, 60, "p"), notes(s, 12, "n"), people(s, 6, "q")
    made: list[dict] = []
    for i, p in enumerate(survivors):
        made.append(s.relate("knows", hub, p) if i % 2 else s.relate("knows", p, hub))
        if i % 5 == 0:
            n = doomed_notes[i // 5]
            made.append(s.relate("has_note", hub, n))
            made.append(s.relate("pins", hub, n))            # restrict, target doomed: removed
            made.append(s.relate("pins", survivors[i + 1], n))  # the note's survivor link
        if i % 10 == 3:
            q = sponsored[i // 10]
            made.append(s.relate("sponsors", hub, q))         # cascade to a person...
            made.append(s.relate("knows", q, hub))            # ...who links back to the hub
            made.append(s.relate("knows", q, survivors[i]))   # ...and to a survivor
            if i // 10 % 2:
                made.append(s.relate("sponsors", q, hub))     # a cycle
    made.append(s.relate("mentor_of", survivors[-1], hub))
    made.append(s.relate("sponsors", sponsored[0], sponsored[1]))  # a cascade chain
    return hub, [hub, *survivors, *doomed_notes, *sponsored], [m["id"] for m in made]


def _swapper(mapping: dict[str, str]):
    """A function replacing every id of ``mapping`` by its value, in strings at any depth."""
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


def test_a_tangle_of_links_gets_the_same_history_and_outcome_as_one_link_at_a_time(platform, monkeypatch):
    with platform.session() as s:
        hub_a, recs_a, rels_a = build_tangle(s)
        hub_b, recs_b, rels_b = build_tangle(s)
    to_a = _swapper(dict(zip(recs_b + rels_b, recs_a + rels_a)))
    with platform.engine.connect() as conn:
        mark = last_activity(conn)
    with platform.session() as s:
        s.delete(hub_a)
    with platform.engine.connect() as conn:
        set_based = written_since(conn, mark)
        mark = last_activity(conn)
    monkeypatch.setattr(deletes, "_unlink_all", per_link_unlink_all)
    with platform.session() as s:
        s.delete(hub_b)
    with platform.engine.connect() as conn:
        one_by_one = written_since(conn, mark)
        left = set(conn.execute(select(R.c.id)).scalars())
        links = [tuple(r) for r in conn.execute(select(REL.c.type, REL.c.source_id, REL.c.target_id))]
    assert len(set_based) > 100 and {a[4] for a in set_based} == {"unrelated", "deleted"}
    assert set_based == to_a(one_by_one)
    # and both left the same records and relationships
    assert {to_a(r) for r in recs_b if r in left} == {r for r in recs_a if r in left}
    assert sorted(link for link in links if link[1] in recs_a) == sorted(
        to_a(link) for link in links if link[1] in recs_b)


def test_links_the_cascades_hooks_give_the_record_go_in_a_later_round_as_before(platform, fanout, monkeypatch):
    def build(s):
        hub = s.create("person", {"name": "hub"}).id
        others = people(s, 100, "p")
        leaves = [s.create("note", {"text": f"n{i}", "hub": hub}).id for i in range(10)]
        made = []
        for i in range(10):
            made += [r["id"] for r in s.relate_many("knows", [(hub, o) for o in others[10 * i:10 * i + 10]])]
            made.append(s.relate("has_note", hub, leaves[i])["id"])
        return hub, [hub, *others, *leaves], made

    with platform.session() as s:
        hub_a, recs_a, rels_a = build(s)
        hub_b, recs_b, rels_b = build(s)
        mark = last_activity(s.conn)
    fanout.relate_back = True
    with platform.session() as s:
        s.delete(hub_a)
    made_a, fanout.made = fanout.made, []
    with platform.engine.connect() as conn:
        set_based = written_since(conn, mark)
        mark = last_activity(conn)
    monkeypatch.setattr(deletes, "_unlink_all", per_link_unlink_all)
    with platform.session() as s:
        s.delete(hub_b)
    with platform.engine.connect() as conn:
        one_by_one = written_since(conn, mark)
        assert touching(conn, hub_a) == touching(conn, hub_b) == []
    assert len(made_a) == 20 and [a[4] for a in set_based].count("unrelated") == 110
    to_a = _swapper(dict(zip(recs_b + rels_b + fanout.made, recs_a + rels_a + made_a)))
    assert set_based == to_a(one_by_one)


# -- refusals and failures leave everything as before --------------------------------------
def test_a_restrict_to_a_record_that_stays_refuses_after_nothing_was_removed(platform):
    with platform.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        others, kept, leaves = people(s, 200, "p"), notes(s, 1, "k")[0], notes(s, 20, "n")
        for i in range(0, 200, 10):
            s.relate_many("knows", [(hub, o) for o in others[i:i + 10]])
            s.relate("has_note", hub, leaves[i // 10])
            s.relate("pins", hub, leaves[i // 10])   # doomed by the cascade: no obstacle
        s.relate("pins", hub, kept)                  # stays: refuses the delete
    before = dump(platform)
    with platform.session() as s, pytest.raises(Conflict, match="pins restrict"):
        s.delete(hub)
    assert dump(platform) == before
    with platform.session() as s:
        s.unrelate(touching(s.conn, kept)[0].id)
        mark = last_activity(s.conn)
    with platform.session() as s:
        s.delete(hub)
    with platform.engine.connect() as conn:
        kinds = [a[4] for a in written_since(conn, mark)]
    assert kinds.count("unrelated") == 200 + 20 and kinds.count("deleted") == 21


@pytest.mark.parametrize("caught", [False, True], ids=["session-rolled-back", "error-caught-in-session"])
def test_a_hook_failing_halfway_through_the_cascades_leaves_everything_as_before(platform, fanout, caught):
    with platform.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        others, leaves = people(s, 400, "p"), notes(s, 40, "n")
        for i in range(0, 400, 10):
            s.relate_many("knows", [(o, hub) for o in others[i:i + 10]])
            s.relate("has_note", hub, leaves[i // 10])
    before = dump(platform)
    fanout.fail_at = 25   # after 24 leaves and about 240 unlinks were done
    if caught:
        with platform.session() as s:
            with pytest.raises(PluginError, match="cannot go"):
                s.delete(hub)
            assert s.get(hub).id == hub   # the session goes on, as before the delete
    else:
        with pytest.raises(PluginError, match="cannot go"), platform.session() as s:
            s.delete(hub)
    assert fanout.note_deletes == 25
    assert dump(platform) == before


# -- scope -------------------------------------------------------------------------------
def test_links_to_records_the_deleter_cannot_see_are_removed_and_logged_on_them(org):
    with org.session() as s:
        hub = s.create("person", {"name": "hub"}, unit="dealer_a").id
        mine, hidden = people(s, 50, "mine", "dealer_a"), people(s, 150, "hidden", "dealer_b")
        s.relate_many("knows", [(hub, o) for o in hidden[:75]])
        s.relate_many("knows", [(o, hub) for o in mine + hidden[75:]])
        rows = touching(s.conn, hub)
        expected = expected_from_rows(s.conn, hub, rows, actor="manager_a")
        mark = last_activity(s.conn)
    with org.session("manager_a") as s:
        s.delete(hub)
    with org.engine.connect() as conn:
        assert written_since(conn, mark) == expected
    with org.session() as s:   # the hidden records' own timelines carry the removal
        last = s.history(hidden[0])[-1]
        assert (last["kind"], last["actor"], last["payload"]["other"]) == ("unrelated", "manager_a", hub)


def test_a_cascade_the_deleter_may_not_make_refuses_after_unlinks_were_done(org):
    with org.session() as s:
        hub = s.create("person", {"name": "hub"}, unit="dealer_a").id
        mine, theirs = people(s, 300, "mine", "dealer_a"), notes(s, 1, "theirs", "dealer_b")[0]
        s.relate_many("knows", [(hub, o) for o in mine])   # removed first: smaller ids
        s.relate("has_note", hub, theirs)
    before = dump(org)
    with org.session("manager_a") as s, pytest.raises(PermissionDenied, match="'has_note'"):
        s.delete(hub)
    assert dump(org) == before


# -- statements ----------------------------------------------------------------------------
def _statements_of_delete(platform, links: int) -> int:
    with platform.session() as s:
        hub = s.create("person", {"name": "hub"}).id
        others = people(s, links, f"s{links}_")
        s.relate_many("knows", [(hub, o) for o in others[::2]])
        s.relate_many("knows", [(o, hub) for o in others[1::2]])
    seen = []
    with platform.session() as s:
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(s.conn, "before_cursor_execute", listener)
        s.delete(hub)
        event.remove(s.conn, "before_cursor_execute", listener)
    return len(seen)


def chunk_term(platform, links: int) -> int:
    """Statements that grow with the links by design: a DELETE and a SELECT of the other
    ends per DELETE_CHUNK, and the activities' multi-row INSERTs (SQLite: ~111 rows each)."""
    chunks = math.ceil(links / deletes.DELETE_CHUNK)
    inserts = 1 if platform.engine.dialect.name == "postgresql" else math.ceil(links / (db.MAX_VARIABLES // 9))
    return 2 * chunks + inserts


def test_the_statements_of_a_delete_do_not_grow_with_its_links(platform):
    small, large = _statements_of_delete(platform, 100), _statements_of_delete(platform, 1000)
    assert small - chunk_term(platform, 100) == large - chunk_term(platform, 1000)
    assert large < 40   # one statement per link would be over 1,000


# -- the batch writer ------------------------------------------------------------------------
PAYLOADS = [None, {}, {"relationship": "x", "nested": {"b": [1, 2.5, True, None]}, "a": "é ✓ 中"},
            {"big": 1e16, "neg": -3}, {"text": "quote \" and \\ backslash"}]


def test_log_many_writes_exactly_the_rows_log_activity_writes(platform):
    with platform.session() as s:
        recs = [s.create("person", {"name": f"r{i}"}) for i in range(len(PAYLOADS))]
        at = db.utcnow()
        mark = last_activity(s.conn)
        for rec, payload in zip(recs, PAYLOADS):
            s.log_activity(rec, "unrelated", f"one {rec.id}", payload, at=at)
        one_by_one = last_activity(s.conn)
        rows = [records._row(s, r.id) for r in recs]   # rows, not Records, as the delete passes
        history.log_many(s, [(row, "unrelated", f"one {row.id}", payload) for row, payload in zip(rows, PAYLOADS)],
                         at=at)
        cols = ("record_id, record_type, unit_id, owner_id, kind, at, actor, summary, "
                "CAST(payload AS TEXT) AS payload")
        got = s.conn.execute(text(f"SELECT id, {cols} FROM xrm_activities WHERE id > :m ORDER BY id"),
                             {"m": mark}).all()
        parsed = s.conn.execute(select(A.c.payload).where(A.c.id > mark).order_by(A.c.id)).scalars().all()
    first, second = got[:len(PAYLOADS)], got[len(PAYLOADS):]
    assert [tuple(r[1:]) for r in first] == [tuple(r[1:]) for r in second]
    assert all(r[0] > one_by_one for r in second) and [r[0] for r in second] == sorted(r[0] for r in second)
    assert parsed[:len(PAYLOADS)] == parsed[len(PAYLOADS):] == PAYLOADS


def test_log_many_stamps_a_batch_once_and_keeps_quiet_history(platform):
    with platform.session() as s:
        rec = s.create("person", {"name": "r"})
        mark = last_activity(s.conn)
        history.log_many(s, [(rec, "unrelated", f"n{i}", {"i": i}) for i in range(300)])
        s.quiet_history = True
        history.log_many(s, [(rec, "unrelated", "quiet", None)])
        s.quiet_history = False
        history.log_many(s, [])
        rows = s.conn.execute(select(A.c.summary, A.c.at, A.c.actor).where(A.c.id > mark).order_by(A.c.id)).all()
    assert [r.summary for r in rows] == [f"n{i}" for i in range(300)]
    assert len({r.at for r in rows}) == 1 and {r.actor for r in rows} == {"admin"}
