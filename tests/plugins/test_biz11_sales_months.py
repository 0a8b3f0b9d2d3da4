"""One all-model sales target (and sales report) per dealer and month
(plugins/prm_dealers/sales_months.py): on create, update, import and ``create_many``, between
two transactions at once, and with duplicates stored before the rule. Runs on SQLite and,
with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import gc
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, kpi, net  # noqa: E402, F401

import xrm_crm  # noqa: E402
from xrm_prm_dealers import sales_months  # noqa: E402
import xrm_voc  # noqa: E402
import xrm_vrm_suppliers  # noqa: E402
from xrm_core import Conflict, Platform, ValidationError  # noqa: E402
from xrm_core.importer import import_file  # noqa: E402
from xrm_core.plugins import make_plugin_manager  # noqa: E402

MARCH = "2024-03-01"


def _target(units=10, dealer="D01", month=MARCH, **extra):
    return {"dealer_code": dealer, "month": month, "target_units": units, **extra}


def _count(p, type_name="sales_target", **where):
    with p.session(write=False) as s:
        return s.count(type_name, where)


@pytest.mark.parametrize("type_name, row", [
    ("sales_target", _target()),
    ("sales_report", {"dealer_code": "D01", "month": MARCH, "units_sold": 4}),
])
def test_a_second_all_model_record_for_a_dealer_and_month_is_refused(net, type_name, row):
    first, = add(net, type_name, [row], unit="D01")
    with pytest.raises(Conflict) as e:
        add(net, type_name, [row | {"dealer_code": "D01"}], unit="D01")
    assert e.value.status == 409
    assert f"an all-model {type_name} for dealer D01 and month {MARCH} already exists (record {first})" in str(e.value)
    assert e.value.extra == {"existing": first}
    assert [x["pointer"] for x in e.value.errors] == ["/data/dealer_code", "/data/month"]
    assert _count(net, type_name) == 1                                        # nothing changed
    # Per-model records, another month, another dealer: all fine beside it.
    add(net, type_name, [row | {"model": "X5"}, row | {"month": "2024-04-01"}, row | {"dealer_code": "D02"}],
        unit="D01")
    assert _count(net, type_name) == 4


def test_the_conflict_hides_a_record_outside_the_users_scope(net):
    add(net, "sales_target", [_target()], unit="D01")
    with pytest.raises(Conflict) as e:
        add(net, "sales_target", [_target()], user="mgr2")               # D02's manager cannot read D01's
    assert "(another record)" in str(e.value) and "existing" not in e.value.extra
    assert _count(net) == 1


def test_an_update_onto_an_all_model_key_is_refused(net):
    first, per_model, april = add(net, "sales_target", [_target(), _target(model="X5"), _target(month="2024-04-01")],
                                  unit="D01")
    with net.session() as s:
        with pytest.raises(Conflict, match=f"record {first}"):
            s.update(per_model, {"model": None})                         # removing the model
        with pytest.raises(Conflict, match=f"record {first}"):
            s.update(april, {"month": MARCH})                            # moving to a month that has one
        assert s.get(per_model).data["model"] == "X5" and s.get(per_model).version == 1
        assert s.get(april).data["month"] == "2024-04-01"
        # Changing anything else of the all-model target, or giving it a model, is fine.
        assert s.update(first, {"target_units": 12}).version == 2
        assert s.update(first, {"model": "X7"}).version == 3
        assert s.update(per_model, {"model": None}).data == _target()   # the key is free now


def _write(tmp_path, lines):
    path = tmp_path / "targets.csv"
    path.write_text("dealer_code,month,model,target_units\n" + "".join(line + "\n" for line in lines))
    return str(path)


def _refused_import(p, path, **kw):
    with p.session() as s:
        with pytest.raises(ValidationError) as e:
            import_file(s, "sales_target", path, **kw)
    return e.value.extra["report"]


def test_an_import_of_two_all_model_rows_for_one_dealer_and_month_is_refused(net, tmp_path):
    path = _write(tmp_path, [f"D01,{MARCH},,10", f"D01,{MARCH},X5,4", f"D02,{MARCH},,7", f"D01,{MARCH},,11"])
    report = _refused_import(net, path)
    assert (report["total"], report["imported"]) == (4, 0)
    assert [r["line"] for r in report["invalid"]] == [5]                 # the second all-model row of D01
    assert "already used by an earlier row of this import or transaction (record " in report["invalid"][0]["errors"][0]["message"]
    assert _count(net) == 0                                               # nothing changed
    with net.session() as s:                                              # --skip-invalid keeps the first
        report = import_file(s, "sales_target", path, skip_invalid=True)
    assert (report["imported"], [r["line"] for r in report["invalid"]]) == (3, [5])
    with net.session(write=False) as s:
        units = sorted(r.data["target_units"] for r in s.list("sales_target", {"dealer_code": "D01"}))
    assert units == [4, 10]


def test_an_import_row_clashing_with_a_stored_record_is_refused(net, tmp_path):
    stored, = add(net, "sales_target", [_target()], unit="D01")
    report = _refused_import(net, _write(tmp_path, [f"D02,{MARCH},,7", f"D01,{MARCH},,11"]))
    assert [r["line"] for r in report["invalid"]] == [3]
    assert [e["pointer"] for e in report["invalid"][0]["errors"]] == ["/dealer_code", "/month"]
    assert f"is already used by record {stored}" in report["invalid"][0]["errors"][0]["message"]
    assert _count(net) == 1


def test_create_many_refuses_two_all_model_rows(net):
    with pytest.raises(ValidationError, match="1 sales_target row is invalid") as e:
        with net.session() as s:
            s.create_many("sales_target", [_target(), _target(model="X5"), _target(units=3)], unit="D01")
    assert {x["pointer"] for x in e.value.errors} == {"/rows/2/dealer_code", "/rows/2/month"}
    assert _count(net) == 0


def test_two_transactions_at_once_do_not_both_store_one(net):
    """The second transaction waits for the first (PostgreSQL: an advisory lock; SQLite: one
    writer at a time), then finds its record and is refused."""
    outcome = {}

    def second():
        try:
            add(net, "sales_target", [_target(units=11)], unit="D01")
            outcome["second"] = "stored"
        except Conflict as e:
            outcome["second"] = e

    with net.session() as s:
        first = s.create("sales_target", _target(), unit="D01").id
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()                                          # waiting for the first
    thread.join(30)
    assert isinstance(outcome["second"], Conflict) and first in str(outcome["second"])
    assert _count(net) == 1


def test_duplicates_stored_before_the_rule_survive_init_and_can_be_fixed(net):
    without = Platform(net.url, pm=make_plugin_manager(load_entry_points=False,
                                                       plugins=(xrm_crm, xrm_vrm_suppliers, xrm_voc)))
    try:
        with without.session() as s:                                      # no prm_dealers hook: no check
            a = s.create("sales_target", _target(), unit="D01").id
            b = s.create("sales_target", _target(units=20), unit="D01").id
    finally:
        without.dispose()
    net.init()                                                            # does not fail on them
    assert kpi(net, "sales_vs_target", date_from=MARCH, date_to="2024-03-31")["n"] == 2  # both still count
    with net.session() as s:
        assert s.update(a, {"target_units": 9}).version == 2              # the key untouched: allowed
        assert s.update(b, {"month": "2024-04-01"}).version == 2          # moved away: fixed
        with pytest.raises(Conflict, match=f"record {a}"):
            s.update(b, {"month": MARCH})                                 # and not back again
        assert s.update(b, {"month": MARCH, "model": "X5"}).version == 3  # with a model it may


def test_a_refused_row_does_not_hide_a_stored_record(net):
    """A row refused after its before_create hooks (invalid) is never stored: it must not
    count as the batch's own row and let a second all-model record through."""
    with net.session() as s:
        first = s.create("sales_target", _target(), unit="D01").id
        with pytest.raises(ValidationError):
            s.create("sales_target", _target(units=-1), unit="D01")
        with pytest.raises(Conflict, match=f"record {first}"):
            s.create("sales_target", _target(units=2), unit="D01")
    assert _count(net) == 1


def test_nothing_is_kept_once_the_transaction_ends(net):
    """The per-transaction state is keyed by the connection, weakly: nothing in it may keep
    the connection (or a session holding it) alive after the transaction."""
    add(net, "sales_target", [_target()], unit="D01")
    gc.collect()
    assert (len(sales_months._state), len(sales_months._systems)) == (0, 0)
