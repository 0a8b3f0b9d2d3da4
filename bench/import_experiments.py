"""Experiments for the import hot path: what each candidate change would save, measured.

Not a pass/fail benchmark: it runs the JSONL import of ``import_jsonl.py`` *in process*
(``importer.import_file`` in one session, commit included; process start-up excluded) on a
fresh SQLite database per run, with candidate changes applied by monkeypatching this
process only — xrm_core itself is not modified. Next to them, measured in the same run: the
plain sqlite3 baseline of ``import_jsonl.py`` (also with the platform's journal settings,
WAL + synchronous=NORMAL, which write every page twice) and the floors below — exactly the
rows the platform stores, written into its own schema with its indexes: the best any Python
code on this layout can do.

Variants:
  as is                    the importer unchanged
  plugins off              the database prepared and imported with every plugin blocked
  other types' partial indexes dropped
                           the installed plugins' types stay, but the partial expression
                           indexes of every other type are dropped before the import
  no record hooks          as is, but no ``xrm_record_event`` implementation is called (the
                           upper bound of what a cheaper hook dispatch could save)
  cache 64 MiB             PRAGMA cache_size=-65536 for the import's connection
  cheap ids                ids from one random prefix + counter instead of os.urandom per row
  no database writes       the importer's INSERTs skipped: the per-row Python on its own

Floors, straight through sqlite3 with no parsing, validation or Python per row beyond
building tuples: the rows the platform stores (records + ``created`` history) into its schema
with all its indexes and with this type's only, each by ``executemany`` and by the multi-row
``VALUES`` statements the importer uses (``import_writer._insert_values``).

    python bench/import_experiments.py              # 10,000 rows
    python bench/import_experiments.py --full       # 100,000 rows
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import sqlite3
import sys
import time


import _common as C
import import_jsonl as IJ

STORAGE_FLOOR = """
INSERT INTO xrm_records (id, type, data, version, owner_id, unit_id, created_by, updated_by, created_at, updated_at)
VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
"""
ACTIVITY_FLOOR = """
INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, summary, payload)
VALUES (?, ?, ?, ?, 'created', ?, 'admin', ?, ?)
"""


# -- the candidate changes, as patches of this process ------------------------------------
@contextlib.contextmanager
def cheap_ids():
    """ids: 12 hex digits of ms at start + 8 hex digits of a counter from a random start."""
    from xrm_core import import_writer
    orig = import_writer.new_id
    counter = itertools.count(random.SystemRandom().getrandbits(31))

    def new_id():
        return f"{int(time.time() * 1000):012x}{next(counter) & 0xFFFFFFFF:08x}"

    import_writer.new_id = new_id
    try:
        yield
    finally:
        import_writer.new_id = orig


@contextlib.contextmanager
def pattern_digit_search():
    """``stored_json.has_long_digits`` as it was: ``re.search(rb"[0-9]{19}")``, twice a row."""
    import re

    from xrm_core import stored_json
    orig, pattern = stored_json.has_long_digits, re.compile(rb"[0-9]{19}")
    stored_json.has_long_digits = lambda text: (pattern.search(text) if isinstance(text, bytes)
                                                else stored_json._LONG_DIGITS.search(text)) is not None
    try:
        yield
    finally:
        stored_json.has_long_digits = orig


@contextlib.contextmanager
def no_writes():
    """The importer's INSERTs skipped (``import_writer._insert_values`` does nothing): what the
    per-row Python costs on its own — parsing, validation, hooks, ids, building the rows."""
    from xrm_core import import_writer
    orig = import_writer._insert_values
    import_writer._insert_values = lambda conn, sql, rows: None
    try:
        yield
    finally:
        import_writer._insert_values = orig


@contextlib.contextmanager
def no_record_hooks():
    """Skip every ``xrm_record_event`` implementation (the upper bound of what cheaper hook
    dispatch could save; the built-in plugins' hooks return at once for this type)."""
    from xrm_core.platform import Platform
    orig = Platform.record_event_impls
    Platform.record_event_impls = lambda self, *args, **kwargs: []
    try:
        yield
    finally:
        Platform.record_event_impls = orig


@contextlib.contextmanager
def plugins_off():
    """Every entry-point plugin blocked (XRM_DISABLE_PLUGINS) while the database is prepared
    and imported into: fewer entity types, so fewer partial indexes on xrm_records."""
    old = os.environ.get("XRM_DISABLE_PLUGINS")
    os.environ["XRM_DISABLE_PLUGINS"] = ",".join(C.entry_point_plugins())
    try:
        yield
    finally:
        if old is None:
            del os.environ["XRM_DISABLE_PLUGINS"]
        else:
            os.environ["XRM_DISABLE_PLUGINS"] = old


def drop_other_indexes(path) -> int:
    """Drop the partial indexes of every other entity type (what a one-table-per-type or a
    side-table index layout would spare each insert). Returns how many were dropped."""
    con = sqlite3.connect(path)
    names = [n for n, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                         "AND tbl_name = 'xrm_records' AND sql LIKE '%WHERE type =%'")
             if f"'{IJ.TYPE_NAME}'" not in sql]
    for name in names:
        con.execute(f'DROP INDEX "{name}"')
    con.commit()
    con.close()
    return len(names)


def record_indexes(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'xrm_records'").fetchone()[0]
    finally:
        con.close()


def run_import(url: str, data, n: int, cache: bool = False, written: bool = True) -> tuple[float, float]:
    from xrm_core import Platform, importer
    p = Platform(url)
    try:
        c, t = time.process_time(), time.perf_counter()
        with p.session("admin") as s:
            if cache:
                s.conn.exec_driver_sql("PRAGMA cache_size=-65536")
            report = importer.import_file(s, IJ.TYPE_NAME, str(data))
        dt = (time.perf_counter() - t, time.process_time() - c)
    finally:
        p.dispose()
    if report["imported"] != n:
        raise SystemExit(f"imported {report['imported']} of {n}")
    if written:
        IJ.check_stored(url, n)
    return dt


def prepare(url: str) -> None:
    from xrm_core import Platform
    p = Platform(url)
    try:
        p.init()
        C.add_type(p, IJ.ENTITY_TYPE)
    finally:
        p.dispose()


def baseline(path, data, wal: bool = False) -> tuple[float, float]:
    """The plain sqlite3 baseline of import_jsonl.py, in process; ``wal``: with the
    platform's journal settings (WAL, synchronous=NORMAL) instead of SQLite's defaults."""
    c, t = time.process_time(), time.perf_counter()
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
    with open(data, encoding="utf-8") as f:
        con.executemany("INSERT INTO t VALUES (?, ?)", ((f"{i:012x}", line.rstrip("\n")) for i, line in enumerate(f)))
    con.commit()
    con.close()
    return time.perf_counter() - t, time.process_time() - c


def storage_floor(db_path, data, multirow: bool = False) -> tuple[float, float]:
    """The rows the platform stores, straight through sqlite3 (no parse, no validation);
    ``multirow``: as multi-row VALUES statements of ~100 rows, as the importer writes them."""
    from xrm_core.import_writer import _insert_values

    class Raw:  # what _insert_values needs of a connection, on the bare sqlite3 one
        class dialect:
            name, paramstyle = "sqlite", "qmark"

        def __init__(self, con):
            self.exec_driver_sql = con.execute

    c, t = time.process_time(), time.perf_counter()
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("BEGIN IMMEDIATE")
    uid, unit = con.execute("SELECT id, unit_id FROM xrm_users WHERE name = 'admin'").fetchone()
    now = "2026-01-01T00:00:00.000000Z"
    with open(data, encoding="utf-8") as f:
        lines = [(i, line.rstrip("\n")) for i, line in enumerate(f, 1)]
    for lo in range(0, len(lines), 2000):
        chunk = lines[lo:lo + 2000]
        write = (lambda sql, rows: _insert_values(Raw(con), sql, rows)) if multirow else con.executemany
        write(STORAGE_FLOOR, [(f"{i:020x}", IJ.TYPE_NAME, body, uid, unit, uid, uid, now, now)
                              for i, body in chunk])
        write(ACTIVITY_FLOOR, [
            (f"{i:020x}", IJ.TYPE_NAME, unit, uid, now, f"imported from records.jsonl line {i}",
             '{"data":' + body + ',"import":{"file":"records.jsonl","line":' + str(i) + '}}') for i, body in chunk])
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t, time.process_time() - c


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--reps", type=int, default=3, help="runs of each variant (best kept; default 3)")
    args = p.parse_args()
    if args.url:
        raise SystemExit("import_experiments.py runs on SQLite only (the import target is defined on SQLite)")
    n = C.rows_of(args)
    C.print_machine()

    variants = {  # name -> (how to prepare the database, how to import)
        "as is": (None, lambda url, data: run_import(url, data, n)),
        "plugins off": ("plugins off", lambda url, data: _with([plugins_off()], url, data, n)),
        "other types' partial indexes dropped": ("drop", lambda url, data: run_import(url, data, n)),
        "no record hooks": (None, lambda url, data: _with([no_record_hooks()], url, data, n)),
        "cache 64 MiB": (None, lambda url, data: run_import(url, data, n, cache=True)),
        "cheap ids": (None, lambda url, data: _with([cheap_ids()], url, data, n)),
        "19-digit runs found by the pattern's search (before 2026-11-26 evening)":
            (None, lambda url, data: _with([pattern_digit_search()], url, data, n)),
        "no database writes (the Python alone)": (None, lambda url, data: _with([no_writes()], url, data, n,
                                                                                 written=False)),
    }
    floors = ["sqlite3 executemany, xrm schema (records + history)",
              "sqlite3 multi-row VALUES, xrm schema (records + history)",
              "sqlite3 executemany, xrm schema, own type's indexes only",
              "sqlite3 multi-row VALUES, xrm schema, own type's indexes only"]
    with C.workdir("xrm_bench_importx_") as work:
        data = work / "records.jsonl"
        IJ.generate(data, n)
        (work / "type.json").write_text(json.dumps(IJ.ENTITY_TYPE))
        times: dict[str, C.Runs] = {"sqlite3 executemany, one table (import_jsonl baseline)": C.Runs(),
                                    "sqlite3 executemany, one table, WAL + synchronous=NORMAL": C.Runs(),
                                    **{k: C.Runs() for k in floors},
                                    **{k: C.Runs() for k in variants}}
        k = 0
        indexes: dict[str, int] = {}
        for _ in range(args.reps):
            b = work / "baseline.db"
            b.unlink(missing_ok=True)
            times["sqlite3 executemany, one table (import_jsonl baseline)"].add(*baseline(b, data))
            for f in work.glob("baseline.db*"):
                f.unlink()
            times["sqlite3 executemany, one table, WAL + synchronous=NORMAL"].add(*baseline(b, data, wal=True))
            for f in work.glob("baseline.db*"):
                f.unlink()
            for name in [*floors, *variants]:
                k += 1
                path = work / f"x{k}.db"
                url = f"sqlite:///{path}"
                how, fn = variants.get(name, (None, None))
                with plugins_off() if how == "plugins off" else contextlib.nullcontext():
                    prepare(url)
                if how == "drop" or "own type's indexes only" in name:
                    drop_other_indexes(path)
                indexes.setdefault(name, record_indexes(path))
                if name.startswith("sqlite3"):
                    times[name].add(*storage_floor(path, data, multirow="multi-row" in name))
                else:
                    times[name].add(*fn(url, data))
                for f in work.glob(f"x{k}.db*"):
                    f.unlink()
        base, asis = times["sqlite3 executemany, one table (import_jsonl baseline)"], times["as is"]
        print(f"{n:,} rows, in process (no start-up), SQLite; best of {args.reps}, interleaved; "
              "CPU = this process's CPU time")
        print()
        C.table([[k, indexes.get(k, "-"), C.fmt_s(r.best()), f"{r.best() / base.best():.2f}×",
                  C.fmt_s(r.best(True)), f"{r.best(True) / base.best(True):.2f}×",
                  f"{r.best(True) / asis.best(True):.2f}×", " ".join(C.fmt_s(x) for x in r.wall)]
                 for k, r in times.items()],
                ["variant", "indexes on xrm_records", "wall", "vs baseline", "CPU", "CPU vs baseline",
                 "CPU vs as is", "all runs (wall)"])
        print()
    return 0


def _with(patches, url, data, n, cache=False, written=True):
    with contextlib.ExitStack() as st:
        for cm in patches:
            st.enter_context(cm)
        return run_import(url, data, n, cache, written)


if __name__ == "__main__":
    sys.exit(main())
