"""GET of one record by id through ``xrm serve --workers 2`` vs a bare Flask route returning a
constant JSON under the same gunicorn settings (issue 4: the API must reach at least half the
requests/s of the bare route).

Both servers run side by side on 127.0.0.1 (free ports), each with the same workers/threads,
and are measured alternately (``--rounds``) with the same load generator: ``wrk`` when it is
installed (``apt-get install -y wrk``), else a small Python client (threads, one keep-alive
``http.client`` connection each). Every response must be a 200. ``--profile`` also prints a
cProfile of GETs through the app in process (where the per-request time goes).

    python bench/api_get.py                     # SQLite, 5 s per measurement, 3 rounds
    python bench/api_get.py --seconds 20 --url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

TARGET = 0.5
ITEM = {"name": "bench_item", "title_field": "name", "schema": {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string"}, "city": {"type": "string"}, "score": {"type": "integer"}}}}


# -- the baseline server ----------------------------------------------------------------
def bare_app():
    """The baseline: one Flask route returning a constant JSON document of similar size."""
    from flask import Flask, Response
    app = Flask("bare")
    body = json.dumps({"id": "01a2138dc7920000af8e", "type": "bench_item", "data": {
        "name": "Item 1", "city": "Tabriz", "score": 7}, "version": 1, "owner": "admin", "unit": "root",
        "created_at": "2026-11-25T16:00:00.000000Z", "updated_at": "2026-11-25T16:00:00.000000Z",
        "created_by": "admin", "updated_by": "admin"}).encode()

    @app.get("/api/v1/records/bench_item/<record_id>")
    def get(record_id):
        return Response(body, mimetype="application/json", headers={"ETag": '"1"'})

    return app


def serve_bare(port: int, workers: int, threads: int) -> None:
    from xrm_core.cli.serve_cmds import run_gunicorn
    run_gunicorn(bare_app, "127.0.0.1", port, workers, threads)


# -- servers and load -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, path: str, token: str, log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "XRM_SECRET_KEY": "bench"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            status = c.getresponse().status
            c.close()
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    sys.exit(f"server did not answer 200 on {path}:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load_wrk(port: int, path: str, token: str, seconds: float, clients: int) -> tuple[float, int]:
    """(requests/s, non-2xx count) from wrk."""
    out = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:.0f}s",
                          "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return rps, (int(bad.group(1)) if bad else 0) + (1 if errors and "timeout 0" not in errors.group(0) else 0)


def load_python(port: int, path: str, token: str, seconds: float, clients: int) -> tuple[float, int]:
    """(requests/s, non-200 count) from ``clients`` threads on keep-alive connections."""
    counts, bad = [0] * clients, [0] * clients
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def run(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            r.read()
            counts[i] += 1
            if r.status != 200:
                bad[i] += 1
            if r.will_close:
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0), sum(bad)


# -- profile ----------------------------------------------------------------------------
def profile(url: str, token: str, path: str, n: int = 2000) -> None:
    import cProfile
    import pstats

    from xrm_core import Platform
    from xrm_core.web import create_app
    client = create_app(Platform(url)).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(50):
        client.get(path, headers=headers)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        assert client.get(path, headers=headers).status_code == 200
    prof.disable()
    print(f"\ncProfile of {n} GETs in process (test client), top by cumulative time:")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(18)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5, help="length of each measurement (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurements per server (default 3)")
    p.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers of both servers (default 2)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker of both servers (default 4)")
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--url", metavar="URL", help="PostgreSQL URL to run on instead of SQLite (a schema of its own)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of in-process GETs")
    p.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server, args.workers, args.threads)
        return
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    load = load_wrk if client == "wrk" else load_python
    _common.print_machine(args.url)

    from xrm_core import accounts
    with _common.database(args, "xrm_bench_api") as url:
        platform = _common.open_platform(url)
        _common.add_type(platform, ITEM)
        with platform.session("admin") as s:
            rec = s.create("bench_item", {"name": "Item 1", "city": "Tabriz", "score": 7})
        with platform.connection() as conn:
            token = accounts.create_token(conn, "admin")
        platform.dispose()
        path = f"/api/v1/records/bench_item/{rec.id}"
        with _common.workdir("xrm_bench_api_logs_") as logs:
            app_port, bare_port = free_port(), free_port()
            common = ["--workers", str(args.workers), "--threads", str(args.threads)]
            servers = {
                "xrm serve (GET record)": (start([sys.executable, "-m", "xrm_core.cli.main", "--db", url, "serve",
                                                  "--port", str(app_port), *common], app_port, path, token,
                                                 logs / "app.log"), app_port),
                "bare Flask (constant)": (start([sys.executable, __file__, "--bare-server", str(bare_port), *common],
                                                bare_port, path, token, logs / "bare.log"), bare_port),
            }
            try:
                results: dict[str, list[float]] = {name: [] for name in servers}
                bad = 0
                for name, (_, port) in servers.items():  # warm-up: every worker connects, compiles
                    load(port, path, token, 2, args.clients)
                for _ in range(args.rounds):
                    for name, (_, port) in servers.items():
                        rps, n_bad = load(port, path, token, args.seconds, args.clients)
                        results[name].append(rps)
                        bad += n_bad
            finally:
                for proc, _ in servers.values():
                    stop(proc)
        if args.profile:
            profile(url, token, path)

    app_runs, bare_runs = results["xrm serve (GET record)"], results["bare Flask (constant)"]
    # Each round measures both servers back to back: the ratio of a pair is what the
    # machine's noise affects least; the median pair is the result.
    ratios = sorted(a / b for a, b in zip(app_runs, bare_runs))
    ratio = ratios[len(ratios) // 2] if len(ratios) % 2 else sum(ratios[len(ratios) // 2 - 1:][:2]) / 2
    print(f"\nGET one record by id, {args.clients} keep-alive clients ({client}), gunicorn "
          f"{args.workers} workers x {args.threads} threads, {args.seconds:.0f} s per measurement, "
          f"{'PostgreSQL' if args.url else 'SQLite'}:")
    _common.table([[f"round {i + 1}", f"{a:,.0f}", f"{b:,.0f}", f"{a / b:.2f}"]
                   for i, (a, b) in enumerate(zip(app_runs, bare_runs))],
                  ["", "xrm serve (GET record) req/s", "bare Flask (constant) req/s", "ratio"])
    print(f"\nratio app / bare (median of rounds) = {ratio:.2f} (target >= {TARGET}) "
          f"{'met' if ratio >= TARGET else 'NOT met'}; non-200 responses: {bad}")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
