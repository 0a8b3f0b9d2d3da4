"""Benchmark: deleting one record that has N relationships, or cascades through N records — does it scale linearly?

A record with thousands of links (a customer with 5,000 interactions) was slow to delete:
every relationship cost a DELETE by id, a read of the other record and an INSERT of its
``unrelated`` activity — several statements per link, each a round trip on PostgreSQL.
This script deletes one record ("the hub") through ``Session.delete`` in two cases:

- ``unlink``: N ``unlink`` relationships, half outgoing (hub → other) and half incoming
  (other → hub), each to a distinct record that survives and gets an ``unrelated`` activity;
- ``cascade``: N ``cascade`` relationships to leaf records that have no other links; each
  leaf is deleted (the caller's permission checked on each) and gets its ``deleted``
  activity;
- ``tree``: a cascade through N records below the hub, ten children each (four levels for
  N = 1,000);
- ``chain``: a cascade through a chain of N records, each the next one's source.

No record hook is called for the node type, so a cascade is planned in memory and written
set-based (``planned_deletes.delete_without_hooks``). With ``--one-by-one``, the delete as it
runs when a hook takes part — one record at a time, five statements each
(``xrm_core.deletes``) — is measured too, interleaved.

For N = --rows × (1, 5, 20) (default 1,000, 5,000 and 20,000) it prints the wall-clock and
CPU time of the delete (committed), the time per link, the number of SQL statements it
ran, and the scaling ratio time(kN) / (k × time(N)) between consecutive sizes (~1.0 is
linear; 5k → 20k is the ratio time(4N) / (4 × time(N))).

Baseline, measured in the same run, interleaved with the platform (each on a fresh hub and
links of its own, set up untimed through the platform's bulk paths), on a raw DB-API
connection of the same database: what the delete must store, with no Python of the
platform — ``DELETE FROM xrm_relationships WHERE source_id = ?`` (and ``target_id = ?``)
of the same N rows, for ``cascade`` ``executemany`` of ``DELETE FROM xrm_records WHERE id = ?``
for the leaves, ``executemany`` of the same number of activity rows as the platform writes,
the hub's own DELETE, and the commit. Both must leave the same counts of relationships,
records and activities, or the script exits non-zero.

With ``--per-link``, the delete as it ran before the set-based path is measured too, in the
same run and interleaved: the loop of ``deletes._unlink_all`` that ran a DELETE by id,
a read of the other record and an INSERT of its activity per relationship, and a savepoint
per cascaded record (reproduced below and patched in for that variant only). That gives the
before/after figures on a shared machine, where separate runs differ by more than the change.

The installed plugins are loaded, as a user has them (their record hooks run for each
cascaded leaf). Each size runs in a fresh database (a SQLite file, or a PostgreSQL schema
dropped afterwards).

    python bench/delete_links.py                       # N = 1,000, 5,000, 20,000
    python bench/delete_links.py --rows 500 --reps 1   # quick: 500, 2,500, 10,000
    python bench/delete_links.py --url postgresql://postgres@127.0.0.1:5432/test
    python bench/delete_links.py --per-link --reps 1   # and the per-link delete of before
    python bench/delete_links.py --cases cascade,tree --one-by-one   # and the one-record-at-a-time cascade
"""
from __future__ import annotations

import contextlib
import sys
import time

import orjson

import _common as C

NODE = "bench_node"
NODE_TYPE = {
    "name": NODE, "label": "Bench node", "title_field": "name",
    "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
               "properties": {"name": {"type": "string"}}, "required": ["name"]},
}
LINK = {"name": "bench_link", "source": NODE, "target": NODE, "cardinality": "many-to-many", "on_delete": "unlink"}
HOLDS = {"name": "bench_holds", "source": NODE, "target": NODE, "cardinality": "one-to-many", "on_delete": "cascade"}
CASES = ("unlink", "cascade", "tree", "chain")
FACTORS = (1, 5, 20)


def prepare(url: str):
    """An initialised platform with the node type and both relationship types."""
    from xrm_core import relationships
    platform = C.open_platform(url)
    C.add_type(platform, NODE_TYPE)
    with platform.connection() as conn:
        for rt in (LINK, HOLDS):
            relationships.save(conn, rt, {NODE})
    return platform


def setup(platform, case: str, n: int, tag: str) -> str:
    """Untimed: a hub and ``n`` links of ``case`` to records of their own (or ``n`` records
    its cascades reach, as a tree or a chain); the hub's id."""
    with platform.session() as s:
        hub = s.create(NODE, {"name": f"hub {tag}"}).id
        others = [r.id for r in s.create_many(NODE, [{"name": f"{tag} {i}"} for i in range(n)])]
        if case == "unlink":
            half = n // 2
            s.relate_many(LINK["name"], [(hub, o) for o in others[:half]])
            s.relate_many(LINK["name"], [(o, hub) for o in others[half:]])
        elif case == "cascade":
            s.relate_many(HOLDS["name"], [(hub, o) for o in others])
        else:
            nodes = [hub, *others]
            parent = (lambda i: (i - 1) // 10) if case == "tree" else (lambda i: i - 1)
            pairs = [(nodes[parent(i)], nodes[i]) for i in range(1, len(nodes))]
            for i in range(0, len(pairs), 5000):
                s.relate_many(HOLDS["name"], pairs[i:i + 5000])
    return hub


def counts(platform) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from xrm_core import db
    with platform.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (db.relationships, db.records, db.activities))


def platform_delete(platform, hub: str) -> tuple[float, float, int]:
    """(wall, CPU, statements) of ``Session.delete(hub)``, committed."""
    from sqlalchemy import event
    statements = [0]

    def count(*_args):
        statements[0] += 1

    event.listen(platform.engine, "before_cursor_execute", count)
    try:
        c, t = time.process_time(), time.perf_counter()
        with platform.session() as s:
            s.delete(hub)
        return time.perf_counter() - t, time.process_time() - c, statements[0]
    finally:
        event.remove(platform.engine, "before_cursor_execute", count)


# -- the per-link delete of before (for --per-link) -----------------------------------------
def _per_link_unlink_all(s, rec, rows, seen):
    """``deletes._unlink_all`` before the set-based path: per relationship a DELETE by
    id, then a cascade or a read of the other end and one INSERT of its activity."""
    from sqlalchemy import delete

    from xrm_core import db, deletes, records
    REL = db.relationships
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
                s.log_activity(records.from_row(s, other), "unrelated",
                               f"{row.type} with {rec.type} {rec.id} removed (deleted)",
                               {"relationship": row.id, "type": row.type,
                                "direction": "incoming" if outgoing else "outgoing", "other": rec.id,
                                "reason": "deleted"})
    return cascaded


@contextlib.contextmanager
def one_by_one_delete():
    """The delete without its planned path (one record at a time), for the duration."""
    from xrm_core import planned_deletes
    saved = planned_deletes.delete_without_hooks
    planned_deletes.delete_without_hooks = lambda s, rec: False
    try:
        yield
    finally:
        planned_deletes.delete_without_hooks = saved


@contextlib.contextmanager
def per_link_delete():
    """The platform's delete as it was before the set-based path, for the duration."""
    from sqlalchemy import or_, select

    from xrm_core import db, deletes
    REL = db.relationships
    real = deletes._cascaded_delete

    def cascaded_with_savepoint(s, record_id, seen):
        with s.conn.begin_nested():  # every cascaded record had a savepoint of its own
            yield from real(s, record_id, seen)

    def touching(s, rec):  # every column, the data too
        return s.conn.execute(select(REL).where(or_(REL.c.source_id == rec.id, REL.c.target_id == rec.id))
                              .order_by(REL.c.id)).all()

    saved = deletes._unlink_all, deletes._touching, deletes._cascaded_delete
    deletes._unlink_all, deletes._touching, deletes._cascaded_delete = _per_link_unlink_all, touching, \
        cascaded_with_savepoint
    try:
        with one_by_one_delete():
            yield
    finally:
        deletes._unlink_all, deletes._touching, deletes._cascaded_delete = saved


def baseline_delete(platform, case: str, hub: str) -> tuple[float, float]:
    """(wall, CPU) of the same delete as raw SQL on a DB-API connection (see the module doc)."""
    from sqlalchemy import select

    from xrm_core import db
    R, REL = db.records, db.relationships
    with platform.engine.connect() as conn:  # untimed: what the rows are
        hub_row = conn.execute(select(R.c.type, R.c.unit_id, R.c.owner_id).where(R.c.id == hub)).one()
        links = conn.execute(select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id)
                             .where((REL.c.source_id == hub) | (REL.c.target_id == hub))).all()
        others = {r.id: r for r in conn.execute(
            select(R.c.id, R.c.type, R.c.unit_id, R.c.owner_id)
            .where(R.c.id.in_(select(REL.c.target_id).where(REL.c.source_id == hub)
                              .union(select(REL.c.source_id).where(REL.c.target_id == hub)))))}
        sources = [hub]   # the records whose outgoing relationships go (tree, chain: all but leaves)
        frontier = [r.target_id for r in links if r.source_id == hub] if case in ("tree", "chain") else []
        while frontier:
            below = conn.execute(select(REL.c.source_id, REL.c.target_id)
                                 .where(REL.c.source_id.in_(frontier))).all()
            sources += sorted({r.source_id for r in below})
            frontier = [r.target_id for r in below]
            others.update((r.id, r) for r in conn.execute(select(R.c.id, R.c.type, R.c.unit_id, R.c.owner_id)
                                                           .where(R.c.id.in_(frontier))))
    at = "2026-01-01T00:00:00.000000Z"
    ph = "?" if platform.engine.dialect.name == "sqlite" else "%s"
    insert_activity = ("INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, "
                       f"summary, payload) VALUES ({', '.join([ph] * 9)})")
    if case == "unlink":
        acts = []
        for r in links:
            other = r.target_id if r.source_id == hub else r.source_id
            o = others[other]
            acts.append((other, o.type, o.unit_id, o.owner_id, "unrelated", at, "admin",
                         f"{r.type} with {NODE} {hub} removed (deleted)",
                         orjson.dumps({"relationship": r.id, "type": r.type, "other": hub,
                                       "direction": "incoming" if r.source_id == hub else "outgoing",
                                       "reason": "deleted"}).decode()))
        leaves = []
    else:
        leaves = [(o,) for o in others]
        acts = [(o.id, o.type, o.unit_id, o.owner_id, "deleted", at, "admin", f"deleted {NODE}",
                 orjson.dumps({"data": {"name": "x"}, "version": 1}).decode()) for o in others.values()]
    acts.append((hub, hub_row.type, hub_row.unit_id, hub_row.owner_id, "deleted", at, "admin", f"deleted {NODE}",
                 orjson.dumps({"data": {"name": "hub"}, "version": 1}).decode()))
    raw = platform.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        c, t = time.process_time(), time.perf_counter()
        if platform.engine.dialect.name == "sqlite":
            dbapi.execute("BEGIN")
            cur = dbapi
        else:
            cur = dbapi.cursor()
        cur.executemany(f"DELETE FROM xrm_relationships WHERE source_id = {ph}", [(i,) for i in sources])
        cur.execute(f"DELETE FROM xrm_relationships WHERE target_id = {ph}", (hub,))
        if leaves:
            cur.executemany(f"DELETE FROM xrm_records WHERE id = {ph}", leaves)
        cur.executemany(insert_activity, acts)
        cur.execute(f"DELETE FROM xrm_records WHERE id = {ph}", (hub,))
        if platform.engine.dialect.name == "sqlite":
            dbapi.execute("COMMIT")
        else:
            cur.close()
            dbapi.commit()
        return time.perf_counter() - t, time.process_time() - c
    finally:
        raw.close()


def measure(args, case: str, n: int) -> dict:
    """Best of --reps of the platform and of the baseline, interleaved, in a fresh database."""
    best: dict = {}
    with C.database(args, "xrm_bench_del") as url:
        platform = prepare(url)
        try:
            variants = ["platform", "baseline"] + (["per-link"] if args.per_link else []) + (
                ["one-by-one"] if args.one_by_one else [])
            for rep in range(args.reps):
                k = rep % len(variants)
                for who in variants[k:] + variants[:k]:
                    hub = setup(platform, case, n, f"{who}{rep}")
                    before = counts(platform)
                    if who == "platform":
                        wall, cpu, statements = platform_delete(platform, hub)
                    elif who in ("per-link", "one-by-one"):
                        with per_link_delete() if who == "per-link" else one_by_one_delete():
                            wall, cpu, statements = platform_delete(platform, hub)
                    else:
                        (wall, cpu), statements = baseline_delete(platform, case, hub), None
                    after = counts(platform)
                    # relationships, records and activities: both must do the same
                    change = tuple(a - b for a, b in zip(after, before))
                    want = (-n, -1 - (0 if case == "unlink" else n), n + 1)
                    if change != want:
                        raise SystemExit(f"{who} {case} N={n}: (relationships, records, activities) changed by "
                                         f"{change}, expected {want}")
                    if who not in best or wall < best[who][0]:
                        best[who] = (wall, cpu, statements)
        finally:
            platform.dispose()
    return best


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 1_000, 1_000)
    p.add_argument("--reps", type=int, default=3, help="runs of each delete (best is kept; default 3)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)} (default all)")
    p.add_argument("--per-link", action="store_true",
                   help="also measure the per-link delete of before the set-based path (interleaved)")
    p.add_argument("--one-by-one", action="store_true",
                   help="also measure the cascade one record at a time, as before it was planned (interleaved)")
    args = p.parse_args()
    n0 = C.rows_of(args)
    sizes = [n0 * f for f in FACTORS]
    cases = [c for c in args.cases.split(",") if c]
    C.print_machine(args.url)
    print(f"delete one record with N links, N = {', '.join(f'{n:,}' for n in sizes)}; database: "
          f"{'PostgreSQL ' + args.url if args.url else 'SQLite file'}; fresh database per size, best of "
          f"{args.reps}, platform and baseline interleaved")
    print()
    rows, scaling, speedup = [], [], []
    for case in cases:
        got = {}
        for n in sizes:
            got[n] = measure(args, case, n)
            bwall = got[n]["baseline"][0]
            for who in ("per-link", "one-by-one", "platform"):
                if who not in got[n]:
                    continue
                wall, cpu, statements = got[n][who]
                rows.append([case, f"{n:,}", who, C.fmt_s(wall), C.fmt_s(cpu), f"{wall / n * 1e6:,.1f} µs",
                             f"{statements:,}", f"{statements / n:.2f}", C.fmt_s(bwall),
                             f"{bwall / n * 1e6:,.1f} µs", f"{wall / bwall:.1f}×"])
                print(f"  {case} N={n:,} {who}: {C.fmt_s(wall)} ({wall / n * 1e6:,.1f} µs/link), "
                      f"baseline {C.fmt_s(bwall)}", flush=True)
        for a, b in zip(sizes, sizes[1:]):
            k = b / a
            ratio = {who: f"{got[b][who][0] / (k * got[a][who][0]):.2f}" if who in got[a] else "—"
                     for who in ("platform", "per-link", "one-by-one", "baseline")}
            scaling.append([case, f"{a:,} → {b:,}", ratio["platform"],
                            f"{got[b]['platform'][1] / (k * got[a]['platform'][1]):.2f}", ratio["per-link"],
                            ratio["one-by-one"], ratio["baseline"]])
        for n in sizes:
            for who in ("per-link", "one-by-one"):
                if who in got[n]:
                    speedup.append([case, f"{n:,}", who, f"{got[n][who][0] / got[n]['platform'][0]:.1f}×",
                                    f"{got[n][who][1] / got[n]['platform'][1]:.1f}×"])
    print()
    C.table(rows, ["case", "links", "delete", "wall", "CPU (client)", "per link", "statements", "per link",
                   "baseline", "baseline per link", "vs baseline"])
    print()
    print("Scaling ratio time(kN) / (k × time(N)): ~1.0 is linear, 2.0 means k× the links took 2k× the time")
    C.table(scaling, ["case", "sizes", "platform (wall)", "platform (CPU)", "per-link (wall)", "one-by-one (wall)",
                      "baseline (wall)"])
    if speedup:
        print()
        print("the delete of before (per-link, or one-by-one cascade) / platform (now), same run")
        C.table(speedup, ["case", "links", "before", "speed-up (wall)", "speed-up (CPU)"])
    print()
    if args.url:
        print("CPU is the client's only (PostgreSQL's own work is not in it): judge by the wall clock there.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
