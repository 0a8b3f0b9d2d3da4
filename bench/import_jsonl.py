"""Benchmark: `xrm import` of N valid JSONL records as a whole process, against plain sqlite3.

Baseline (the storage limit): a `python -c` process that `executemany`s the same JSON lines
into a one-table SQLite database (id TEXT PRIMARY KEY, body TEXT) and commits. Platform: the
`xrm --db URL import TYPE FILE` process on a database prepared (untimed) by `xrm init` and
`xrm types add`, history included. Both are timed as wall clock, best of --reps, interleaved;
the CPU time of each process is shown too (steadier than the wall clock on a busy machine).
The platform runs with the installed plugins (as a user would) and with every plugin disabled
(XRM_DISABLE_PLUGINS), which shows the cost of plugin hooks and plugin loading.

Also printed: where the time of one import goes (cProfile, top functions by cumulative and by
own time) and the start-up time of `xrm --help` (with the slowest imports).

    python bench/import_jsonl.py              # quick check (10,000 rows)
    python bench/import_jsonl.py --full       # the issue's size (100,000 rows)
    python bench/import_jsonl.py --full --url postgresql://postgres@127.0.0.1:5432/test
    python bench/import_jsonl.py --full --datetime-index   # + the cost of a date-time index

With ``--datetime-index`` every row also carries a ``last_contact`` date-time (with offsets
from -05:00 to +08:00), and a third process imports into the same type with ``last_contact``
added to its ``indexes``: the difference is what indexing a date-time field costs (its index
expression orders by instant, see xrm_core/instants.py, where a plain field's is a JSON
extraction).
"""
from __future__ import annotations

import io
import json
import os
import pstats
import random
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import _common as C

TYPE_NAME = "bench_contact"
TARGET = 3.0

#: A realistic contact-like type: strings, an email with format, integer, number, date, enum,
#: boolean; one indexed field (city) and one unique field (member_no).
ENTITY_TYPE = {
    "name": TYPE_NAME, "label": "Bench contact", "title_field": "name",
    "indexes": ["city"], "unique": ["member_no"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "email": {"type": "string", "format": "email"},
            "member_no": {"type": "string", "pattern": "^M[0-9]{7}$"},
            "city": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "balance": {"type": "number"},
            "joined": {"type": "string", "format": "date"},
            "segment": {"enum": ["bronze", "silver", "gold", "platinum"]},
            "active": {"type": "boolean"},
        },
        "required": ["name", "email", "member_no"],
        "additionalProperties": False,
    },
}

FIRST = ["Ada", "Babak", "Chen", "Dara", "Elham", "Farid", "Gita", "Hong", "Iris", "Jun", "Kian", "Lei",
         "Mina", "Nima", "Omid", "Parisa", "Qing", "Reza", "Sara", "Tao", "Ulla", "Vida", "Wei", "Xin"]
LAST = ["Ahmadi", "Bauer", "Chang", "Dehghan", "Evans", "Fang", "Ghasemi", "Huang", "Ito", "Jafari",
        "Karimi", "Li", "Moradi", "Novak", "Omidi", "Park", "Rahimi", "Sun", "Tehrani", "Wang"]
CITIES = ["Tehran", "Mashhad", "Isfahan", "Shiraz", "Tabriz", "Beijing", "Shanghai", "Wuhan", "Chengdu",
          "Xi'an", "Lyon", "Porto", "Graz", "Turin", "Gdansk", "Leeds", "Kyoto", "Pune", "Izmir", "Quito"]

BASELINE = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
with open(sys.argv[2], encoding="utf-8") as f:
    con.executemany("INSERT INTO t VALUES (?, ?)", ((f"{i:012x}", line.rstrip("\n")) for i, line in enumerate(f)))
con.commit()
n = con.execute("SELECT count(*) FROM t").fetchone()[0]
con.close()
"""


#: Offsets the ``last_contact`` date-times are written with (``--datetime-index``).
OFFSETS = ["Z", "+00:00", "+01:00", "+03:30", "+08:00", "-05:00"]


def with_datetime(entity_type: dict, indexed: bool) -> dict:
    """The bench type with a ``last_contact`` date-time property, indexed or not."""
    t = json.loads(json.dumps(entity_type))
    t["schema"]["properties"]["last_contact"] = {"type": "string", "format": "date-time"}
    if indexed:
        t["indexes"] = [*t["indexes"], "last_contact"]
    return t


def generate(path: Path, n: int, datetimes: bool = False) -> None:
    """Write ``n`` valid records, one JSON object a line (what a CRM export looks like);
    with ``datetimes``, each also has a ``last_contact`` date-time."""
    rnd = random.Random(42)
    start = date(2015, 1, 1)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            rec = {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                   "member_no": f"M{i:07d}", "city": rnd.choice(CITIES), "age": rnd.randint(18, 90),
                   "balance": round(rnd.uniform(-500, 50000), 2),
                   "joined": (start + timedelta(days=rnd.randint(0, 3650))).isoformat(),
                   "segment": rnd.choice(("bronze", "silver", "gold", "platinum")),
                   "active": rnd.random() < 0.8}
            if datetimes:
                day = start + timedelta(days=rnd.randint(0, 3650))
                rec["last_contact"] = (f"{day.isoformat()}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:"
                                       f"{rnd.randint(0, 59):02d}{rnd.choice(OFFSETS)}")
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


class Target:
    """Where one `xrm import` run writes: a new SQLite file or a new PostgreSQL schema each time."""

    def __init__(self, args, work: Path):
        self.args, self.work, self.n = args, work, 0
        self._schemas = []

    def fresh(self) -> str:
        self.n += 1
        if not self.args.url:
            return f"sqlite:///{self.work / f'xrm_{self.n}.db'}"
        cm = C.pg_schema(self.args.url, "xrm_bench_import")
        url, _ = cm.__enter__()
        self._schemas.append(cm)
        return url

    def drop_all(self):
        for cm in self._schemas:
            cm.__exit__(None, None, None)
        self._schemas.clear()


def prepare(url: str, type_file: Path, env: dict) -> None:
    xrm = C.xrm_executable()
    C.run_process([xrm, "--db", url, "init"], env)
    C.run_process([xrm, "--db", url, "types", "add", str(type_file)], env)


def import_once(url: str, data: Path, env: dict, n: int) -> tuple[float, float]:
    """(wall, CPU) of one `xrm import` process; checks its report says all n rows went in."""
    xrm = C.xrm_executable()
    wall, cpu = C.run_process([xrm, "--db", url, "import", TYPE_NAME, str(data), "--json"], env)
    report = json.loads(C.run_process.last_stdout)
    if report["imported"] != n:
        raise SystemExit(f"xrm import imported {report['imported']} of {n} rows: {report}")
    return wall, cpu


def check_stored(url: str, n: int) -> None:
    """The import really wrote n records and n history entries (so the timing is honest)."""
    from sqlalchemy import text

    from xrm_core import db
    eng = db.make_engine(url)
    try:
        with eng.connect() as c:
            recs = c.execute(text(f"SELECT count(*) FROM xrm_records WHERE type = '{TYPE_NAME}'")).scalar()
            acts = c.execute(text(f"SELECT count(*) FROM xrm_activities WHERE record_type = '{TYPE_NAME}'")).scalar()
    finally:
        eng.dispose()
    if recs != n or acts != n:
        raise SystemExit(f"expected {n} records and {n} activities, found {recs} and {acts}")


def envs() -> dict[str, dict]:
    # Processes run as a user's would: with Python's bytecode cache (a PYTHONDONTWRITEBYTECODE
    # set for the test machines would make every run compile the platform's modules again;
    # the untimed preparation runs fill the cache).
    drop = ("XRM_DISABLE_PLUGINS", "XRM_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    plugins = C.entry_point_plugins()
    return {"plugins on": base,
            "plugins off": {**base, "XRM_DISABLE_PLUGINS": ",".join(plugins)}}


def startup(reps: int) -> None:
    """Start-up time of `xrm --help` against bare Python, best of ``reps``."""
    xrm = C.xrm_executable()
    e = envs()
    cmds = {
        "python -c pass": ([sys.executable, "-c", "pass"], e["plugins on"]),
        "python -c 'import sqlite3'": ([sys.executable, "-c", "import sqlite3"], e["plugins on"]),
        "xrm --help (plugins on)": ([xrm, "--help"], e["plugins on"]),
        "xrm --help (plugins off)": ([xrm, "--help"], e["plugins off"]),
    }
    runs = {k: C.Runs() for k in cmds}
    for _ in range(reps):
        for k, v in cmds.items():
            runs[k].add(*C.run_process(*v))
    base = runs["python -c pass"]
    print(f"Start-up (best of {reps}, interleaved)")
    C.table([[k, C.fmt_s(r.best()), C.fmt_s(r.best(cpu=True)), f"{r.best() / base.best():.1f}×"]
             for k, r in runs.items()], ["command", "wall", "CPU", "wall vs python -c pass"])
    # Which imports cost the most (python -X importtime, modules imported from the top level).
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", "from xrm_core.cli.main import build_cli; build_cli()"],
                         env=e["plugins on"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mods = []
    for line in res.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(3)) <= 5:  # the top three levels of the import tree
            mods.append((int(m.group(2)), "  " * ((len(m.group(3)) - 1) // 2) + m.group(4)))
    mods.sort(reverse=True)
    print()
    print("Slowest imports of build_cli(), three levels deep (python -X importtime, one run, cumulative)")
    C.table([[name, C.fmt_s(us / 1e6)] for us, name in mods[:12]], ["module", "cumulative"])
    print()


def short(path: str) -> str:
    for marker in ("site-packages/", str(C.ROOT) + "/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _plumbing(func) -> bool:
    """Frames that only wrap the real work (interpreter start, runpy, import machinery, click
    dispatch): left out of the cumulative listing so the platform's own functions show."""
    file, _line, name = func
    return (file.startswith("<frozen") or file == "<string>" or "builtins.exec" in name
            or "/click/" in file or file.endswith("cli/main.py"))


def profile(url: str, data: Path, env: dict, top: int = 15) -> None:
    """cProfile of one import process; prints the top functions by cumulative and own time."""
    with C.workdir("xrm_bench_prof_") as d:
        out = d / "import.prof"
        C.run_process([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "xrm_core.cli.main",
                       "--db", url, "import", TYPE_NAME, str(data)], env)
        st = pstats.Stats(str(out), stream=io.StringIO())
        total = st.total_tt
        for key, label in (("cumulative", "cumulative"), ("tottime", "own time (tottime)")):
            st.sort_stats(key)
            rows = []
            for func in [f for f in st.fcn_list if not _plumbing(f)][:top]:
                cc, nc, tt, ct, _callers = st.stats[func]
                file, line, name = func
                where = name if file == "~" else f"{short(file)}:{line}({name})"
                rows.append([where, nc, f"{tt:.3f}", f"{ct:.3f}", f"{100 * (ct if key == 'cumulative' else tt) / total:.0f}%"])
            print(f"Profile of one import: top {top} by {label} (total {total:.2f} s under cProfile)")
            C.table(rows, ["function", "calls", "tottime s", "cumtime s", "share"])
            print()


def record_indexes(url: str) -> int:
    """How many indexes xrm_records has (every one is maintained on every insert)."""
    return C.record_index_count(url)


def main() -> int:
    p = C.parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--reps", type=int, default=3, help="timed runs of each process (best is kept; default 3)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    p.add_argument("--datetime-index", action="store_true",
                   help="rows carry a date-time field; also import into the type with that field indexed")
    args = p.parse_args()
    n = C.rows_of(args)
    C.print_machine(args.url)
    with C.workdir("xrm_bench_import_") as work:
        data = work / "records.jsonl"
        type_file = work / "type.json"
        dt = args.datetime_index
        type_file.write_text(json.dumps(with_datetime(ENTITY_TYPE, False) if dt else ENTITY_TYPE))
        generate(data, n, datetimes=dt)
        dt_type_file = work / "type_dt.json"
        dt_type_file.write_text(json.dumps(with_datetime(ENTITY_TYPE, True)))
        size = data.stat().st_size
        print(f"{n:,} JSONL rows of {TYPE_NAME} ({size / 1e6:.1f} MB), database: "
              f"{'PostgreSQL ' + args.url if args.url else 'SQLite file'}; best of {args.reps}, interleaved")
        print()
        e = envs()
        target = Target(args, work)
        base_name = "sqlite3 executemany (baseline)"
        variants = [(k, env, type_file) for k, env in e.items()]
        if dt:
            variants.append(("plugins on, last_contact indexed", e["plugins on"], dt_type_file))
        runs = {base_name: C.Runs(), **{f"xrm import ({k})": C.Runs() for k, _env, _tf in variants}}
        indexes = {}
        try:
            for _rep in range(args.reps):
                base_db = work / "baseline.db"
                base_db.unlink(missing_ok=True)
                runs[base_name].add(*C.run_process([sys.executable, "-c", BASELINE, str(base_db), str(data)],
                                                   e["plugins on"]))
                for k, env, tf in variants:
                    url = target.fresh()
                    prepare(url, tf, env)
                    indexes[k] = record_indexes(url)
                    runs[f"xrm import ({k})"].add(*import_once(url, data, env, n))
                    check_stored(url, n)
                target.drop_all()
                for f in work.glob("xrm_*.db*"):
                    f.unlink()
            base = runs[base_name]
            rows = []
            for k, r in runs.items():
                rows.append([k, C.fmt_s(r.best()), f"{n / r.best():,.0f}", f"{r.best() / base.best():.2f}×",
                             C.fmt_s(r.best(cpu=True)), f"{r.best(cpu=True) / base.best(cpu=True):.2f}×",
                             " ".join(C.fmt_s(x) for x in r.wall)])
            C.table(rows, ["process", "wall", "rows/s", "ratio", "CPU", "CPU ratio", "all runs (wall)"])
            print()
            on, off = runs["xrm import (plugins on)"], runs["xrm import (plugins off)"]
            print(f"ratio, plugins on : {C.verdict(on.best() / base.best(), TARGET)}; by CPU time "
                  f"{on.best(cpu=True) / base.best(cpu=True):.2f}×")
            print(f"ratio, plugins off: {C.verdict(off.best() / base.best(), TARGET)}; by CPU time "
                  f"{off.best(cpu=True) / base.best(cpu=True):.2f}×")
            print(f"plugin overhead   : {on.best() / off.best():.2f}× wall, {on.best(cpu=True) / off.best(cpu=True):.2f}× CPU "
                  f"(plugins: {', '.join(C.entry_point_plugins()) or 'none'}; indexes on xrm_records: "
                  f"{indexes['plugins on']} with them, {indexes['plugins off']} without)")
            if dt:
                idx = runs["xrm import (plugins on, last_contact indexed)"]
                print(f"date-time index   : {idx.best() / on.best():.2f}× wall, {idx.best(cpu=True) / on.best(cpu=True):.2f}× CPU "
                      f"of the same import without it")
            print()
            startup(5)
            if not args.no_profile:
                url = target.fresh()
                prepare(url, type_file, e["plugins on"])
                profile(url, data, e["plugins on"])
        finally:
            target.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
