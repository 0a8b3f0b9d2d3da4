"""The prm_dealers plugin's Python KPIs (the declarative ones are in ``kpis.json``).

Every query is built from the :class:`xrm_core.KPIContext` (``ctx.base()``, ``ctx.field()``,
``ctx.period()``) so the caller's scope and period apply: a dealer's user sees the dealer's
own figures, HQ the network's.
"""
from __future__ import annotations

from sqlalchemy import TIMESTAMP, and_, case, cast, extract, func, select

from xrm_core import KPI

#: Visit types that are repairs of a fault (periodic services and recalls are not).
REPAIR_VISIT_TYPES = ["repair", "warranty_repair"]


def _instant(ctx, expr):
    """SQL: ISO timestamp ``expr`` as a comparable instant (its offset honoured) on both engines."""
    if ctx.dialect == "postgresql":
        return cast(expr, TIMESTAMP(timezone=True))
    return func.julianday(expr)


def _days_between(ctx, start, end):
    """SQL: days from ISO timestamp ``start`` to ``end`` (fractional)."""
    if ctx.dialect == "postgresql":
        return extract("epoch", _instant(ctx, end) - _instant(ctx, start)) / 86400.0
    return _instant(ctx, end) - _instant(ctx, start)


# -- KPIs -------------------------------------------------------------------------------
class RepeatRepairRate(KPI):
    name = "repeat_repair_rate"
    label = {"en": "Repeat repair rate", "fa": "درصد بازگشت خودرو برای رفع عیب تکراری", "zh": "返修率"}
    unit = "percent"
    higher_is_better = False
    entity = "service_visit"
    time_field = "received_at"
    #: A repair counts as a repeat when the same vehicle came in for the same fault this recently.
    window_days = 30
    description = ("Percent of repair receptions that are a comeback for the same fault: 100 × repair "
                   "visits (visit_type repair or warranty_repair, with a fault_code, status ≠ cancelled) "
                   "received in the period for which the same VIN had an earlier repair visit with the "
                   f"same fault_code at most {window_days} days before / those repair visits. The earlier "
                   "visit may predate the period; only visits the caller may read are compared.")

    def compute(self, ctx):
        vin = ctx.field("service_visit", "vin")
        fault = ctx.field("service_visit", "fault_code")
        at = ctx.field("service_visit", "received_at")
        key = ctx.group_key("service_visit")
        # In time order, not text order: 02:00+03:30 on 1 March comes before 23:00Z on 29 February.
        previous = func.lag(at).over(partition_by=[vin, fault], order_by=_instant(ctx, at))
        where = {"visit_type": {"in": REPAIR_VISIT_TYPES}, "fault_code": {"exists": True},
                 "status": {"ne": "cancelled"}}
        # The period filters the outer count only: the earlier visit may lie before it.
        inner = (select(*([key.label("k")] if key is not None else []), at.label("at"), previous.label("prev"),
                        case((ctx.period("service_visit", "received_at"), 1), else_=0).label("p"))
                 .where(ctx.all_time().base("service_visit", where)).subquery())
        repeat = and_(inner.c.p == 1, inner.c.prev.isnot(None),
                      _days_between(ctx, inner.c.prev, inner.c.at) <= self.window_days)
        n = func.coalesce(func.sum(inner.c.p), 0)
        value = 100.0 * func.sum(case((repeat, 1), else_=0)) / func.nullif(func.sum(inner.c.p), 0)
        return ctx.summarise(inner, value, n)


class SalesVsTarget(KPI):
    name = "sales_vs_target"
    label = {"en": "Sales vs target", "fa": "تحقق هدف فروش", "zh": "销售目标达成率"}
    unit = "percent"
    entity = "sales_target"
    time_field = "month"
    description = ("Target achievement: 100 × Σ units_sold of the sales reports / Σ target_units of the sales "
                   "targets, both for the months in the period; n is the number of targets. Group --by "
                   "dealer_code (or model, when targets are set per model).")

    def compute(self, ctx):
        return ctx.ratio(("sales_report", func.sum(ctx.field("sales_report", "units_sold")), None, "month"),
                         ("sales_target", func.sum(ctx.field("sales_target", "target_units")), None, "month"),
                         100.0)


KPI_CLASSES = (RepeatRepairRate, SalesVsTarget)
