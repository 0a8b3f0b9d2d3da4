"""Benchmark: `xrm import customer FILE --update-by national_id` — a type with record hooks — before and after.

A type that some plugin's ``xrm_record_event`` is called for (the crm plugin's customer: its
hook normalises digits on create and is called for every update event) cannot take the
batched update path of a type without hooks: each row goes through ``records.update``
(read and lock, savepoint, ``before_update`` hooks, validation, UPDATE, ``updated``
activity, ``after_update`` hooks). That cost 1–5 ms a row, mostly in building SQLAlchemy
statements per row for the UPDATE and the activity.

In one process, on one database per size (a SQLite file, or a PostgreSQL schema dropped
afterwards) with the installed plugins, for N and 4N rows (default 5,000 and 20,000), each
variant on N customers of its own, loaded untimed, variants interleaved, best of --reps:

- **update**: ``importer.import_file(s, "customer", changes, update_by="national_id")``,
  every row naming a stored customer and changing one to three fields, committed;
- **update (before)**: the same with ``records.update`` as it was before this change (it
  built ``update().values(…)`` and ``insert().values(…)`` per row; reproduced below and
  patched in for that variant only);
- **create** (the baseline): ``import_file`` of the same number of new customers, committed
  — the batched create path, hooks included.

Printed: seconds, µs per row, update / create and before / after ratios, and the scaling
ratio time(4N) / (4 × time(N)) (~1.0 is linear). Each report is checked (every row updated,
or created), so the timing is honest.

    python bench/import_updates_hooked.py                 # N = 5,000 and 20,000
    python bench/import_updates_hooked.py --rows 1000     # quick
    python bench/import_updates_hooked.py --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import contextlib
import copy
import json
import random
import sys
import time
from pathlib import Path

import _common as C

TYPE, KEY = "customer", "national_id"
REGIONS = ("north", "south", "east", "west", "center")
SEGMENTS = ("retail", "fleet", "corporate", "government", "taxi")
VARIANTS = ("update", "update (before)", "create")


def customers(tag: str, n: int) -> list[dict]:
    rnd = random.Random(n)
    return [{"name": f"Customer {i}", KEY: f"{tag}{i:08d}", "kind": "person", "region": rnd.choice(REGIONS),
             "segment": rnd.choice(SEGMENTS), "status": "active", "email": f"c{i}@example.com"}
            for i in range(n)]


def changed(rows: list[dict], seed: int = 7) -> list[dict]:
    """Every row with one to three of its fields changed (never the key), all fields given."""
    rnd = random.Random(seed)
    edits = {
        "name": lambda r: r["name"] + " Jr",
        "region": lambda r: rnd.choice([x for x in REGIONS if x != r["region"]]),
        "segment": lambda r: rnd.choice([x for x in SEGMENTS if x != r["segment"]]),
        "status": lambda r: "inactive" if r["status"] == "active" else "active",
        "email": lambda r: "new." + r["email"],
    }
    out = []
    for r in rows:
        r = dict(r)
        for field in rnd.sample(sorted(edits), rnd.randint(1, 3)):
            r[field] = edits[field](r)
        out.append(r)
    return out


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


# -- records.update as it was before (for the "update (before)" variant) ---------------------
def former_update(s, record_id, patch, if_version=None, summary=None, replace_members=False):
    """``records.update`` before this change: ``update().values(…)`` and
    ``Session.log_activity`` (an ``insert().values(…)``) built per call."""
    from xrm_core import db, records
    from xrm_core.errors import PreconditionFailed
    from xrm_core.history import changes_payload, diff, merge_patch, same_json
    from sqlalchemy.exc import IntegrityError
    R = db.records
    records._check_data(patch, "a merge patch")
    row = records._load(s, record_id, "update", lock=True)
    et = s.entity_type_for_write(row.type)
    new_data = merge_patch(row.data, copy.deepcopy(patch))
    rec = records.from_row(s, row)
    changes = diff(row.data, new_data)
    if not changes:
        return rec
    rec.data, rec.version = copy.deepcopy(new_data), row.version + 1
    now = db.utcnow()
    try:
        with s.conn.begin_nested() as savepoint:
            records._before_hooks(s, et, "before_update", rec, changes)
            if not same_json(rec.data, new_data):
                changes = diff(row.data, rec.data)
                if not changes:
                    savepoint.rollback()
                    return records.from_row(s, row)
            res = s.conn.execute(R.update().where(R.c.id == row.id, R.c.version == row.version)
                                 .values(data=rec.data, version=rec.version, updated_at=now, updated_by=s.actor.id))
            if res.rowcount != 1:
                raise PreconditionFailed(f"record {row.id} was changed concurrently; read it again and retry")
            rec.updated_at, rec.updated_by = now, s.actor.name
            s.log_activity(rec, "updated", summary or records._summarise(changes),
                           {"version": rec.version, "changes": changes_payload(changes, row.data, rec.data)}, at=now)
            s.fire("after_update", rec, changes)
    except IntegrityError as e:
        raise s.unique_conflict(et, rec.data, e, exclude=record_id) from None
    return rec


@contextlib.contextmanager
def before():
    from xrm_core import import_update_by
    saved = import_update_by.update_record
    import_update_by.update_record = former_update
    try:
        yield
    finally:
        import_update_by.update_record = saved


def timed_import(platform, path: str, update: bool, n: int) -> tuple[float, float]:
    from xrm_core.importer import import_file
    c, t = time.process_time(), time.perf_counter()
    with platform.session() as s:
        report = import_file(s, TYPE, path, update_by=KEY if update else None)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    want = {"imported": n, "invalid": [], **({"updated": n, "unchanged": 0} if update else {})}
    if any(report.get(k) != v for k, v in want.items()):
        raise SystemExit(f"expected {want}, the import reported {report}")
    return wall, cpu


def measure(args, work: Path, n: int) -> dict[str, tuple[float, float]]:
    from xrm_core.importer import import_file
    best: dict[str, tuple[float, float]] = {}
    with C.database(args, "xrm_bench_updh") as url:
        platform = C.open_platform(url)
        try:
            if not platform.record_event_impls(TYPE):
                raise SystemExit(f"no record hook is called for {TYPE!r}: is the crm plugin installed?")
            for rep in range(args.reps):
                k = rep % len(VARIANTS)
                for who in VARIANTS[k:] + VARIANTS[:k]:
                    tag = f"{VARIANTS.index(who)}r{rep}n"
                    rows = customers(tag, n)
                    if who == "create":
                        got = timed_import(platform, write(work / "new.jsonl", rows), False, n)
                    else:
                        with platform.session() as s:  # untimed: the records to update
                            import_file(s, TYPE, write(work / "old.jsonl", rows))
                        path = write(work / "changes.jsonl", changed(rows))
                        with before() if who == "update (before)" else contextlib.nullcontext():
                            got = timed_import(platform, path, True, n)
                    if who not in best or got[0] < best[who][0]:
                        best[who] = got
        finally:
            platform.dispose()
    return best


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 5_000, 25_000)
    p.add_argument("--reps", type=int, default=1, help="runs of each variant (best is kept; default 1)")
    args = p.parse_args()
    n = C.rows_of(args)
    sizes = (n, 4 * n)
    C.print_machine(args.url)
    print(f"{TYPE} rows changing 1–3 fields each, --update-by {KEY}; N = {n:,} and {4 * n:,}; database: "
          f"{'PostgreSQL ' + args.url if args.url else 'SQLite file'}; in process, variants interleaved, "
          f"best of {args.reps}")
    print()
    got = {}
    with C.workdir("xrm_bench_updh_") as work:
        for size in sizes:
            got[size] = measure(args, work, size)
            print(f"  N={size:,}: " + ", ".join(f"{w} {C.fmt_s(got[size][w][0])}" for w in VARIANTS), flush=True)
    rows = []
    for size in sizes:
        b = got[size]
        create = b["create"][0]
        for who in VARIANTS:
            wall, cpu = b[who]
            rows.append([who, f"{size:,}", C.fmt_s(wall), C.fmt_s(cpu), f"{wall * 1e6 / size:.0f}",
                         f"{wall / create:.2f}×", f"{b['update (before)'][0] / wall:.2f}×" if who == "update" else ""])
    print()
    C.table(rows, ["import", "rows", "wall", "CPU (client)", "µs/row", "/ create", "before / after"])
    print()
    print("Scaling ratio time(4N) / (4 × time(N)), wall clock: ~1.0 is linear")
    C.table([[w, f"{got[sizes[1]][w][0] / (4 * got[sizes[0]][w][0]):.2f}"] for w in VARIANTS], ["import", "scaling"])
    if args.url:
        print()
        print("CPU is the client's only (PostgreSQL's own work is not in it): judge by the wall clock there.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
