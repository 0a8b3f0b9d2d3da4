"""Benchmark: first page of a list by an indexed field, Session.list against the raw SQL.

N records of a type with an indexed field (``city``) are loaded straight into ``xrm_records``
(setup only; the type is added through the platform so its expression index exists). Then,
on the same connection and interleaved, the median of many runs of:

- ``Session.list(TYPE, {"city": V}, limit=50)`` as the admin, against
  ``SELECT <the record columns> FROM xrm_records WHERE type = 'T' AND <city expr> = ? ORDER BY id LIMIT 50``;
- the same as a user whose grant has depth ``unit``, against the raw SQL with ``AND unit_id = ?``.

The raw SQL runs on the DBAPI cursor under the session's connection and fetches the same
columns (``data`` left as the driver returns it). On PostgreSQL the raw SQL reads the field
with the expression the platform indexes (``data #>> '{city}'``); ``data->>'city'`` is shown
too (same meaning, but PostgreSQL matches expression indexes textually, so it cannot use the
index). Target: ratio ≤ 2.

    python bench/list_indexed.py              # quick check (20,000 records)
    python bench/list_indexed.py --full       # the issue's size (1,000,000 records)
    python bench/list_indexed.py --full --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import contextlib
import sys

import _common as C

TYPE_NAME = "bench_item"
TARGET = 2.0
LIMIT = 50
CITIES = [f"city_{i:03d}" for i in range(200)]

ENTITY_TYPE = {
    "name": TYPE_NAME, "title_field": "name", "indexes": ["city"],
    "schema": {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "email": {"type": "string", "format": "email"},
            "city": {"type": "string"}, "status": {"enum": ["new", "open", "won", "lost"]},
            "amount": {"type": "number"}, "qty": {"type": "integer"},
            "since": {"type": "string", "format": "date"}, "vip": {"type": "boolean"},
        },
        "required": ["name"],
    },
}


def make_data(i, rnd):
    return {"name": f"Item {i}", "email": f"item{i}@example.com", "city": rnd.choice(CITIES),
            "status": rnd.choice(("new", "open", "won", "lost")), "amount": round(rnd.uniform(0, 1e5), 2),
            "qty": rnd.randint(1, 500), "since": f"20{rnd.randint(15, 25)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
            "vip": rnd.random() < 0.1}


COLS = "id, type, data, version, owner_id, unit_id, created_at, updated_at, created_by, updated_by"


def raw_sql(dialect: str, scoped: bool, expr: str | None = None) -> str:
    ph = "?" if dialect == "sqlite" else "%s"
    if expr is None:
        expr = "json_extract(data, '$.city')" if dialect == "sqlite" else "(data #>> '{city}')"
    # The scope test goes before the JSON one, as a hand-writer (and the platform) puts it:
    # SQLite evaluates WHERE terms in order, and a cheap column test spares json_extract calls.
    scope = f" AND unit_id = {ph}" if scoped else ""
    return (f"SELECT {COLS} FROM xrm_records WHERE type = '{TYPE_NAME}'{scope} AND {expr} = {ph} "
            f"ORDER BY id LIMIT {LIMIT}")


def runner(conn, sql, params):
    dbapi = C.raw_cursor(conn)
    if conn.dialect.name == "sqlite":
        def run():
            return dbapi.execute(sql, params).fetchall()
    else:
        def run():
            with dbapi.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
    return run


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 20_000, 1_000_000)
    p.add_argument("--reps", type=int, default=200, help="timed runs of each query (median kept; default 200)")
    p.add_argument("--analyze", action="store_true", help="run ANALYZE on SQLite after loading (PostgreSQL always does)")
    p.add_argument("--experiments", action="store_true",
                   help="also time the earlier ways of running a list page, for comparison")
    args = p.parse_args()
    n = C.rows_of(args)
    C.print_machine(args.url)
    with C.database(args, "xrm_bench_list") as url:
        platform = C.open_platform(url)
        try:
            C.add_type(platform, ENTITY_TYPE)
            leaves = C.setup_org(platform, TYPE_NAME)
            secs = C.bulk_load(platform, TYPE_NAME, leaves, make_data, n)
            if args.analyze and platform.engine.dialect.name == "sqlite":
                with platform.connection() as conn:
                    conn.exec_driver_sql("ANALYZE")
            print(f"{n:,} {TYPE_NAME} records over {len(leaves)} units, {len(CITIES)} cities "
                  f"(~{n // len(CITIES):,} per city, ~{n // len(CITIES) // len(leaves):,} per city and unit); "
                  f"loaded in {secs:.1f} s; {platform.engine.dialect.name}; median of {args.reps}")
            print()
            report(platform, leaves, args)
        finally:
            platform.dispose()
    return 0


def report(platform, leaves, args) -> None:
    leaf = leaves[3]
    with contextlib.ExitStack() as stack:
        sa = stack.enter_context(platform.session("admin", write=False))
        su = stack.enter_context(platform.session(leaf["user"], write=False))
        d = sa.dialect
        # A city the scoped user has records in (so both lists have rows at any size).
        city = su.list(TYPE_NAME, limit=1)[0].data["city"]
        where = {"city": city}
        fns = {
            "Session.list (admin)": lambda: sa.list(TYPE_NAME, where, limit=LIMIT),
            "raw SQL (admin)": runner(sa.conn, raw_sql(d, False), (city,)),
            "Session.list (unit scope)": lambda: su.list(TYPE_NAME, where, limit=LIMIT),
            "raw SQL (unit scope)": runner(su.conn, raw_sql(d, True), (leaf["unit_id"], city)),
        }
        if d == "postgresql":
            fns["raw SQL, data->>'city' (admin)"] = runner(sa.conn, raw_sql(d, False, "(data->>'city')"), (city,))
        if args.experiments:
            sx = stack.enter_context(platform.session("admin", write=False))
            fns.update(experiments(sx, where, city))

        # Same rows, or the comparison means nothing.
        for who, s, raw in (("admin", sa, "raw SQL (admin)"), ("unit scope", su, "raw SQL (unit scope)")):
            got = [r.id for r in fns[f"Session.list ({who})"]()]
            want = [r[0] for r in fns[raw]()]
            if got != want or not got:
                raise SystemExit(f"{who}: Session.list and raw SQL disagree ({len(got)} vs {len(want)} rows)")

        def list_and_read():
            # Session.list decodes a record's data on first access: this pays for all of it.
            items = sa.list(TYPE_NAME, where, limit=LIMIT)
            for r in items:
                r.data
            return items
        fns["Session.list + every record's data (admin)"] = list_and_read

        def open_and_list():
            with platform.session("admin", write=False) as s:
                return s.list(TYPE_NAME, where, limit=LIMIT)
        fns["open session + Session.list (admin)"] = open_and_list

        runs = C.interleaved(fns, args.reps)
        sqlite = d == "sqlite"

        def ratio(k, cpu=False):
            b = runs["raw SQL (unit scope)" if "unit scope" in k else "raw SQL (admin)"]
            return runs[k].median(cpu) / b.median(cpu)
        rows = []
        for k, r in runs.items():
            rows.append([k, C.fmt_s(r.median()), C.fmt_s(r.best()), f"{ratio(k):.2f}×"]
                        + ([C.fmt_s(r.median(True)), f"{ratio(k, True):.2f}×"] if sqlite else []))
        C.table(rows, ["query (first page, limit 50)", "median", "best", "ratio vs raw"]
                + (["median CPU", "CPU ratio"] if sqlite else []))
        print()
        for who in ("admin", "unit scope"):
            k = f"Session.list ({who})"
            print(f"ratio, {who:<10}: {C.verdict(ratio(k), TARGET)}"
                  + (f"; by CPU time {ratio(k, True):.2f}×" if sqlite else ""))
        print()

        # What the platform sent, and how the database runs it.
        from xrm_core import listing
        for who, s in (("admin", sa), ("unit scope", su)):
            stmt, params = listing.list_query(s, TYPE_NAME, where, limit=LIMIT)
            print(f"platform SQL ({who}): {' '.join(stmt.split())}  params={params}")
            for line in C.explain(s.conn, stmt, params):
                print(f"    plan: {line}")
        for who, s, sql, params in (("admin", sa, raw_sql(d, False), (city,)),
                                    ("unit scope", su, raw_sql(d, True), (leaf["unit_id"], city))):
            print(f"raw SQL ({who}): {sql}")
            for line in C.explain(s.conn, sql, params):
                print(f"    plan: {line}")
        print()
        print("Profile of Session.list (admin), per call:")
        C.profile_calls(fns["Session.list (admin)"], max(50, args.reps // 2))
        print()
    if args.experiments:
        index_experiment(platform, where, city, args.reps)


def index_experiment(platform, where, city, reps) -> None:
    """Add the index the type would get without ``type`` as its leading column —
    ``(<city expr>, id) WHERE type = 'T'`` — and time the admin list again.

    PostgreSQL drops a WHERE term that the partial index's predicate implies from the index
    conditions, so on ``(type, expr, id) WHERE type = 'T'`` it has no condition on the leading
    column and reads the whole index of the type; SQLite keeps ``type = ?`` as the leading
    equality and is not affected.
    """
    from xrm_core.fields import field_sql
    with platform.connection() as conn:
        d = conn.dialect.name
        expr = field_sql(d, "city", "string")
        conn.exec_driver_sql(f"CREATE INDEX bench_ix_city_id ON xrm_records ({expr}, id) WHERE type = '{TYPE_NAME}'")
        conn.exec_driver_sql("ANALYZE xrm_records" if d == "postgresql" else "ANALYZE")
    with platform.session("admin", write=False) as sa:
        fns = {"Session.list (admin)": lambda: sa.list(TYPE_NAME, where, limit=LIMIT),
               "raw SQL (admin)": runner(sa.conn, raw_sql(d, False), (city,))}
        runs = C.interleaved(fns, reps)
        print("exp: with an index (city expr, id) WHERE type = '…' added (no leading type column)")
        base = runs["raw SQL (admin)"].median()
        C.table([[k, C.fmt_s(r.median()), C.fmt_s(r.best()), f"{r.median() / base:.2f}×"] for k, r in runs.items()],
                ["query (first page, limit 50)", "median", "best", "ratio vs raw"])
        sql = raw_sql(d, False)
        for line in C.explain(sa.conn, sql, (city,)):
            print(f"    plan: {line}")
        print()


def experiments(sx, where, city) -> dict:
    """The earlier ways of running a list page, each a step towards what ``listing.py`` now
    does, on an admin session ``sx`` of their own. Together they split what the overhead was:
    statement building, SQLAlchemy execution/result processing and building Records.

    - prebuilt statement: skip building the SELECT (what caching the statement per
      type/filter shape/scope with bind parameters would give), rows fetched with ``.all()``;
    - cached SQL text, exec_driver_sql: the statement compiled once, run as SQL text through
      SQLAlchemy's driver-level call (no result type processing), Records built by position;
    - driver rows → Records: the DBAPI cursor, ``orjson.loads`` and Record objects — the floor
      of any API that returns Records.
    """
    from sqlalchemy import and_, select

    import orjson

    from xrm_core import records
    from xrm_core.fields import type_literal
    from xrm_core.filters import compile_filter, order_by
    R = records.R
    names = sx.unit_names()
    et = sx.entity_type(TYPE_NAME)
    keys, order = order_by(sx.dialect, et, [])
    q = (select(*records.COLUMNS)
         .where(and_(R.c.type == type_literal(et.name), sx.actor.clause(et.name, "read"),
                     compile_filter(sx.dialect, et, where)))
         .order_by(*order).limit(LIMIT))

    def prebuilt():
        return [records.from_row(sx, r) for r in sx.conn.execute(q).all()]

    raw = runner(sx.conn, raw_sql(sx.dialect, False), (city,))
    users = sx.user_names()
    loads = orjson.loads

    def to_records(rows):
        return [records.Record(r[0], r[1], loads(r[2]) if isinstance(r[2], (str, bytes)) else r[2], r[3],
                               users.get(r[4]), names.get(r[5]), r[6], r[7], users.get(r[8]), users.get(r[9]),
                               r[4], r[5]) for r in rows]

    # A statement compiled once per shape (type, filter fields and operators, sort, scope
    # depth), then run with exec_driver_sql: the SQL text and bind order are cached, only the
    # values change between calls.
    compiled = q.compile(dialect=sx.conn.dialect)
    sql = str(compiled)
    order = compiled.positiontup or []
    values = compiled.params

    def cached_sql():
        return to_records(sx.conn.exec_driver_sql(sql, tuple(values[k] for k in order)
                                                  if order else values).all())

    def driver_records():
        return to_records(raw())

    return {"exp: prebuilt statement (admin)": prebuilt,
            "exp: cached SQL text, exec_driver_sql (admin)": cached_sql,
            "exp: driver rows -> Records (admin)": driver_records}


if __name__ == "__main__":
    sys.exit(main())
