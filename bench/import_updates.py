"""Benchmark: `xrm import TYPE FILE --update-by FIELD` of N and 4N changed rows, against the create import.

Each size gets a fresh database, prepared untimed by `xrm init`, `xrm types add` and the
import of N records. Then, timed (whole processes, wall clock and CPU, best of --reps):

- **update**: `xrm import TYPE changes.jsonl --update-by member_no`, where every row of
  `changes.jsonl` names a stored record by its unique key and changes one to three of its
  fields (all fields are given, as an export edited in a spreadsheet gives them back);
- **create** (the baseline, same run): `xrm import TYPE changes.jsonl` of the same file
  into an empty database of its own, every row a new record;
- **start-up**: the update command on a file with no rows, subtracted from both to give
  µs per row.

Printed: seconds, µs per row (net of start-up), the ratio update / create of the same file,
and the scaling ratio time(4N) / (4 × time(N)) of the net update times (~1.0 is linear).
Each import's report is checked (every row updated, or created), so the timing is honest.

    python bench/import_updates.py                  # N = 10,000 and 40,000
    python bench/import_updates.py --full           # N = 100,000 (and 400,000)
    python bench/import_updates.py --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import _common as C
from import_jsonl import CITIES, ENTITY_TYPE, TYPE_NAME, generate

KEY = "member_no"


def changed(path: Path, out: Path, seed: int = 7) -> None:
    """``out``: every record of ``path`` with one to three of its fields changed (never the key)."""
    rnd = random.Random(seed)
    edits = {
        "city": lambda r: rnd.choice([c for c in CITIES if c != r.get("city")]),
        "age": lambda r: (r["age"] + 1) % 131,
        "balance": lambda r: round(r["balance"] + 1.5, 2),
        "segment": lambda r: {"bronze": "silver", "silver": "gold", "gold": "platinum"}.get(r["segment"], "bronze"),
        "active": lambda r: not r["active"],
        "name": lambda r: r["name"] + " Jr",
    }
    with open(path, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for line in f:
            rec = json.loads(line)
            for field in rnd.sample(sorted(edits), rnd.randint(1, 3)):
                rec[field] = edits[field](rec)
            w.write(json.dumps(rec, ensure_ascii=False) + "\n")


def envs() -> dict:
    # As a user's process: with the installed plugins and Python's bytecode cache.
    drop = ("XRM_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def xrm(url: str, *args: str) -> tuple[float, float, dict]:
    wall, cpu = C.run_process([C.xrm_executable(), "--db", url, *args], envs())
    out = C.run_process.last_stdout
    return wall, cpu, json.loads(out) if out.strip().startswith(b"{") else {}


def prepare(url: str, work: Path, records: Path | None) -> None:
    """Untimed: `xrm init`, the type, and (for the update run) the records to update."""
    xrm(url, "init")
    xrm(url, "types", "add", str(work / "type.json"))
    if records is not None:
        xrm(url, "import", TYPE_NAME, str(records))


def check(report: dict, n: int, updated: bool) -> None:
    want = {"imported": n, "invalid": []}
    if updated:
        want.update(updated=n, unchanged=0)
    if any(report.get(k) != v for k, v in want.items()):
        raise SystemExit(f"expected {want}, the import reported {report}")


def once(args, work: Path, n: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) of the update import, the create import and the start-up, for ``n`` rows."""
    original, changes, empty = work / f"records_{n}.jsonl", work / f"changes_{n}.jsonl", work / "empty.jsonl"
    if not changes.exists():
        generate(original, n)
        changed(original, changes)
    empty.write_text("")
    out = {}
    with C.database(args, "xrm_bench_upd") as url:
        prepare(url, work, original)
        # the start-up, best of 3: the smallest run's net time is not much larger than it
        start = min((xrm(url, "import", TYPE_NAME, str(empty), "--update-by", KEY, "--json") for _ in range(3)),
                    key=lambda r: r[0])
        update = xrm(url, "import", TYPE_NAME, str(changes), "--update-by", KEY, "--json")
        check(update[2], n, True)
        out["start-up"], out["update"] = start[:2], update[:2]
    with C.database(args, "xrm_bench_upd") as url:
        prepare(url, work, None)
        create = xrm(url, "import", TYPE_NAME, str(changes), "--json")
        check(create[2], n, False)
        out["create"] = create[:2]
    return out


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--reps", type=int, default=1, help="runs of each size (best is kept; default 1)")
    args = p.parse_args()
    n = C.rows_of(args)
    sizes = (n, 4 * n)
    C.print_machine(args.url)
    print(f"{TYPE_NAME} rows changing 1–3 fields each, --update-by {KEY} (unique); N = {n:,} and {4 * n:,}; "
          f"database: {'PostgreSQL ' + args.url if args.url else 'SQLite file'}; fresh database per import, "
          f"best of {args.reps}")
    print()
    best: dict[int, dict[str, tuple[float, float]]] = {}
    with C.workdir("xrm_bench_upd_") as work:
        (work / "type.json").write_text(json.dumps(ENTITY_TYPE))
        for size in sizes:
            for _ in range(args.reps):
                run = once(args, work, size)
                kept = best.setdefault(size, run)
                for k, v in run.items():
                    if v[0] < kept[k][0]:
                        kept[k] = v
    rows, net = [], {}
    for size in sizes:
        b = best[size]
        start = b["start-up"][0]
        net[size] = {k: max(b[k][0] - start, 1e-9) for k in ("update", "create")}
        for k in ("update", "create"):
            rows.append([k, f"{size:,}", C.fmt_s(b[k][0]), C.fmt_s(b[k][1]), C.fmt_s(start), C.fmt_s(net[size][k]),
                         f"{net[size][k] * 1e6 / size:.0f}",
                         f"{net[size]['update'] / net[size]['create']:.2f}×" if k == "update" else ""])
    C.table(rows, ["import", "rows", "wall", "CPU (client)", "start-up", "net of start-up", "µs/row",
                   "update / create"])
    print()
    print("Scaling ratio time(4N) / (4 × time(N)) of the net wall times: ~1.0 is linear")
    C.table([[k, f"{net[sizes[1]][k] / (4 * net[sizes[0]][k]):.2f}"] for k in ("update", "create")],
            ["import", "scaling"])
    if args.url:
        print()
        print("CPU is the client's only (PostgreSQL's own work is not in it): judge by the wall clock there.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
