"""Audit: the worked example's Python KPI, grouped by a field some records lack, gives its
groups in one order on both engines (its own ORDER BY put the missing key first on SQLite
and last on PostgreSQL)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xrm_core import Platform

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xrm-employees"


@pytest.fixture
def employees(monkeypatch):
    """The example's plugin module, imported from the source tree for this test only."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from xrm_employees import plugin
    yield plugin
    for name in [m for m in sys.modules if m.split(".")[0] == "xrm_employees"]:
        del sys.modules[name]


@pytest.fixture
def platform(db_url, employees):
    p = Platform(db_url, plugins={"employees": employees}, load_entry_points=False)
    p.init(admin_password="secret")
    yield p
    p.dispose()


def test_attrition_groups_come_in_the_same_order_on_both_engines(platform):
    with platform.session() as s:
        for i, (department, end) in enumerate([("labs", None), (None, None), ("HR", "2025-03-01"),
                                               ("ops", "2024-06-30"), (None, "2025-05-31")]):
            data = {"employee_no": f"E000{i}", "name": f"n{i}", "start_date": "2024-01-01"}
            data.update({k: v for k, v in (("department", department), ("end_date", end)) if v})
            s.create("employee", data)
        result = s.kpi("attrition", date_from="2025-01-01", date_to="2025-12-31", by="department")
        # Employed at some time in 2025: all but ops (left in 2024); left in it: HR and one unnamed.
        assert (result["value"], result["n"]) == (50, 4)
        assert result["groups"] == [{"key": "HR", "value": 100, "n": 1}, {"key": "labs", "value": 0, "n": 1},
                                    {"key": None, "value": 50, "n": 2}]
        assert s.kpi("attrition", date_from="2010-01-01", date_to="2010-12-31")["value"] is None


def test_attrition_keeps_the_values_of_the_examples_own_test(platform):
    """The figures tests/examples/test_employees_plugin.py expects of the installed example."""
    with platform.session() as s:
        for no, name, start, department, end in [("E0001", "Grace", "2020-03-01", "ops", None),
                                                 ("E0002", "Ada", "2024-01-08", "ops", "2025-04-30"),
                                                 ("E0003", "Alan", "2023-06-01", "labs", "2024-02-29"),
                                                 ("E0004", "Edsger", "2025-09-01", "labs", None),
                                                 ("E0005", "Barbara", "2026-01-05", "labs", None)]:
            data = {"employee_no": no, "name": name, "start_date": start, "department": department}
            s.create("employee", {**data, **({"end_date": end} if end else {})})
        attrition = s.kpi("attrition", date_from="2025-01-01", date_to="2025-12-31", by="department")
        assert (attrition["value"], attrition["n"]) == (pytest.approx(100 / 3), 3)
        assert attrition["groups"] == [{"key": "labs", "value": 0.0, "n": 1}, {"key": "ops", "value": 50.0, "n": 2}]
        assert s.kpi("attrition")["n"] == 5
        empty = s.kpi("attrition", date_from="2010-01-01", date_to="2010-12-31")
        assert (empty["value"], empty["n"]) == (None, 0)
