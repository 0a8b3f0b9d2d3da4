"""Security and correctness review of the day's core changes (helper-G), on both engines.

1. Planned deletes (``planned_deletes.delete_without_hooks``) against the one-by-one delete
   as the oracle: what a user outside a record's scope may delete or learn through a
   cascade, the refusals' words, the history (actor, unit, owner of every activity), the
   version check, and the relationships another transaction changes while the delete
   reads and locks the records it reaches (PostgreSQL).
2. ``records._store_update`` (driver SQL): stores exactly what a create stores, refuses a
   stale version, leaves nothing behind when refused.
3. Filter numbers (``NumberText``, ``read_number``): no input a user can type reaches a
   traceback, on ``--where``, the REST ``filter[...]`` or the core's filter.
"""
from __future__ import annotations

import threading
import time

import orjson
import pytest
from conftest import PG_URL, PersonPlugin
from sqlalchemy import event, func, select, text
from test_slow_paths7 import Links, _mark, _notes, _people, _since, one_by_one

from xrm_core import (Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError, accounts, db, filters,
                      hookimpl)
from xrm_core import planned_deletes

REL, A, R = db.relationships, db.activities, db.records


@pytest.fixture
def linked(make_platform):
    return make_platform(PersonPlugin(), Links())


@pytest.fixture
def units(linked):
    """Units a and b; ``mgr_a`` reads, creates, updates and deletes in a; ``reader_a`` reads
    everything in a but deletes nothing; ``lister`` reads notes of every unit and deletes
    only persons of a."""
    with linked.connection() as conn:
        accounts.create_unit(conn, "a")
        accounts.create_unit(conn, "b")
        accounts.save_role(conn, {"name": "mgr", "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]})
        accounts.save_role(conn, {"name": "reader", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "unit"}]})
        accounts.save_role(conn, {"name": "lister", "grants": [
            {"type": "note", "actions": ["read"], "depth": "all"},
            {"type": "person", "actions": ["read", "delete"], "depth": "unit"}]})
        accounts.create_user(conn, "mgr_a", "a", ["mgr"], "pw")
        accounts.create_user(conn, "reader_a", "a", ["reader"], "pw")
        accounts.create_user(conn, "lister", "a", ["lister"], "pw")
    return linked


def _snapshot(p) -> tuple:
    with p.engine.connect() as conn:
        return (sorted(tuple(r) for r in conn.execute(select(R.c.id, R.c.version, R.c.data))),
                sorted(tuple(r) for r in conn.execute(select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id))),
                conn.execute(select(func.count()).select_from(A)).scalar_one())


def _outcome(p, user: str, root: str, monkeypatch, planned: bool, ids=None, **kwargs):
    """Delete ``root`` as ``user`` by one path: ``(error class, message, errors, cascade
    path)`` of a refusal (nothing changed: checked), else the activities written and what is
    left of the records ``ids`` (all when None) and their relationships."""
    if not planned:
        one_by_one(monkeypatch)
    before = _snapshot(p)
    with p.engine.connect() as conn:
        mark = _mark(conn)
    try:
        with p.session(user) as s:
            s.delete(root, **kwargs)
    except (Conflict, PermissionDenied, NotFound, PreconditionFailed) as e:
        assert _snapshot(p) == before
        return type(e).__name__, e.message, e.errors, getattr(e, "cascade_path", None)
    recs, rels, _count = _snapshot(p)
    if ids is not None:
        recs = [r for r in recs if r[0] in ids]
        rels = [r for r in rels if r[2] in ids]
    with p.engine.connect() as conn:
        return _since(conn, mark), (recs, rels)


def _both_paths(p, user, build, monkeypatch, **kwargs):
    """Build the same records twice (``build(s)`` returns the root and the ids in creation
    order), delete the first by the planned path and the second one by one, and return both
    outcomes with the second's ids renamed to the first's."""
    from test_slow_paths7 import _swapper
    with p.session() as s:
        root_a, ids_a = build(s)
    fast = _outcome(p, user, root_a, monkeypatch, True, set(ids_a), **kwargs)
    with p.session() as s:
        root_b, ids_b = build(s)
    slow = _outcome(p, user, root_b, monkeypatch, False, set(ids_b), **kwargs)
    return fast, _swapper(dict(zip(ids_b, ids_a)))(slow)


def _rel_ids(*made):
    return [m["id"] for m in made]


# -- 1. planned deletes and scope --------------------------------------------------------------
def test_a_cascade_into_a_record_outside_the_scope_is_refused_as_one_by_one_and_names_no_id(units, monkeypatch):
    def build(s):
        root = s.create("person", {"name": "root"}, unit="a").id
        mine = _people(s, 3, "m", "a")
        hidden = s.create("person", {"name": "secret"}, unit="b").id
        made = [s.relate("sponsors", root, mine[0]), s.relate("sponsors", mine[0], mine[1]),
                s.relate("sponsors", mine[1], hidden), s.relate("knows", root, mine[2])]
        return root, [root, *mine, hidden, *_rel_ids(*made)]
    fast, slow = _both_paths(units, "mgr_a", build, monkeypatch)
    assert fast == slow
    assert fast[0] == "PermissionDenied" and fast[3] == ("sponsors", "sponsors", "sponsors")
    with units.engine.connect() as conn:
        hidden_ids = set(conn.execute(select(R.c.id).where(R.c.unit_id != select(db.units.c.id).where(
            db.units.c.name == "a").scalar_subquery())).scalars())
    assert not any(h in fast[1] or h in str(fast[2]) for h in hidden_ids)


def test_a_cascade_into_a_record_the_user_reads_but_may_not_delete_is_refused_as_one_by_one(units, monkeypatch):
    def build(s):
        root = s.create("person", {"name": "root"}, unit="a").id
        kid = s.create("person", {"name": "kid"}, unit="a").id
        note = s.create("note", {"text": "n"}, unit="a").id
        made = [s.relate("sponsors", root, kid), s.relate("has_note", kid, note)]
        return root, [root, kid, note, *_rel_ids(*made)]
    # lister may delete persons of a, reads notes, deletes none
    fast, slow = _both_paths(units, "lister", build, monkeypatch)
    assert fast == slow and fast[0] == "PermissionDenied" and fast[3] == ("sponsors", "has_note")
    # reader_a may delete nothing: refused at the root, before any cascade is read
    fast, slow = _both_paths(units, "reader_a", build, monkeypatch)
    assert fast == slow and fast[0] == "PermissionDenied" and "may not delete record" in fast[1]


def test_a_restrict_from_a_cascaded_record_to_a_hidden_one_says_a_hidden_record(units, monkeypatch):
    def build(s):
        root = s.create("person", {"name": "root"}, unit="a").id
        kid = s.create("person", {"name": "kid"}, unit="a").id
        secret = s.create("note", {"text": "secret"}, unit="b").id
        made = [s.relate("sponsors", root, kid), s.relate("pins", kid, secret)]
        return root, [root, kid, secret, *_rel_ids(*made)]
    fast, slow = _both_paths(units, "mgr_a", build, monkeypatch)
    assert fast == slow and fast[0] == "Conflict"
    assert fast[2] == [{"pointer": "/relationships", "message": "pins → a hidden record"}]


def test_a_hidden_record_a_cascade_reaches_twice_or_in_a_cycle_is_refused_once_as_one_by_one(units, monkeypatch):
    def build(s):
        root = s.create("person", {"name": "root"}, unit="a").id
        kids = _people(s, 3, "k", "a")
        hidden = s.create("person", {"name": "h"}, unit="b").id
        made = [s.relate("sponsors", root, kids[0]), s.relate("sponsors", kids[0], kids[1]),
                s.relate("sponsors", kids[1], root), s.relate("sponsors", kids[1], kids[2]),
                s.relate("sponsors", kids[0], kids[2]), s.relate("sponsors", kids[2], hidden),
                s.relate("knows", hidden, root)]
        return root, [root, *kids, hidden, *_rel_ids(*made)]
    fast, slow = _both_paths(units, "mgr_a", build, monkeypatch)
    assert fast == slow and fast[0] == "PermissionDenied"
    assert fast[3] == ("sponsors", "sponsors", "sponsors", "sponsors")


def test_a_planned_delete_by_a_unit_user_logs_what_one_by_one_logs_with_their_name_and_each_unit(units,
                                                                                                  monkeypatch):
    """Links to records of another unit (hidden from the user) are removed and logged on
    those records, with the user as actor and the record's own unit and owner."""
    def build(s):
        root = s.create("person", {"name": "root"}, unit="a").id
        kids = _people(s, 4, "k", "a")
        leaves = _notes(s, 3, "n", "a")
        others = _people(s, 3, "o", "b")
        made = [s.relate("sponsors", root, kids[0]), s.relate("sponsors", kids[0], kids[1]),
                s.relate("sponsors", root, kids[2]), s.relate("sponsors", kids[2], kids[1]),
                s.relate("has_note", kids[1], leaves[0]), s.relate("pins", kids[0], leaves[0]),
                s.relate("knows", others[0], kids[1]), s.relate("knows", kids[1], others[1]),
                s.relate("knows", root, others[2]), s.relate("knows", others[2], root),
                s.relate("knows", kids[3], kids[0]), s.relate("pins", kids[3], leaves[1]),
                s.relate("knows", kids[0], kids[2])]
        return root, [root, *kids, *leaves, *others, *_rel_ids(*made)]
    fast, slow = _both_paths(units, "mgr_a", build, monkeypatch)
    assert fast == slow
    acts, _state = fast
    assert {a[5] for a in acts} == {"mgr_a"}
    with units.engine.connect() as conn:
        unit_b = conn.execute(select(db.units.c.id).where(db.units.c.name == "b")).scalar_one()
        admin = conn.execute(select(db.users.c.id).where(db.users.c.name == "admin")).scalar_one()
    on_b = [a for a in acts if a[2] == unit_b]
    assert len(on_b) == 4 and {a[4] for a in on_b} == {"unrelated"} and {a[3] for a in on_b} == {admin}
    assert sorted(a[4] for a in acts).count("deleted") == 1 + 3 + 1  # root, kids 0-2, a note


def test_a_refused_cascade_reads_the_data_of_no_record_it_reaches(units):
    """The plan checks permissions on the records' unit and owner; their data is read only
    for the records deleted. A refusal at the first cascade read the data of every record
    the cascades reach (20,000 records of 2 kB: 80 MB, 4 s for a refusal; now 19 MB)."""
    with units.session() as s:
        hub = s.create("person", {"name": "hub"}, unit="a").id
        hidden = s.create("person", {"name": "h"}, unit="b").id
        s.relate("sponsors", hub, hidden)
        s.relate_many("sponsors", [(hidden, k) for k in _people(s, 50, "k", "b")])
    reads = []
    with units.session("mgr_a") as s, pytest.raises(PermissionDenied):
        event.listen(s.conn, "before_cursor_execute",
                     lambda c, cur, stmt, *a: reads.append(stmt) if stmt.lstrip().upper().startswith(("SELECT", "WITH"))
                     else None)
        s.delete(hub)
    with_data = [q for q in reads if "xrm_records.data" in q]
    assert len(with_data) == 1 and "WHERE xrm_records.id =" in with_data[0]   # the root's own read


def test_a_planned_delete_refuses_a_stale_version_and_changes_nothing(linked, monkeypatch):
    with linked.session() as s:
        root = s.create("person", {"name": "root"}).id
        s.relate_many("sponsors", [(root, k) for k in _people(s, 5, "k")])
        s.update(root, {"name": "root 2"})
    fast = _outcome(linked, "admin", root, monkeypatch, True, if_version=1)
    slow = _outcome(linked, "admin", root, monkeypatch, False, if_version=1)
    assert fast == slow and fast[0] == "PreconditionFailed"
    acts, (recs, rels) = _outcome(linked, "admin", root, monkeypatch, True, if_version=2)
    assert [r[0] for r in recs] == [] and rels == [] and len(acts) == 6


def test_no_statement_of_a_planned_delete_binds_more_parameters_whatever_its_fan_out(linked):
    """SQLite takes at most 32,766 parameters a statement, PostgreSQL 65,535: the records and
    relationships are named in chunks, the reach is a subquery."""
    def widest(n: int) -> tuple[int, int]:
        with linked.session() as s:
            hub = s.create("person", {"name": "hub"}).id
            kids = _people(s, n, f"k{n}_")
            s.relate_many("sponsors", [(hub, k) for k in kids])
            s.relate_many("knows", [(k, hub) for k in kids])
        seen = []
        with linked.session() as s:
            event.listen(s.conn, "before_cursor_execute",
                         lambda c, cur, stmt, params, ctx, many: seen.append(len(params or ())))
            s.delete(hub)
        with linked.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(R).where(R.c.id.in_([hub, *kids]))).scalar_one() == 0
            got = conn.execute(select(func.count()).select_from(A).where(A.c.kind == "deleted")).scalar_one()
        return max(seen), got
    small, _ = widest(10)
    large, deleted = widest(2400)
    assert deleted == 11 + 2401
    assert large <= 1000 and small <= 1000


# -- concurrency (PostgreSQL: SQLite has one writer, BEGIN IMMEDIATE) -----------------------------
def _spy(monkeypatch) -> list[bool]:
    """What each planned delete returned (False: it wrote nothing, one by one took over)."""
    taken: list[bool] = []
    real = planned_deletes.delete_without_hooks

    def spy(s, rec):
        taken.append(real(s, rec))
        return taken[-1]
    monkeypatch.setattr(planned_deletes, "delete_without_hooks", spy)
    return taken


pg_only = pytest.mark.skipif(PG_URL is None, reason="a race between two writers needs PostgreSQL")


def _on_postgresql(p):
    if p.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: no other transaction changes the graph meanwhile")


@pg_only
def test_a_cascade_related_while_the_delete_waits_for_its_locks_is_followed_not_refused(linked, monkeypatch):
    """Another transaction relates a reached record to a new one (cascade) before the delete
    locks it and commits while the delete waits: the planned read missed it. Was a
    PermissionDenied ("a record you may not delete") for the administrator; now the delete
    falls back to one record at a time, which reads each record's relationships once it
    holds the record, and deletes the new one too."""
    _on_postgresql(linked)
    with linked.session() as s:
        root, kid, new = _people(s, 3, "r")
        s.relate("sponsors", root, kid)
    outcome: dict = {}
    taken = _spy(monkeypatch)
    other = linked.session()
    s2 = other.__enter__()
    try:
        s2.relate("sponsors", kid, new)   # holds a key-share lock on kid until it commits

        def delete():
            try:
                with linked.session() as s:
                    s.delete(root)
                outcome["ok"] = True
            except Exception as e:  # noqa: BLE001 — the test reports it
                outcome["error"] = e
        worker = threading.Thread(target=delete)
        worker.start()
        _wait_for_lock_wait(linked)
    finally:
        other.__exit__(None, None, None)
    worker.join(30)
    assert outcome == {"ok": True} and taken == [False]
    with linked.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(R).where(R.c.id.in_([root, kid, new]))).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(REL)).scalar_one() == 0


def _wait_for_lock_wait(p, seconds: float = 10) -> None:
    """Until a session of the database waits for a row lock."""
    deadline = time.monotonic() + seconds
    with p.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")).scalar_one()
            if waiting:
                return
            conn.rollback()  # pg_stat_activity is read once per transaction
            time.sleep(0.05)
    raise AssertionError("the delete never waited for the lock")


@pg_only
def test_a_cascade_removed_between_the_reach_and_the_locks_does_not_let_a_restrict_through(linked, monkeypatch):
    """The recursive read reached a record through a cascade another transaction removes
    before the relationships are read: that record is no longer deleted with the root, so
    the root's restrict relationship to it must refuse the delete, as one by one."""
    _on_postgresql(linked)
    with linked.session() as s:
        root, kid, far = _people(s, 3, "r")
        s.relate("sponsors", root, kid)
        gone = s.relate("sponsors", kid, far)["id"]
        s.relate("mentor_of", root, far)   # restrict: refuses unless far goes too
    before_rel = None
    taken = _spy(monkeypatch)

    def race(conn, cursor, statement, params, context, many):
        nonlocal before_rel
        if before_rel is None and "FROM xrm_relationships" in statement and "FOR UPDATE" not in statement \
                and "xrm_reached" in statement:
            before_rel = True
            with linked.engine.connect() as other, other.begin():
                other.execute(REL.delete().where(REL.c.id == gone))
    with linked.session() as s:
        event.listen(s.conn, "before_cursor_execute", race)
        with pytest.raises(Conflict, match="mentor_of restrict deleting the source"):
            s.delete(root)
    assert before_rel and taken == [False]
    with linked.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(R).where(R.c.id.in_([root, kid, far]))).scalar_one() == 3


# -- 2. records._store_update ------------------------------------------------------------------------
STORED_ALIKE = [
    {"name": "é ✓ 中 \"q\" \\ \u2028 😀", "score": 1e16},
    {"name": "n", "score": 123456789012345680000.0, "x": -1e-300, "y": 1.5e308},
    {"name": "n", "x": 2**63 - 1, "y": -2**63, "z": [None, {"n": None, "m": [None]}], "w": {}},
    {"name": "n", "x": 0.1 + 0.2, "y": -0.0, "z": 5e-324},
]


@pytest.mark.parametrize("data", STORED_ALIKE)
def test_an_update_stores_the_text_a_create_stores(platform, data):
    """The driver-level UPDATE binds the JSON text the ORM's JSON column writes: the stored
    column is the same text (SQLite) or the same jsonb (PostgreSQL), and reads back equal."""
    as_text = text("SELECT CAST(data AS TEXT) FROM xrm_records WHERE id = :i")
    with platform.session() as s:
        created = s.create("person", data).id
        updated = s.update(s.create("person", {"name": "before", "tags": ["t"]}).id,
                           {**data, "tags": None}).id
        got = [s.conn.execute(as_text, {"i": i}).scalar_one() for i in (created, updated)]
        back = [s.get(i).data for i in (created, updated)]
    assert got[0] == got[1] and back[0] == back[1] == data
    assert {k: type(v) for k, v in back[1].items()} == {k: type(v) for k, v in data.items()}  # 1e16 stays a float


def test_an_update_at_a_stale_version_is_refused_and_writes_nothing(platform):
    with platform.session() as s:
        rid = s.create("person", {"name": "A"}).id
        s.update(rid, {"name": "B"})
    before = _snapshot(platform)
    with platform.session() as s, pytest.raises(PreconditionFailed, match="is at version 2, not 1"):
        s.update(rid, {"name": "C"}, if_version=1)
    # the row changed between the read and the UPDATE: the conditional UPDATE matches no row
    from xrm_core import records
    with platform.session() as s:
        row = records._row(s, rid)
        s.conn.execute(R.update().where(R.c.id == rid).values(version=R.c.version + 1))
        rec = records.from_row(s, row)
        rec.data, rec.version = {"name": "D"}, row.version + 1
        with pytest.raises(PreconditionFailed, match="changed concurrently"):
            records._store_update(s, row, rec, "2026-01-01T00:00:00Z")
        s.conn.rollback()
    assert _snapshot(platform) == before


# -- 3. filter numbers and other values a user types ------------------------------------------------
class Loose:
    """A type whose field ``n`` holds integers or text (compared by the value's JSON type)."""

    __name__ = "loose"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "loose", "title_field": "t", "schema": {"type": "object", "properties": {
            "t": {"type": "string"}, "n": {"type": ["integer", "string"]}, "age": {"type": "integer"}}}}]


@pytest.fixture
def loose(make_platform):
    p = make_platform(Loose())
    with p.session() as s:
        s.create_many("loose", [{"t": "1e2", "n": 100}, {"t": "100", "n": "1e2"}, {"t": "a", "n": 7, "age": 1}])
    return p


@pytest.mark.parametrize("field", ["t", "n", "age"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1, -2**63 - 1, 10**5000, "a\u0000b", "\u0000"],
                         ids=["2**63", "2**64-1", "-2**63-1", "10**5000", "a-NUL-b", "NUL"])
def test_values_no_record_can_hold_are_refused_with_the_field_and_pointer_never_a_server_error(loose, field, value):
    """A JSON reader gives 2**63…2**64-1 as an int (a keyset cursor, a KPI's where, the UI's
    untyped filter): SQLite could not bind it (OverflowError) and orjson not write a larger
    one (TypeError); PostgreSQL takes no NUL in a parameter (DataError). Each was a server
    error; now a ValidationError at the condition, naming the field, on both engines."""
    with loose.session() as s:
        for where, pointer in (({field: value}, f"/where/{field}"),
                               ({field: {"in": [1, value]}}, f"/where/{field}/in/1")):
            with pytest.raises(ValidationError) as e:
                s.list("loose", where=where)
            assert e.value.errors[0]["pointer"] == pointer
            assert f"for {field}" in e.value.message
            said = e.value.message
            assert ("NUL" in said) if isinstance(value, str) else ("64-bit integer range" in said)
            assert len(said) < 300   # a 5,000-digit integer is said by its size


@pytest.mark.parametrize("field", ["t", "n", "age"])
def test_the_edges_of_64_bits_are_still_compared(loose, field):
    with loose.session() as s:
        for value in (2**63 - 1, -2**63):
            assert s.list("loose", where={field: {"ne": value}}, limit=5) is not None


def test_a_number_typed_and_the_same_text_share_no_prepared_statement(loose):
    """``--where n=1e2`` keeps the text typed as a NumberText, which a field of several types
    compares as the number 100; the string "1e2" (REST ``filter[n]="1e2"``) compares as text.
    listing caches statements by the kinds of the values bound: whichever runs first, the
    other gets its own statement and its own answer."""
    typed = filters.parse_where(["n=1e2"])["n"]["eq"]
    assert isinstance(typed, filters.NumberText) and typed == "1e2"

    def titles(value):
        with loose.session() as s:
            return sorted(r.data["t"] for r in s.list("loose", where={"n": value}))
    for first, second in ((typed, "1e2"), ("1e2", typed)):
        assert (titles(first), titles(second)) == ((["1e2"], ["100"]) if first is typed else (["100"], ["1e2"]))
    # a string field compares a NumberText as the text typed
    with loose.session() as s:
        assert [r.data["t"] for r in s.list("loose", where={"t": typed})] == ["1e2"]


@pytest.mark.parametrize("typed", ["n=99999999999999999999", "age>1e400", "age<-1e400", "n=1e400", "age=1e-400",
                                   "n>" + "9" * 5000, "age=" + "1" * 4400 + ".5", "age=1e" + "9" * 400, "n=-0",
                                   "age=0e0", "t=1e2"])
def test_where_numbers_are_read_or_refused_never_a_server_error(loose, typed):
    with loose.session() as s:
        try:
            s.list("loose", where=filters.parse_where([typed]), limit=1)
        except ValidationError as e:
            assert e.errors and e.errors[0]["pointer"].startswith("/where/") and len(e.message) < 400


# -- data no engine can store, passed by a program ----------------------------------------
@pytest.mark.parametrize("data, pointer, words", [
    ({"name": "a\udc80b"}, "/data/name", "not valid Unicode"),
    ({"name": "n", "tags": ["ok", "\ud800"]}, "/data/tags/1", "not valid Unicode"),
    ({"name": "n", "k\udc80": 1}, "/data/k\\udc80", "not valid Unicode"),
    ({"name": "n", "tags": {"a", "b"}}, "/data/tags", "a set is not a JSON value"),
])
def test_data_that_is_no_json_is_refused_at_its_pointer_and_stores_nothing(linked, data, pointer, words):
    with linked.session() as s:
        before = s.conn.execute(select(func.count()).select_from(R)).scalar()
        with pytest.raises(ValidationError) as e:
            s.create("person", data)
        assert [x["pointer"] for x in e.value.errors] == [pointer] and words in e.value.errors[0]["message"]
        orjson.dumps(e.value.to_dict())  # the refusal itself can be written out (as the REST API and CLI do)
        rec = s.create("person", {"name": "kept"})
        with pytest.raises(ValidationError) as e:
            s.update(rec.id, {k: v for k, v in data.items() if k != "name"} or {"name": data["name"]})
        assert [x["pointer"] for x in e.value.errors] == [pointer]
        assert s.conn.execute(select(func.count()).select_from(R)).scalar() == before + 1
