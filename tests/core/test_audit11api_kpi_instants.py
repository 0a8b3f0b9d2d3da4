"""Audit 11 (plugin): a freight forwarder's on-time delivery KPI, written in Python as
docs/plugins.md shows, compares two date-time fields of a shipment written in several time
zones. ``ctx.field`` reads them as the text stored, so ``delivered_at <= delivery_due_at``
compared texts: a delivery at 23:30+07:00 (16:30 UTC) for a slot due at 18:00+01:00 (17:00
UTC) counted as late, one at 20:30-04:00 for 00:00Z the next day as on time. The KPI read 50 %
where the truth is 75 %, with no error. ``ctx.instant(entity, path)`` is the field as the
instant it names, comparable on both engines.

The same integrator's KPI grouped by something that is no JSON value (an object of its own):
the answer failed in the JSON encoder, a bare 500 naming no plugin. The result's shape check
now refuses such a key, as the plugin's failure.
"""
from __future__ import annotations

import types

import pytest
from sqlalchemy import case, func

from xrm_core import KPI, PluginError, ValidationError, hookimpl

SHIPMENT = {"name": "a11_consignment", "title_field": "reference",
            "schema": {"type": "object", "required": ["reference", "due_at"],
                       "properties": {"reference": {"type": "string"},
                                      "due_at": {"type": "string", "format": "date-time"},
                                      "delivered_at": {"type": "string", "format": "date-time"}}}}

#: (reference, due, delivered, on time?) — offsets of the depots that wrote them.
ROWS = [("HAM-1", "2026-03-03T18:00:00+01:00", "2026-03-03T23:30:00+07:00", True),    # 16:30Z ≤ 17:00Z
        ("HAM-2", "2026-03-04T12:00:00Z", "2026-03-04T13:00:00+02:00", True),          # 11:00Z ≤ 12:00Z
        ("NYC-1", "2026-03-07T00:00:00Z", "2026-03-06T20:30:00-04:00", False),         # 00:30Z > 00:00Z
        ("SHA-1", "2026-03-10T09:00:00+08:00", "2026-03-10T01:00:00Z", True)]          # the same instant


class OnTime(KPI):
    name = "a11_on_time"
    label = "On-time delivery"
    unit = "percent"
    entity = "a11_consignment"
    time_field = "due_at"

    def compute(self, ctx):
        due, done = ctx.instant("a11_consignment", "due_at"), ctx.instant("a11_consignment", "delivered_at")
        return ctx.measure("a11_consignment", 100.0 * func.avg(case((done <= due, 1.0), else_=0.0)), func.count(),
                           where={"delivered_at": {"exists": True}})


class Wrong(KPI):
    name = "a11_wrong_field"
    label = "Instant of a text field"
    unit = "count"
    entity = "a11_consignment"

    def compute(self, ctx):
        return ctx.measure("a11_consignment", func.count(ctx.instant("a11_consignment", "reference")), func.count())


@pytest.fixture
def platform(make_platform):
    m = types.ModuleType("a11_freight_kpis")
    m.xrm_entity_types = hookimpl(lambda: [SHIPMENT])
    m.xrm_kpis = hookimpl(lambda: [OnTime(), Wrong()])
    p = make_platform(m)
    with p.session("admin") as s:
        s.create_many("a11_consignment", [{"reference": r, "due_at": due, "delivered_at": done} for r, due, done, _ in ROWS])
        s.create("a11_consignment", {"reference": "OPEN", "due_at": "2026-03-09T00:00:00Z"})
    return p


def test_on_time_compares_instants_whatever_the_offsets(platform):
    with platform.session("admin", write=False) as s:
        result = s.kpi("a11_on_time", "2026-03-01", "2026-03-31")
    assert (result["value"], result["n"]) == (75, 4)
    assert sum(on_time for *_, on_time in ROWS) * 100 / len(ROWS) == 75


def test_the_instant_of_a_field_of_no_date_time_format_is_refused_naming_it(platform):
    with platform.session("admin", write=False) as s:
        with pytest.raises(ValidationError, match="'reference' of a11_consignment is not a date-time field") as e:
            s.kpi("a11_wrong_field")
    assert e.value.errors == [{"pointer": "/reference", "message": "not a date-time field"}]
    assert not isinstance(e.value, PluginError)


class OddKey(KPI):
    """A Python KPI whose group key is no JSON value (the integrator's bug)."""
    name = "a11_odd_key"
    label = "Odd key"
    unit = "count"
    entity = "a11_consignment"

    def compute(self, ctx):
        return {"value": 1, "n": 1, "groups": [{"key": object(), "value": 1, "n": 1}]}


def test_a_group_key_that_is_no_json_value_is_the_plugins_failure(make_platform):
    """It reached the JSON encoder: a bare 500 ("the server failed") naming no plugin."""
    m = types.ModuleType("a11_odd")
    m.xrm_entity_types = hookimpl(lambda: [SHIPMENT])
    m.xrm_kpis = hookimpl(lambda: [OddKey()])
    with make_platform(m).session("admin", write=False) as s:
        with pytest.raises(PluginError, match="plugin 'a11_odd' failed in KPI 'a11_odd_key' compute.*groups\\[0\\]'s key"):
            s.kpi("a11_odd_key")
