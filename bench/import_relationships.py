"""Benchmark: `xrm import-relationships` of N and 4N links by key fields — does it scale linearly?

Not a ratio against a target: the question is whether a 4× larger file takes 4× the time. A
bulk path that reads the table it is writing (each batch checks its pairs against the links
stored before it) turned quadratic on PostgreSQL when the planner had no statistics for the
rows the import itself wrote (100k links: 153 s; d20629c). This script imports N and 4N
links into fresh databases, for a one-to-many and a many-to-many relationship type whose
ends are named by a key field (`--source-key code --target-key code`), and prints

- the wall-clock and CPU time of each whole `xrm import-relationships` process (best of
  --reps), and the time net of start-up (the same command on a file with only its header);
- the scaling ratio time(4N) / (4 × time(N)) of the net times: ~1.0 is linear, 2 would mean
  the 4× larger file took 8× the time;
- the same for the baseline, measured in the same run: plain sqlite3 `executemany` of the
  same pairs into a 3-column table `(type, source, target)` with its primary key.

The records the links name (N/10 sources and N targets for one-to-many, N/10 of each for
many-to-many: 10 links per source) are imported first with `xrm import`, untimed.

    python bench/import_relationships.py                # N = 10,000 (and 40,000)
    python bench/import_relationships.py --rows 25000   # N = 25,000 (and 100,000)
    python bench/import_relationships.py --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import _common as C

NODE = "bench_node"
NODE_TYPE = {
    "name": NODE, "label": "Bench node", "title_field": "code", "unique": ["code"],
    "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
               "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
               "required": ["code"], "additionalProperties": False},
}
REL_TYPES = {
    "one-to-many": {"name": "bench_owns", "source": NODE, "target": NODE, "cardinality": "one-to-many",
                    "on_delete": "unlink"},
    "many-to-many": {"name": "bench_knows", "source": NODE, "target": NODE, "cardinality": "many-to-many",
                     "on_delete": "unlink"},
}
PER_SOURCE = 10


def pairs(card: str, n: int) -> list[tuple[str, str]]:
    """``n`` (source code, target code) pairs: 10 per source, each target once (one-to-many)
    or 10 targets among as many records as sources (many-to-many)."""
    sources = max(1, n // PER_SOURCE)
    if card == "one-to-many":
        return [(f"S{j % sources:07d}", f"T{j:07d}") for j in range(n)]
    # source i with targets i+1, i+8, i+15, … (mod the number of records): distinct pairs, none
    # a record with itself (N of 1,000 or more)
    return [(f"S{i:07d}", f"S{(i + 1 + 7 * k) % sources:07d}") for i in range(sources) for k in range(PER_SOURCE)][:n]


def codes(card: str, n: int) -> list[str]:
    sources = max(1, n // PER_SOURCE)
    out = [f"S{i:07d}" for i in range(sources)]
    if card == "one-to-many":
        out += [f"T{j:07d}" for j in range(n)]
    return out


def envs() -> dict:
    # As a user's process: with the installed plugins and Python's bytecode cache.
    drop = ("XRM_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def xrm(url: str, *args: str) -> tuple[float, float]:
    return C.run_process([C.xrm_executable(), "--db", url, *args], envs())


def prepare(url: str, work: Path, card: str, n: int) -> None:
    """Untimed: `xrm init`, the node type and relationship type, the records the links name."""
    xrm(url, "init")
    (work / "node.json").write_text(json.dumps(NODE_TYPE))
    (work / "rel.json").write_text(json.dumps(REL_TYPES[card]))
    xrm(url, "types", "add", str(work / "node.json"))
    xrm(url, "reltypes", "add", str(work / "rel.json"))
    nodes = work / "nodes.jsonl"
    nodes.write_text("".join(json.dumps({"code": c, "name": c.lower()}) + "\n" for c in codes(card, n)))
    xrm(url, "import", NODE, str(nodes))


def write_links(path: Path, links: list[tuple[str, str]]) -> None:
    path.write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in links))


def stored(url: str, rel: str) -> int:
    from sqlalchemy import text

    from xrm_core import db
    eng = db.make_engine(url)
    try:
        with eng.connect() as c:
            return c.execute(text("SELECT count(*) FROM xrm_relationships WHERE type = :t"), {"t": rel}).scalar()
    finally:
        eng.dispose()


def platform_once(args, work: Path, card: str, n: int) -> tuple[float, float, float]:
    """(wall, CPU, start-up wall) of importing ``n`` links into a fresh database."""
    rel = REL_TYPES[card]["name"]
    with C.database(args, "xrm_bench_rel") as url:
        prepare(url, work, card, n)
        empty, links = work / "empty.csv", work / "links.csv"
        write_links(empty, [])
        write_links(links, pairs(card, n))
        opts = ["--source-key", "code", "--target-key", "code"]
        start, _ = xrm(url, "import-relationships", rel, str(empty), *opts)
        wall, cpu = xrm(url, "import-relationships", rel, str(links), *opts)
        if stored(url, rel) != n:
            raise SystemExit(f"expected {n} {rel} relationships, found {stored(url, rel)}")
    return wall, cpu, start


def baseline_once(work: Path, card: str, n: int) -> tuple[float, float]:
    """(wall, CPU) of plain sqlite3 executemany of the same pairs (3 columns) and a commit."""
    path = work / "baseline.db"
    path.unlink(missing_ok=True)
    links = [(REL_TYPES[card]["name"], a, b) for a, b in pairs(card, n)]
    c, t = time.process_time(), time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE links (type TEXT, source TEXT, target TEXT, PRIMARY KEY (type, source, target))")
    con.executemany("INSERT INTO links VALUES (?, ?, ?)", links)
    con.commit()
    con.close()
    out = time.perf_counter() - t, time.process_time() - c
    path.unlink()
    return out


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--reps", type=int, default=1, help="runs of each import (best is kept; default 1)")
    args = p.parse_args()
    n = C.rows_of(args)
    sizes = (n, 4 * n)
    C.print_machine(args.url)
    print(f"links by key fields (--source-key code --target-key code), {PER_SOURCE} per source, N = {n:,} and "
          f"{4 * n:,}; database: {'PostgreSQL ' + args.url if args.url else 'SQLite file'}; fresh database "
          f"per import, best of {args.reps}")
    print()
    rows, scaling = [], []
    with C.workdir("xrm_bench_rel_") as work:
        for card in REL_TYPES:
            plat: dict[int, tuple] = {}
            base: dict[int, tuple] = {}
            for size in sizes:
                best = None
                for _ in range(args.reps):
                    b = baseline_once(work, card, size)
                    run = platform_once(args, work, card, size)
                    best = run if best is None or run[0] < best[0] else best
                    base[size] = b if size not in base or b[0] < base[size][0] else base[size]
                plat[size] = best
            for size in sizes:
                wall, cpu, start = plat[size]
                rows.append([card, f"{size:,}", C.fmt_s(wall), C.fmt_s(cpu), C.fmt_s(start), C.fmt_s(wall - start),
                             f"{size / max(wall - start, 1e-9):,.0f}", C.fmt_s(base[size][0]),
                             f"{(wall - start) / base[size][0]:.0f}×"])
            net = [plat[s][0] - plat[s][2] for s in sizes]
            scaling.append([card, f"{net[1] / (4 * net[0]):.2f}", f"{plat[sizes[1]][1] / (4 * plat[sizes[0]][1]):.2f}",
                            f"{base[sizes[1]][0] / (4 * base[sizes[0]][0]):.2f}"])
    C.table(rows, ["relationship", "links", "wall", "CPU (client)", "start-up", "net of start-up", "links/s",
                   "baseline", "net vs baseline"])
    print()
    print("Scaling ratio time(4N) / (4 × time(N)): ~1.0 is linear, 2.0 means 4× the links took 8× the time")
    C.table(scaling, ["relationship", "platform (net wall)", "platform (CPU, whole process)", "baseline (wall)"])
    print()
    if args.url:
        print("CPU is the client's only (PostgreSQL's own work is not in it): judge by the wall clock there.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
