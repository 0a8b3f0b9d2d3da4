"""prm_dealers defects found in the biz12 audit: sales vs target counted an all-model target
beside its per-model breakdown twice; a lead handed to another dealer stayed in the old
dealer's unit; a deadlock between two writers of sales targets crashed as a plugin failure.
Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

from xrm_core import Conflict, NotFound, PermissionDenied, ValidationError  # noqa: E402
from xrm_core.cli.main import build_cli  # noqa: E402
from xrm_core.importer import import_file  # noqa: E402
from xrm_prm_dealers import sales_months  # noqa: E402

MARCH = ("--from", "2024-03-01", "--to", "2024-03-31")


def compute(p, name, *args):
    """``xrm kpi compute NAME ARGS --json``: the parsed document."""
    result = CliRunner().invoke(build_cli(p.pm), ["--db", p.url, "kpi", "compute", name, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_key(result):
    return {g["key"]: (g["value"], g["n"]) for g in result["groups"]}


def _sales_months(net):
    add(net, "sales_target", [
        {"dealer_code": "D01", "month": "2024-03-01", "target_units": 20},               # all models
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X5", "target_units": 12},  # its breakdown
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X7", "target_units": 8},
        {"dealer_code": "D01", "month": "2024-04-01", "target_units": 99},               # after --to
        {"dealer_code": "D01", "month": "2024-02-01", "target_units": 99},               # before --from
    ], unit="D01")
    add(net, "sales_report", [
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X5", "units_sold": 9},   # no all-model report
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X7", "units_sold": 6},
        {"dealer_code": "D01", "month": "2024-04-01", "units_sold": 50},
    ], unit="D01")
    add(net, "sales_target", [
        {"dealer_code": "D02", "month": "2024-03-01", "model": "X5", "target_units": 5},  # per model only
        {"dealer_code": "D02", "month": "2024-03-01", "model": "X7", "target_units": 5},
    ], unit="D02")
    add(net, "sales_report", [
        {"dealer_code": "D02", "month": "2024-03-01", "units_sold": 8},                  # all models
        {"dealer_code": "D02", "month": "2024-03-01", "model": "X5", "units_sold": 5},   # part of the 8
    ], unit="D02")


def test_sales_vs_target_counts_an_all_model_target_once_beside_its_breakdown(net):
    _sales_months(net)
    r = compute(net, "sales_vs_target", *MARCH)
    # D01: target = its all-model 20 (12 + 8 is its breakdown); sold = 9 + 6 = 15 (no all-model report)
    # D02: target = 5 + 5 = 10 (no all-model target); sold = its all-model 8 (the X5 5 is part of it)
    # 100 × (15 + 8) / (20 + 10) = 2300 / 30 = 76.666667; n = 1 (D01's all-model) + 2 (D02's per model)
    assert (r["value"], r["n"]) == (76.666667, 3)
    r = compute(net, "sales_vs_target", *MARCH, "--by", "dealer_code")
    assert by_key(r) == {"D01": (75.0, 1),     # 100 × 15 / 20
                         "D02": (80.0, 2)}     # 100 × 8 / 10
    r = compute(net, "sales_vs_target", *MARCH, "--by", "model")
    assert (r["value"], r["n"]) == (76.666667, 3)                   # the overall figure does not change
    assert by_key(r) == {"X5": (82.352941, 2),   # 100 × (9 + 5) / (12 + 5) = 1400 / 17
                         "X7": (46.153846, 2),   # 100 × 6 / (8 + 5) = 600 / 13
                         None: (40.0, 1)}        # all-model records: 100 × 8 (D02) / 20 (D01)


def test_sales_vs_target_in_a_dealers_scope_on_the_boundary_and_empty(net):
    _sales_months(net)
    r = compute(net, "sales_vs_target", *MARCH, "--as", "mgr2")
    assert (r["value"], r["n"]) == (80.0, 2)                        # D02 only: 8 / 10
    # --to on the month's own first day counts it; --from the day after does not.
    r = compute(net, "sales_vs_target", "--from", "2024-04-01", "--to", "2024-04-01")
    assert (r["value"], r["n"]) == (50.505051, 1)                   # 100 × 50 / 99
    r = compute(net, "sales_vs_target", "--from", "2024-03-02", "--to", "2024-03-31")
    assert (r["value"], r["n"], r["groups"]) == (None, 0, [])
    add(net, "sales_target", [{"dealer_code": "D03", "month": "2024-05-01", "target_units": 0}], unit="D03")
    r = compute(net, "sales_vs_target", "--from", "2024-05-01", "--to", "2024-05-31")
    assert (r["value"], r["n"]) == (None, 1)                        # a target of 0: no division


def test_a_lead_handed_to_another_dealer_moves_to_its_unit(net):
    lead, = add(net, "lead", [{"name": "Sara", "dealer_code": "D01"}], user="cc")
    with net.session("mgr2", write=False) as s:
        with pytest.raises(NotFound):
            s.get(lead)
    with net.session("cc") as s:
        moved = s.update(lead, {"dealer_code": "D02"})
    assert moved.unit == "D02"
    with net.session("mgr2", write=False) as s:
        assert s.get(lead).data["dealer_code"] == "D02"
    with net.session("mgr1", write=False) as s:                     # the old dealer no longer sees it
        with pytest.raises(NotFound):
            s.get(lead)
    with net.session("cc") as s:                                    # no dealer code: it stays
        assert s.update(lead, {"dealer_code": None}).unit == "D02"


def test_a_dealer_cannot_push_its_lead_into_another_dealers_unit(net):
    lead, = add(net, "lead", [{"name": "Ali", "dealer_code": "D01"}], user="mgr1")
    with net.session("mgr1") as s:
        with pytest.raises(PermissionDenied):
            s.update(lead, {"dealer_code": "D02"})
    with net.session("mgr1", write=False) as s:
        got = s.get(lead)
    assert (got.unit, got.data["dealer_code"], got.version) == ("D01", "D01", 1)


def _keys_in_two_buckets():
    """Two (dealer, month) keys of sales_target whose lock buckets differ."""
    first = ("sales_target", "D01", "2024-06-01")
    for i in range(1, 100):
        other = ("sales_target", f"Z{i:02d}", "2024-06-01")
        if sales_months.bucket(other) != sales_months.bucket(first):
            return first, other
    raise AssertionError("no second bucket")


def test_a_deadlock_between_two_writers_is_a_try_again_conflict(net):
    if net.url.startswith("sqlite"):
        pytest.skip("advisory locks are PostgreSQL's (SQLite has one writer at a time)")
    (_, a, month), (_, b, _) = _keys_in_two_buckets()
    outcome, usable, go = {}, {}, threading.Event()

    def target(code):
        return {"dealer_code": code, "month": month, "target_units": 1}

    def writer(name, first, second, started):
        try:
            with net.session() as s:
                s.create("sales_target", target(first))              # locks first's bucket
                started.set()
                go.wait(10)
                try:
                    s.create("sales_target", target(second))         # waits for the other writer
                except Conflict:
                    # The transaction can go on (an import deletes and reports the row).
                    usable[name] = s.count("sales_target", {"month": month})
                    raise
            outcome[name] = "stored"
        except Exception as e:  # noqa: BLE001 — recorded and checked below
            outcome[name] = e

    one_ready, two_ready = threading.Event(), threading.Event()
    t1 = threading.Thread(target=writer, args=("one", a, b, one_ready))
    t2 = threading.Thread(target=writer, args=("two", b, a, two_ready))
    t1.start()
    t2.start()
    assert one_ready.wait(10) and two_ready.wait(10)
    go.set()
    t1.join(30)
    t2.join(30)
    assert sorted(v if isinstance(v, str) else type(v).__name__ for v in outcome.values()) == \
        ["Conflict", "stored"], outcome
    refused = next(v for v in outcome.values() if isinstance(v, Conflict))
    assert "try again" in str(refused) and refused.status == 409
    assert list(usable.values()) == [1]                             # its own first target, before rollback
    with net.session(write=False) as s:                             # the refused one stored nothing
        assert s.count("sales_target", {"month": month}) == 2


def test_an_import_caught_in_a_deadlock_reports_its_row_to_try_again(net, tmp_path):
    """The import is the transaction PostgreSQL gives up: its row is reported (line, "try
    again") and nothing imported — not a database error about an aborted transaction."""
    if net.url.startswith("sqlite"):
        pytest.skip("advisory locks are PostgreSQL's (SQLite has one writer at a time)")
    (_, a, month), (_, b, _) = _keys_in_two_buckets()
    path = tmp_path / "targets.csv"
    path.write_text(f"dealer_code,month,target_units\n{b},{month},2\n")
    held, outcome, importer = threading.Event(), {}, {}

    def other():
        with net.session() as s:
            s.create("sales_target", {"dealer_code": b, "month": month, "target_units": 1})
            held.set()
            waiting = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
            for _ in range(100):                                     # the import waits first
                if s.conn.execute(waiting, {"pid": importer["pid"]}).scalar():
                    break
                time.sleep(0.05)
            s.create("sales_target", {"dealer_code": a, "month": month, "target_units": 1})
        outcome["other"] = "stored"

    t = threading.Thread(target=other)
    with pytest.raises(_RollBack), net.session() as s:
        s.create("sales_target", {"dealer_code": a, "month": month, "target_units": 1})
        importer["pid"] = s.conn.execute(text("SELECT pg_backend_pid()")).scalar()
        t.start()
        assert held.wait(10)
        with pytest.raises(ValidationError) as e:
            import_file(s, "sales_target", str(path))                # waits for b: the deadlock
        report = e.value.extra["report"]
        assert [r["line"] for r in report["invalid"]] == [2] and "try again" in str(report["invalid"])
        raise _RollBack                                              # lets the other writer go on
    t.join(30)
    assert outcome == {"other": "stored"}


class _RollBack(Exception):
    """Raised to end a test's session with a rollback."""


def test_a_later_batch_takes_its_locks_in_one_ascending_statement(net, monkeypatch):
    """A batch whose first row's bucket is locked already (by an earlier row or batch of the
    transaction) still takes the rest of its buckets in one statement, ascending, so that
    two such transactions take them in the same order (an audit check: it held)."""
    if net.url.startswith("sqlite"):
        pytest.skip("advisory locks are PostgreSQL's (SQLite has one writer at a time)")
    taken = []
    lock = sales_months._lock
    monkeypatch.setattr(sales_months, "_lock", lambda s, key, buckets: (taken.append(buckets), lock(s, key, buckets)))
    month = "2024-07-01"
    first = ("sales_target", "D01", month)
    by_bucket = {}
    for i in range(200):
        key = ("sales_target", f"Y{i:03d}", month)
        by_bucket.setdefault(sales_months.bucket(key), key)
    others = [k for b, k in sorted(by_bucket.items(), reverse=True) if b != sales_months.bucket(first)][:3]
    same = next(f"W{i:03d}" for i in range(1000)
                if sales_months.bucket(("sales_target", f"W{i:03d}", month)) == sales_months.bucket(first))
    with net.session() as s:
        s.create("sales_target", {"dealer_code": "D01", "month": month, "target_units": 1})
        # the batch's first row shares the locked bucket; the others come in descending bucket order
        s.create_many("sales_target", [{"dealer_code": code, "month": month, "target_units": 1}
                                       for code in [same] + [k[1] for k in others]])
    assert taken[0] == [sales_months.bucket(first)]
    assert taken[1:] == [sorted(sales_months.bucket(k) for k in others)]
