"""Benchmark: the pages and API requests real users make, on a large database and a small one.

An organisation with N records of one type (``bench_item``, 1M with ``--full``), a few
thousand records of a related type (``bench_contact``), one "hub" item linked to ``--links``
contacts (10,000) and holding ``--acts`` activities (10,000) in its timeline. The records,
links and activities are written straight into the tables (setup, not measured; the types,
relationship type and KPI go through the platform). A second database holds the same shape
at 1,000 items, 100 contacts, 10 links and 10 activities.

Each request runs in process through Flask's test client (the admin UI signed in as the
admin, the REST API with a bearer token), on both databases, interleaved; the figure is the
**growth ratio** time(large) / time(small): ~1 means the page costs what a page costs,
whatever the database holds; a ratio that grows with N is O(N) work where a page is expected.
The list pages are also set against the raw SQL of the same page on the large database.
Every request also reports its SQL statements (SQLite: every statement the driver ran).

    python bench/ui_pages.py                 # quick check (50,000 items)
    python bench/ui_pages.py --full          # 1,000,000 items
    python bench/ui_pages.py --full --url postgresql://postgres@127.0.0.1:5432/perf14
"""
from __future__ import annotations

import contextlib
import re
import sys
import time
import tracemalloc

import _common as C

TYPE_NAME = "bench_item"
CONTACT = "bench_contact"
REL = "bench_item_contact"
KPI_NAME = "bench_items_count"
LIMIT = 50
CITIES = [f"city_{i:03d}" for i in range(200)]
PASSWORD = "bench-password"

ENTITY_TYPE = {
    "name": TYPE_NAME, "title_field": "name", "indexes": ["city", "since"],
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
CONTACT_TYPE = {
    "name": CONTACT, "title_field": "name",
    "schema": {"type": "object", "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
               "required": ["name"]},
}
REL_TYPE = {"name": REL, "source": TYPE_NAME, "target": CONTACT, "cardinality": "many-to-many"}
KPI = {"name": KPI_NAME, "label": "Bench items", "unit": "count", "entity": TYPE_NAME,
       "time_field": "since", "measure": {"count": True}}


def make_item(i, rnd):
    return {"name": f"Item {i}", "email": f"item{i}@example.com", "city": rnd.choice(CITIES),
            "status": rnd.choice(("new", "open", "won", "lost")), "amount": round(rnd.uniform(0, 1e5), 2),
            "qty": rnd.randint(1, 500), "since": f"20{rnd.randint(15, 25)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
            "vip": rnd.random() < 0.1}


def make_contact(i, rnd):
    return {"name": f"Contact {i}", "phone": f"+1555{i:07d}"}


def build(url: str, items: int, contacts: int, links: int, acts: int) -> dict:
    """Fill the empty database at ``url``; returns what the requests need (hub id, token…)."""
    from xrm_core import Platform, accounts, entity_types, kpis, relationships
    platform = Platform(url)
    platform.init(admin_password=PASSWORD)
    with platform.connection() as conn:
        entity_types.add(conn, ENTITY_TYPE)
        entity_types.add(conn, CONTACT_TYPE)
        relationships.save(conn, REL_TYPE, {TYPE_NAME, CONTACT})
        kpis.add(platform, conn, KPI)
        token = accounts.create_token(conn, "admin")
    leaves = C.setup_org(platform, TYPE_NAME, regions=2, per_region=5)
    t0 = time.perf_counter()
    C.bulk_load(platform, TYPE_NAME, leaves, make_item, items)
    C.bulk_load(platform, CONTACT, leaves, make_contact, contacts, seed=11)
    from sqlalchemy import select

    from xrm_core import db
    with platform.connection() as conn:
        R = db.records
        hub = conn.execute(select(R.c.id).where(R.c.type == TYPE_NAME).order_by(R.c.id).limit(1)).scalar()
        hub_unit, hub_owner = conn.execute(select(R.c.unit_id, R.c.owner_id).where(R.c.id == hub)).first()
        cids = conn.execute(select(R.c.id).where(R.c.type == CONTACT).order_by(R.c.id).limit(links)).scalars().all()
        stamp = "2026-01-01T00:00:00.000000Z"
        conn.execute(db.relationships.insert(), [
            {"id": f"{k:016x}{'0' * 16}", "type": REL, "source_id": hub, "target_id": c, "data": None,
             "created_by": hub_owner, "created_at": stamp} for k, c in enumerate(cids)])
        conn.execute(db.activities.insert(), [
            {"record_id": hub, "record_type": TYPE_NAME, "unit_id": hub_unit, "owner_id": hub_owner,
             "kind": "note", "at": f"2025-{1 + k % 12:02d}-{1 + k % 28:02d}T10:{k % 60:02d}:00.{k:06d}Z",
             "actor": "admin", "summary": f"note {k}", "payload": None} for k in range(acts)])
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    return {"platform": platform, "token": token, "hub": hub, "load_s": time.perf_counter() - t0,
            "city": make_item(0, __import__("random").Random(1))["city"]}


def reuse_or_build(args, label, url, *sizes) -> dict:
    """:func:`build`, or with ``--dir`` the database a former run left there (its facts
    in ``label.json`` beside it)."""
    import json
    facts = args.dir / f"{label}.json" if args.dir and not args.url else None
    if facts is not None and facts.exists():
        from xrm_core import Platform
        env = json.loads(facts.read_text())
        return {**env, "platform": Platform(url), "load_s": 0.0}
    env = build(url, *sizes)
    if facts is not None:
        facts.write_text(json.dumps({k: env[k] for k in ("token", "hub", "city")}))
    return env


def clients(env: dict):
    """(UI client signed in as the admin, API headers) of an app on ``env``'s platform."""
    from xrm_core.web import create_app
    app = create_app(env["platform"], {"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    ui = app.test_client()
    page = ui.get("/login").get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    r = ui.post("/login", data={"username": "admin", "password": PASSWORD, **({"csrf_token": m.group(1)} if m else {})})
    if r.status_code != 302:
        raise SystemExit(f"login failed: {r.status_code}")
    return ui, app.test_client(), {"Authorization": f"Bearer {env['token']}"}


def requests_of(env: dict) -> dict:
    """name -> (kind, path) of the requests measured."""
    hub, city = env["hub"], env["city"]
    t = TYPE_NAME
    return {
        "UI list, first page": ("ui", f"/r/{t}"),
        "UI list, filter indexed (city)": ("ui", f"/r/{t}?ff=city&fo=eq&fv={city}"),
        "UI list, filter not indexed (status)": ("ui", f"/r/{t}?ff=status&fo=eq&fv=won"),
        "UI list, search box": ("ui", f"/r/{t}?q=Item+42"),
        # Refused past 10,000 records since ui/list_sorts.py (amount has no index): the
        # figure is the refusal's; narrowed by a filter (1 city in 200) it is answered.
        "UI list, sort by amount": ("ui", f"/r/{t}?sort=-amount"),
        "UI list, filter city + sort by amount": ("ui", f"/r/{t}?ff=city&fo=eq&fv={city}&sort=-amount"),
        "UI list, sort by indexed since": ("ui", f"/r/{t}?sort=since"),
        "UI record page (hub)": ("ui", f"/r/{t}/{hub}"),
        "UI dashboard": ("ui", "/"),
        "API list filter+sort+limit": ("api", f"/api/v1/records/{t}?filter[city]={city}&sort=-since&limit=50"),
        "API related (hub)": ("api", f"/api/v1/records/{t}/{hub}/related"),
        "API related (hub) limit=50": ("api", f"/api/v1/records/{t}/{hub}/related?limit=50"),
        "API history (hub)": ("api", f"/api/v1/records/{t}/{hub}/history"),
        "API history (hub) limit=50": ("api", f"/api/v1/records/{t}/{hub}/history?limit=50"),
        "API kpi ?by=status": ("api", f"/api/v1/kpis/{KPI_NAME}?by=status"),
        "API openapi.json": ("api", "/api/v1/openapi.json"),
    }


def statements(env, fn) -> int:
    """Statements the database ran for one call of ``fn`` (SQLite: the driver's trace)."""
    from sqlalchemy import event
    engine = env["platform"].engine
    seen = []
    if engine.dialect.name != "sqlite":
        def before(*_a):
            seen.append(1)
        event.listen(engine, "before_cursor_execute", before)
        try:
            fn()
        finally:
            event.remove(engine, "before_cursor_execute", before)
        return len(seen)
    traced = []

    @event.listens_for(engine, "engine_connect")
    def _on(conn):
        raw = conn.connection.driver_connection
        raw.set_trace_callback(lambda sql: seen.append(sql))
        traced.append(raw)
    engine.pool.dispose()  # new connections get the trace
    try:
        fn()
    finally:
        event.remove(engine, "engine_connect", _on)
        for raw in traced:
            raw.set_trace_callback(None)
    return len([s for s in seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"))])


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 50_000, 1_000_000)
    p.add_argument("--reps", type=int, default=9, help="timed runs of each request (median kept; default 9)")
    p.add_argument("--contacts", type=int, default=12_000)
    p.add_argument("--links", type=int, default=10_000)
    p.add_argument("--acts", type=int, default=10_000)
    p.add_argument("--dir", type=__import__("pathlib").Path,
                   help="SQLite only: keep the databases in DIR and reuse them on the next run")
    p.add_argument("--only", help="regular expression: measure only the requests it matches")
    args = p.parse_args()
    n = C.rows_of(args)
    C.print_machine(args.url)
    with contextlib.ExitStack() as stack:
        if args.dir and not args.url:
            # Kept between runs: loading 1M records takes minutes on a busy machine.
            args.dir.mkdir(parents=True, exist_ok=True)
            big_url, small_url = (f"sqlite:///{args.dir / f'{k}.db'}" for k in ("large", "small"))
        else:
            big_url = stack.enter_context(C.database(args, "xrm_bench_ui"))
            small_url = stack.enter_context(C.database(args, "xrm_bench_ui_small"))
        big = reuse_or_build(args, "large", big_url, n, args.contacts, args.links, args.acts)
        small = reuse_or_build(args, "small", small_url, 1_000, 100, 10, 10)
        try:
            print(f"large: {n:,} {TYPE_NAME}, {args.contacts:,} {CONTACT}, hub with {args.links:,} links and "
                  f"{args.acts:,} activities (loaded in {big['load_s']:.1f} s); small: 1,000 / 100 / 10 / 10; "
                  f"{big['platform'].engine.dialect.name}; median of {args.reps}")
            print()
            report(big, small, args)
        finally:
            big["platform"].dispose()
            small["platform"].dispose()
    return 0


def report(big, small, args) -> None:
    sides = {}
    for label, env in (("large", big), ("small", small)):
        ui, api, headers = clients(env)
        sides[label] = (env, ui, api, headers)
    reqs_big, reqs_small = requests_of(big), requests_of(small)
    rows = []
    for name, (kind, path) in reqs_big.items():
        if args.only and not re.search(args.only, name):
            continue
        fns = {}
        for label, reqs in (("large", reqs_big), ("small", reqs_small)):
            env, ui, api, headers = sides[label]
            _kind, pth = reqs[name]
            if kind == "ui":
                fns[label] = (lambda c=ui, u=pth: _ok(c.get(u), u))
            else:
                fns[label] = (lambda c=api, u=pth, h=headers: _ok(c.get(u, headers=h), u))
        size = len(fns["large"]().get_data())
        stmts = statements(big, fns["large"]), statements(small, fns["small"])
        runs = C.interleaved(fns, args.reps, warmup=1)
        lg, sm = runs["large"].median(), runs["small"].median()
        rows.append([name, C.fmt_s(lg), C.fmt_s(sm), f"{lg / sm:.1f}×", f"{stmts[0]}/{stmts[1]}", f"{size:,}"])
    C.table(rows, ["request", "large", "small", "growth", "SQL stmts L/S", "bytes (L)"])
    print()
    if not args.only or re.search(args.only, "raw"):
        raw_baselines(big, sides["large"], args)
    if not args.only or re.search(args.only, "export"):
        export_memory(sides, args)


def _ok(r, url):
    if r.status_code != 200:
        raise SystemExit(f"{url}: HTTP {r.status_code}\n{r.get_data(as_text=True)[:2000]}")
    r.get_data()
    return r


def raw_baselines(big, side, args) -> None:
    """UI list pages against the raw SQL of the same page (51 rows) on the large database."""
    from xrm_core import listing
    env, ui, _api, _h = side
    cases = {"first page": ({}, None, None), "filter city": ({"city": big["city"]}, None, None),
             "filter status (not indexed)": ({"status": "won"}, None, None),
             "search 'Item 42'": ({}, None, "Item 42"), "sort -amount": ({}, ["-amount"], None)}
    paths = {"first page": f"/r/{TYPE_NAME}", "filter city": f"/r/{TYPE_NAME}?ff=city&fo=eq&fv={big['city']}",
             "filter status (not indexed)": f"/r/{TYPE_NAME}?ff=status&fo=eq&fv=won",
             "search 'Item 42'": f"/r/{TYPE_NAME}?q=Item+42", "sort -amount": f"/r/{TYPE_NAME}?sort=-amount"}
    rows = []
    with env["platform"].session("admin", write=False) as s:
        dbapi = C.raw_cursor(s.conn)
        for name, (where, sort, search) in cases.items():
            sql, params = listing.list_query(s, TYPE_NAME, where, LIMIT + 1, sort, None, search)
            if s.dialect == "sqlite":
                def raw(sql=sql, params=params):
                    return dbapi.execute(sql, params).fetchall()
            else:
                def raw(sql=sql, params=params):
                    with dbapi.cursor() as cur:
                        cur.execute(sql, params)
                        return cur.fetchall()
            page = (lambda u=paths[name]: _ok(ui.get(u), u))
            runs = C.interleaved({"page": page, "raw": raw}, args.reps, warmup=1)
            pg, rw = runs["page"].median(), runs["raw"].median()
            plan = " | ".join(C.explain(s.conn, sql, params))[:110]
            rows.append([name, C.fmt_s(pg), C.fmt_s(rw), f"{pg / rw:.1f}×", plan])
    C.table(rows, ["UI list page vs its raw SQL (large)", "page", "raw SQL", "ratio", "plan"])
    print()


def export_memory(sides, args) -> None:
    """CSV export of the whole list: time, peak Python memory while streaming, large vs small."""
    rows = []
    for label in ("large", "small"):
        env, ui, _api, _h = sides[label]
        tracemalloc.start()
        t = time.perf_counter()
        r = ui.get(f"/r/{TYPE_NAME}/export.csv", buffered=False)
        first = None
        total = 0
        for chunk in r.response:
            if first is None:
                first = time.perf_counter() - t
            total += len(chunk)
        dt = time.perf_counter() - t
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        r.close()
        rows.append([label, C.fmt_s(first or dt), C.fmt_s(dt), f"{total:,}", f"{peak / 2**20:.1f} MiB"])
    C.table(rows, ["CSV export", "first byte", "total", "bytes", "peak Python memory"])
    print()


if __name__ == "__main__":
    sys.exit(main())
