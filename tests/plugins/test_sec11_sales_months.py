"""Security review of the all-model sales target/report check
(plugins/prm_dealers/sales_months.py): what a low-privilege user learns from its refusal,
and what one transaction can do to others through its PostgreSQL advisory locks. Runs on
SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

from xrm_core import Conflict, ValidationError  # noqa: E402
from xrm_core.importer import import_file  # noqa: E402
from xrm_prm_dealers import sales_months  # noqa: E402

MARCH = "2024-03-01"


def _advisory_locks(s) -> int:
    return s.conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND pid = pg_backend_pid()")).scalar()


def test_one_transaction_holds_a_bounded_number_of_locks(net):
    """A lock per (dealer, month) key let one import of ~12,500 keys fill PostgreSQL's
    shared lock table ("out of shared memory", for its own and others' transactions)."""
    if net.url.startswith("sqlite"):
        pytest.skip("advisory locks are PostgreSQL's (SQLite has one writer at a time)")
    rows = [{"dealer_code": f"X{i:04d}", "month": MARCH, "target_units": 1} for i in range(500)]
    with net.session() as s:
        s.create_many("sales_target", rows, unit="D01")
        held = _advisory_locks(s)
    assert 0 < held <= sales_months.BUCKETS


def test_buckets_are_stable_and_spread():
    keys = [("sales_target", f"D{i:03d}", MARCH) for i in range(1000)]
    buckets = [sales_months.bucket(k) for k in keys]
    assert buckets == [sales_months.bucket(k) for k in keys]
    assert set(buckets) == set(range(sales_months.BUCKETS))           # every bucket used
    assert sales_months.bucket(("sales_report", "\ud800", MARCH)) in range(sales_months.BUCKETS)


def test_a_skipped_import_row_does_not_name_a_record_the_user_cannot_read(net, tmp_path):
    """--skip-invalid and the report: the clash with D01's target is said, not its id."""
    hidden, = add(net, "sales_target", [{"dealer_code": "D01", "month": MARCH, "target_units": 9}], unit="D01")
    path = tmp_path / "t.csv"
    path.write_text(f"dealer_code,month,target_units\nD02,{MARCH},3\nD01,{MARCH},4\n")
    for skip in (False, True):
        with net.session("mgr2") as s:
            try:
                report = import_file(s, "sales_target", str(path), skip_invalid=skip)
            except ValidationError as e:
                report = e.extra["report"]
        said = str(report)
        assert [r["line"] for r in report["invalid"]] == [3]
        assert hidden not in said and "another record" in said
    with pytest.raises(Conflict) as e:
        add(net, "sales_target", [{"dealer_code": "D01", "month": MARCH, "target_units": 4}], user="mgr2")
    assert hidden not in str(e.value) + str(e.value.errors) + str(e.value.extra)
