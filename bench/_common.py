"""Shared helpers of the benchmarks: options, machine facts, timing, tables, temp databases.

Every benchmark compares the platform with a baseline measured in the same run, on the same
machine, interleaved where it can be, and prints the ratio: absolute times on a shared,
noisy machine mean little, ratios measured side by side mean more.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform as _platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def parser(description: str, default_rows: int, full_rows: int) -> argparse.ArgumentParser:
    """Options every benchmark takes: ``--rows N`` / ``--full``, ``--url`` and ``--keep``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rows", type=int, default=default_rows,
                   help=f"number of rows (default {default_rows:,}: a quick check; the issue's size is {full_rows:,})")
    p.add_argument("--full", action="store_const", const=full_rows, dest="full",
                   help=f"use the issue's size ({full_rows:,} rows)")
    p.add_argument("--url", metavar="URL",
                   help="PostgreSQL URL (e.g. %s) to run on instead of SQLite; the benchmark works in a "
                        "schema of its own and drops it at the end" % PG_DEFAULT)
    return p


def rows_of(args) -> int:
    return args.full or args.rows


# -- machine ------------------------------------------------------------------------------
def machine() -> dict:
    """The facts a figure needs next to it (CPU, cores, RAM, versions, date)."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import sqlalchemy
    return {"date": date.today().isoformat(), "cpu": cpu, "nproc": os.cpu_count(), "ram": ram,
            "python": _platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__}


def pg_version(url: str) -> str:
    from sqlalchemy import text

    from xrm_core import db
    eng = db.make_engine(url)
    try:
        with eng.connect() as c:
            return c.execute(text("SHOW server_version")).scalar()
    finally:
        eng.dispose()


def print_machine(url: str | None = None) -> None:
    m = machine()
    if url:
        m["postgresql"] = pg_version(url)
    print("machine: " + ", ".join(f"{k}={v}" for k, v in m.items()))
    print()


# -- timing -------------------------------------------------------------------------------
def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def median(xs) -> float:
    return statistics.median(xs)


class Runs:
    """Wall-clock and CPU seconds of repeated runs of one thing.

    CPU time (of this process, or of the child processes) is the steadier figure on a
    shared machine: other jobs stretch the wall clock, much less the CPU a run needs. It
    misses the work of a database server process, so PostgreSQL figures use wall time.
    """

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    def median(self, cpu: bool = False) -> float:
        return statistics.median(self.cpu if cpu else self.wall)

    def best(self, cpu: bool = False) -> float:
        return min(self.cpu if cpu else self.wall)


def interleaved(fns: dict, reps: int, warmup: int = 3) -> dict[str, Runs]:
    """Run each function ``reps`` times, round-robin (so drift on a shared machine hits all
    alike), after ``warmup`` untimed rounds; returns the runs per name.

    Each round starts one function further along: a query that runs right after another
    one reading the same pages finds them cached, so a fixed order would favour whichever
    comes second."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out = {name: Runs() for name in fns}
    items = list(fns.items())
    for rep in range(reps):
        k = rep % len(items)
        for name, fn in items[k:] + items[:k]:
            c, t = time.process_time(), time.perf_counter()
            fn()
            out[name].add(time.perf_counter() - t, time.process_time() - c)
    return out


def run_process(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds) of one whole process; fails loudly if it fails."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}\n"
                         f"{res.stdout.decode(errors='replace')[-2000:]}{res.stderr.decode(errors='replace')[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run_process.last_stdout = res.stdout
    return dt, cpu


def xrm_executable() -> str:
    """The ``xrm`` console script of this interpreter's environment (what a user runs)."""
    here = Path(sys.executable).parent / "xrm"
    return str(here) if here.exists() else (shutil.which("xrm") or "xrm")


# -- output -------------------------------------------------------------------------------
def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def table(rows: list[list], headers: list[str]) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:.2f}× (target ≤ {target:g}×: {'met' if ratio <= target else 'MISSED'})"


# -- databases ----------------------------------------------------------------------------
@contextlib.contextmanager
def workdir(prefix: str):
    """A temporary directory, removed afterwards."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def pg_schema(base: str, prefix: str = "xrm_bench"):
    """A fresh PostgreSQL schema (dropped afterwards); yields the URL that works inside it."""
    from xrm_core import db
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(base)
    with admin.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_schema_url(base, schema), schema
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextlib.contextmanager
def database(args, prefix: str):
    """URL of an empty database: a SQLite file in a temp dir, or a PostgreSQL schema."""
    if args.url:
        with pg_schema(args.url, prefix) as (url, _schema):
            yield url
    else:
        with workdir(prefix + "_") as d:
            yield f"sqlite:///{d / 'xrm.db'}"


def entry_point_plugins() -> list[str]:
    """Names of the installed ``xrm.plugins`` entry points (what XRM_DISABLE_PLUGINS takes)."""
    from importlib.metadata import entry_points
    return sorted({ep.name for ep in entry_points(group="xrm.plugins")})


# -- setup of the 1M-record benchmarks ------------------------------------------------------
def open_platform(url: str):
    """An initialised Platform on ``url`` with the installed plugins, as a user has it."""
    from xrm_core import Platform
    p = Platform(url)
    p.init()
    return p


def add_type(platform, definition: dict):
    """Add an entity type through the platform (so its expression indexes exist)."""
    from xrm_core import entity_types
    with platform.connection() as conn:
        entity_types.add(conn, definition)


def setup_org(platform, type_name: str, regions: int = 5, per_region: int = 10) -> list[dict]:
    """Units hq > region × ``regions`` > leaf × ``per_region``, one user per leaf unit whose
    role reads ``type_name`` at depth ``unit``. Returns the leaves ``{unit_id, user_id, user}``."""
    from sqlalchemy import select

    from xrm_core import accounts, db
    role = f"{type_name}_unit_reader"
    leaves = []
    with platform.connection() as conn:
        accounts.save_role(conn, {"name": role, "grants": [
            {"type": type_name, "actions": ["read"], "depth": "unit"}]})
        accounts.create_unit(conn, "bench_hq")
        for r in range(regions):
            accounts.create_unit(conn, f"bench_region_{r}", "bench_hq")
            for j in range(per_region):
                unit = f"bench_unit_{r}_{j}"
                accounts.create_unit(conn, unit, f"bench_region_{r}")
                u = accounts.create_user(conn, f"bench_user_{r}_{j}", unit, [role])
                uid = conn.execute(select(db.units.c.id).where(db.units.c.name == unit)).scalar()
                leaves.append({"unit_id": uid, "user_id": u["id"], "user": u["name"]})
    return leaves


RECORD_COLUMNS = ("id", "type", "data", "version", "owner_id", "unit_id", "created_by", "updated_by",
                  "created_at", "updated_at")


def bulk_load(platform, type_name: str, leaves: list[dict], make_data, n: int, seed: int = 7,
              chunk: int = 50_000) -> float:
    """Write ``n`` records straight into ``xrm_records`` (setup only, not the platform's
    write path): the same columns and formats the platform writes. ``make_data(i, rnd)``
    returns one record's data. Returns the seconds it took."""
    import random

    import orjson
    rnd = random.Random(seed)
    t0 = time.perf_counter()
    ms0 = int(time.time() * 1000) - n  # ids like records.new_id(): ms (hex) + 8 random hex digits

    def rows(lo, hi):
        for i in range(lo, hi):
            leaf = leaves[rnd.randrange(len(leaves))]
            stamp = "2026-01-01T00:00:00.000000Z"
            yield (f"{ms0 + i:012x}{rnd.getrandbits(32):08x}", type_name,
                   orjson.dumps(make_data(i, rnd)).decode(), 1, leaf["user_id"], leaf["unit_id"],
                   leaf["user_id"], leaf["user_id"], stamp, stamp)

    raw = platform.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        if platform.engine.dialect.name == "sqlite":
            dbapi.execute("BEGIN")
            sql = f"INSERT INTO xrm_records ({', '.join(RECORD_COLUMNS)}) VALUES ({', '.join('?' * len(RECORD_COLUMNS))})"
            for lo in range(0, n, chunk):
                dbapi.executemany(sql, rows(lo, min(n, lo + chunk)))
            dbapi.execute("COMMIT")
        else:
            with dbapi.cursor() as cur:
                with cur.copy(f"COPY xrm_records ({', '.join(RECORD_COLUMNS)}) FROM STDIN") as cp:
                    for row in rows(0, n):
                        cp.write_row(row)
            dbapi.commit()
            with dbapi.cursor() as cur:
                cur.execute("ANALYZE xrm_records")  # what autovacuum would soon do
            dbapi.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


def record_index_count(url: str) -> int:
    """Indexes on xrm_records, read from the catalog (SQLAlchemy's reflection skips
    expression indexes on SQLite)."""
    from sqlalchemy import text

    from xrm_core import db
    eng = db.make_engine(url)
    try:
        with eng.connect() as c:
            if eng.dialect.name == "sqlite":
                q = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'xrm_records'"
            else:
                q = "SELECT count(*) FROM pg_indexes WHERE tablename = 'xrm_records' AND schemaname = current_schema()"
            return c.execute(text(q)).scalar()
    finally:
        eng.dispose()


def raw_cursor(conn):
    """The DBAPI connection under a SQLAlchemy Connection (raw SQL on the same connection)."""
    return conn.connection.driver_connection


def capture_sql(conn):
    """Context manager collecting (statement, parameters) of everything run on ``conn``."""
    from sqlalchemy import event
    seen = []

    def before(_conn, _cursor, statement, parameters, _context, _executemany):
        seen.append((statement, parameters))

    @contextlib.contextmanager
    def cm():
        event.listen(conn, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(conn, "before_cursor_execute", before)
    return cm()


def explain(conn, sql: str, params) -> list[str]:
    """The query plan of ``sql`` on ``conn`` (SQLite EXPLAIN QUERY PLAN / PostgreSQL EXPLAIN)."""
    dbapi = raw_cursor(conn)
    if conn.dialect.name == "sqlite":
        cur = dbapi.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [r[-1] for r in cur.fetchall()]
    with dbapi.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        return [r[0] for r in cur.fetchall()]


def profile_calls(fn, reps: int, top: int = 12) -> None:
    """cProfile ``reps`` calls of ``fn``; print the top functions by own time."""
    import cProfile
    import io
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(reps):
        fn()
    prof.disable()
    st = pstats.Stats(prof, stream=io.StringIO())
    st.sort_stats("tottime")
    rows = []
    for func in st.fcn_list[:top]:
        _cc, nc, tt, ct, _ = st.stats[func]
        file, line, name = func
        where = name if file == "~" else f"{short_path(file)}:{line}({name})"
        rows.append([where, nc, f"{tt * 1e6 / reps:.0f}", f"{ct * 1e6 / reps:.0f}"])
    table(rows, ["function", "calls", "own µs/call", "cum µs/call"])


def short_path(path: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
