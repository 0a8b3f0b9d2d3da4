"""Benchmark: a declarative NPS KPI against the hand-written SQL aggregate.

N survey-response records (integer ``score`` 0–10, a date ``answered_at``, a ``kind`` of which
about 70 % are "nps") are loaded straight into ``xrm_records`` (setup only; the type is added
through the platform, ``answered_at`` indexed). The KPI
``{"measure": {"nps": "score"}, "time_field": "answered_at", "where": {"kind": "nps"}}`` is
added as an admin KPI and computed with ``kpis.compute(session, ...)``; the baseline is the
SQL a person would write (``SUM(CASE ...)`` over the same rows) run on the DBAPI cursor of the
same connection. Both without a period and with a --from/--to window of six months; medians
of interleaved runs. Target: ratio ≤ 1.5.

    python bench/kpi_nps.py              # quick check (20,000 records)
    python bench/kpi_nps.py --full       # the issue's size (1,000,000 records)
    python bench/kpi_nps.py --full --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import sys
from datetime import date, timedelta

import _common as C

TYPE_NAME = "bench_response"
KPI_NAME = "bench_nps"
TARGET = 1.5
WINDOW = ("2025-01-01", "2025-06-30")

ENTITY_TYPE = {
    "name": TYPE_NAME, "title_field": "respondent", "indexes": ["answered_at"],
    "schema": {
        "type": "object",
        "properties": {
            "respondent": {"type": "string"},
            "kind": {"enum": ["nps", "csat", "ces"]},
            "touchpoint": {"enum": ["pre_purchase", "purchase", "after_sales"]},
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
            "answered_at": {"type": "string", "format": "date"},
            "comment": {"type": "string"},
        },
        "required": ["kind", "score", "answered_at"],
    },
}

KPI = {"name": KPI_NAME, "label": "Bench NPS", "unit": "score", "higher_is_better": True,
       "entity": TYPE_NAME, "time_field": "answered_at", "measure": {"nps": "score"}, "where": {"kind": "nps"}}

START = date(2023, 1, 1)
COMMENTS = ["", "fast service", "too expensive", "friendly staff", "waited too long", "great car"]


def make_data(i, rnd):
    kind = "nps" if rnd.random() < 0.7 else rnd.choice(("csat", "ces"))
    d = {"respondent": f"R{i:07d}", "kind": kind,
         "touchpoint": rnd.choice(("pre_purchase", "purchase", "after_sales")),
         "score": min(10, max(0, int(rnd.gauss(7.5, 2.2)))),
         "answered_at": (START + timedelta(days=rnd.randrange(3 * 365))).isoformat()}
    c = rnd.choice(COMMENTS)
    if c:
        d["comment"] = c
    return d


def raw_sql(dialect: str, window: bool, scoped: bool, once: bool = False) -> str:
    """The hand-written aggregate (``once``: score read once in a subquery)."""
    ph = "?" if dialect == "sqlite" else "%s"
    if dialect == "sqlite":
        f = lambda name: f"json_extract(data, '$.{name}')"  # noqa: E731
        score = f("score")
    else:
        f = lambda name: f"(data->>'{name}')"  # noqa: E731
        score = "(data->>'score')::int"
    conds = [f"type = '{TYPE_NAME}'"]
    if scoped:
        conds.append(f"unit_id = {ph}")
    conds.append(f"{f('kind')} = 'nps'")
    if window:
        conds.append(f"{f('answered_at')} BETWEEN {ph} AND {ph}")
    where = " AND ".join(conds)
    if once:
        return ("SELECT 100.0 * (SUM(CASE WHEN s >= 9 THEN 1 ELSE 0 END) - SUM(CASE WHEN s <= 6 THEN 1 ELSE 0 END))"
                f" / COUNT(s), COUNT(s) FROM (SELECT {score} AS s FROM xrm_records WHERE {where}) AS q")
    return (f"SELECT 100.0 * (SUM(CASE WHEN {score} >= 9 THEN 1 ELSE 0 END) - "
            f"SUM(CASE WHEN {score} <= 6 THEN 1 ELSE 0 END)) / COUNT({score}), COUNT({score}) "
            f"FROM xrm_records WHERE {where}")


def runner(conn, sql, params):
    dbapi = C.raw_cursor(conn)
    if conn.dialect.name == "sqlite":
        def run():
            return dbapi.execute(sql, params).fetchone()
    else:
        def run():
            with dbapi.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchone()
    return run


def main() -> int:
    from xrm_core import kpis
    p = C.parser(__doc__.splitlines()[0], 20_000, 1_000_000)
    p.add_argument("--reps", type=int, help="timed runs of each query (median kept; default 21, 7 above 100k rows)")
    args = p.parse_args()
    n = C.rows_of(args)
    reps = args.reps or (21 if n <= 100_000 else 7)
    C.print_machine(args.url)
    with C.database(args, "xrm_bench_kpi") as url:
        platform = C.open_platform(url)
        try:
            C.add_type(platform, ENTITY_TYPE)
            leaves = C.setup_org(platform, TYPE_NAME)
            with platform.connection() as conn:
                kpis.add(platform, conn, KPI)
            secs = C.bulk_load(platform, TYPE_NAME, leaves, make_data, n)
            print(f"{n:,} {TYPE_NAME} records over {len(leaves)} units (~70 % kind=nps, answered 2023–2025); "
                  f"loaded in {secs:.1f} s; {platform.engine.dialect.name}; median of {reps}; "
                  f"window {WINDOW[0]}..{WINDOW[1]}")
            print()
            report(platform, leaves, reps)
        finally:
            platform.dispose()
    return 0


def report(platform, leaves, reps) -> None:
    from xrm_core import kpis
    leaf = leaves[3]
    with platform.session("admin", write=False) as sa, platform.session(leaf["user"], write=False) as su:
        d = sa.dialect
        kpis.compute(sa, KPI_NAME)  # builds the KPI registry once per Platform (cached after)
        cases = {  # name -> (platform call, raw runner, raw "once" runner)
            "all time, admin": (lambda: kpis.compute(sa, KPI_NAME),
                                runner(sa.conn, raw_sql(d, False, False), ()),
                                runner(sa.conn, raw_sql(d, False, False, True), ())),
            "window, admin": (lambda: kpis.compute(sa, KPI_NAME, *WINDOW),
                              runner(sa.conn, raw_sql(d, True, False), WINDOW),
                              runner(sa.conn, raw_sql(d, True, False, True), WINDOW)),
            "window, unit scope": (lambda: kpis.compute(su, KPI_NAME, *WINDOW),
                                   runner(su.conn, raw_sql(d, True, True), (leaf["unit_id"], *WINDOW)),
                                   runner(su.conn, raw_sql(d, True, True, True), (leaf["unit_id"], *WINDOW))),
        }
        # Same answer, or the comparison means nothing.
        for name, (kpi, raw, once) in cases.items():
            got, want, want2 = kpi(), raw(), once()
            if got["n"] != want[1] or got["n"] != want2[1] or got["n"] == 0 or abs(got["value"] - float(want[0])) > 1e-3:
                raise SystemExit(f"{name}: KPI {got} disagrees with raw SQL {want} / {want2}")

        fns = {}
        for name, (kpi, raw, once) in cases.items():
            fns[f"kpis.compute ({name})"] = kpi
            fns[f"raw SQL ({name})"] = raw
            fns[f"raw SQL, score read once ({name})"] = once
        extra = []
        if d == "postgresql":
            # The platform reads integer fields as ((data #>> '{f}')::numeric); a person writes
            # (data->>'f')::int. This row shows what the cast alone costs.
            k = "raw SQL, platform's ::numeric cast (all time, admin)"
            extra.append(("all time, admin", k))
            fns[k] = runner(sa.conn, raw_sql(d, False, False).replace("(data->>'score')::int",
                                                                      "((data #>> '{score}')::numeric)"), ())
        runs = C.interleaved(fns, reps, warmup=1)
        sqlite = d == "sqlite"

        def ratio(k, name, cpu=False):
            return runs[k].median(cpu) / runs[f"raw SQL ({name})"].median(cpu)
        rows = []
        for name in cases:
            for k in (f"kpis.compute ({name})", f"raw SQL ({name})", f"raw SQL, score read once ({name})",
                      *[k for n, k in extra if n == name]):
                r = runs[k]
                rows.append([k, C.fmt_s(r.median()), C.fmt_s(r.best()), f"{ratio(k, name):.2f}×"]
                            + ([C.fmt_s(r.median(True)), f"{ratio(k, name, True):.2f}×"] if sqlite else []))
        C.table(rows, ["query", "median", "best", "ratio vs raw SQL"] + (["median CPU", "CPU ratio"] if sqlite else []))
        print()
        for name in cases:
            k = f"kpis.compute ({name})"
            print(f"ratio, {name:<18}: {C.verdict(ratio(k, name), TARGET)}"
                  + (f"; by CPU time {ratio(k, name, True):.2f}×" if sqlite else ""))
        print()
        for name, s, args in (("all time, admin", sa, ()), ("window, admin", sa, WINDOW),
                              ("window, unit scope", su, WINDOW)):
            with C.capture_sql(s.conn) as seen:
                kpis.compute(s, KPI_NAME, *args)
            stmt, params = seen[-1]
            print(f"platform SQL ({name}): {' '.join(stmt.split())}  params={params}")
            for line in C.explain(s.conn, stmt, params):
                print(f"    plan: {line}")
        for name, s, sql, params in (("window, admin", sa, raw_sql(d, True, False), WINDOW),
                                     ("window, unit scope", su, raw_sql(d, True, True), (leaf["unit_id"], *WINDOW))):
            print(f"raw SQL ({name}): {sql}")
            for line in C.explain(s.conn, sql, params):
                print(f"    plan: {line}")
        print()


if __name__ == "__main__":
    sys.exit(main())
