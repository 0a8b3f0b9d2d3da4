"""The prm_dealers plugin's Python KPIs (the declarative ones are in ``kpis.json``).

Every query is built from the :class:`xrm_core.KPIContext` (``ctx.base()``, ``ctx.field()``,
``ctx.period()``) so the caller's scope and period apply: a dealer's user sees the dealer's
own figures, HQ the network's.
"""
from __future__ import annotations

from sqlalchemy import TIMESTAMP, and_, case, cast, extract, func, literal, select, union_all

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
    description = ("Target achievement: 100 × units sold / target units over the dealer months in the period. "
                   "For each dealer and month, on each side, the all-model record (no model) is the figure when "
                   "there is one, and its per-model records are a breakdown of it (not added again); without "
                   "one, the per-model records add up. n is the number of targets counted. Group --by "
                   "dealer_code, or --by model for the per-model breakdown (the all-model records under no model).")

    def compute(self, ctx):
        key = ctx.group_key("sales_target")
        overall = union_all(_dealer_months(ctx, "sales_report", "units_sold", None),
                            _dealer_months(ctx, "sales_target", "target_units", None)).subquery()
        value, n = ctx.execute(select(*_achievement(overall))).first()
        result = {"value": None if value is None else float(value), "n": n or 0, "groups": []}
        if key is not None:
            grouped = union_all(_dealer_months(ctx, "sales_report", "units_sold", ctx.group_key("sales_report")),
                                _dealer_months(ctx, "sales_target", "target_units", key)).subquery()
            result["groups"] = ctx.summarise(grouped, *_achievement(grouped))["groups"]
        return result


def _dealer_months(ctx, entity: str, amount_field: str, key):
    """SQL: one row per dealer, month (and group ``k``) of ``entity`` in the caller's scope and
    the period: ``side`` (the entity's name), ``amount`` and ``records`` — the all-model
    record's when the dealer month has one, else the sum (and number) of its per-model ones."""
    whole = ctx.field(entity, "model").is_(None)
    amount = ctx.field(entity, amount_field)
    whole_n = func.sum(case((whole, 1), else_=0))
    has_whole = whole_n > 0
    cols = [key.label("k")] if key is not None else []
    return (select(*cols, literal(entity).label("side"),
                   case((has_whole, func.sum(case((whole, amount), else_=0))),
                        else_=func.sum(case((whole, 0), else_=amount))).label("amount"),
                   case((has_whole, whole_n), else_=func.count() - whole_n).label("records"))
            .where(ctx.base(entity, None, "month"))
            .group_by(*([key] if key is not None else []), ctx.field(entity, "dealer_code"),
                      ctx.field(entity, "month")))


def _achievement(rows):
    """SQL ``(value, n)`` over :func:`_dealer_months` rows of both sides: 100 × sold / target,
    and the number of targets."""
    def total(side, column):
        return func.sum(case((rows.c.side == side, column), else_=0))
    target = total("sales_target", rows.c.amount)
    return (100.0 * total("sales_report", rows.c.amount) / func.nullif(target, 0),
            func.coalesce(total("sales_target", rows.c.records), 0))


KPI_CLASSES = (RepeatRepairRate, SalesVsTarget)
