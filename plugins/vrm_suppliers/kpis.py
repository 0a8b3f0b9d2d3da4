"""The vrm_suppliers plugin's Python KPIs (the declarative one is in ``kpis.json``).

Every query is built from the :class:`xrm_core.KPIContext` (``ctx.base()``, ``ctx.field()``)
so the caller's scope and period apply.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import TIMESTAMP, and_, case, cast, func, or_, select

from xrm_core import KPI


# -- helpers (each plugin keeps its own: plugins never import each other) ------------------
def _float(v):
    return None if v is None else float(v)


def _text(ctx, expr):
    """A string field compared byte-wise, as ISO dates need, on both engines."""
    return expr.collate("C") if ctx.dialect == "postgresql" else expr


def _instant(ctx, expr):
    """An ISO timestamp field as a comparable instant (time zones honoured) on both engines."""
    if ctx.dialect == "postgresql":
        return cast(expr, TIMESTAMP(timezone=True))
    return func.julianday(expr)


def _now(ctx):
    return func.now() if ctx.dialect == "postgresql" else func.julianday("now")


def _aggregate(ctx, entity: str, where: dict | None, time_field: str | None, *aggs):
    """Run ``aggs`` over the visible records of ``entity`` in the period: the overall row and,
    when the caller groups (``--by``), a row per group key."""
    base = ctx.base(entity, where, time_field)
    total = tuple(ctx.execute(select(*aggs).where(base)).first())
    groups = {}
    key = ctx.group_key(entity)
    if key is not None:
        for row in ctx.execute(select(key, *aggs).where(base).group_by(key).order_by(key)):
            groups[row[0]] = tuple(row[1:])
    return total, groups


def _share(ctx, entity: str, where: dict | None, time_field: str, counted, hit) -> dict:
    """100 × records matching ``hit`` / records matching ``counted`` (SQL conditions)."""
    n = func.sum(case((counted, 1), else_=0))
    value = 100.0 * func.sum(case((and_(counted, hit), 1), else_=0)) / func.nullif(n, 0)
    (v, count), groups = _aggregate(ctx, entity, where, time_field, value, func.coalesce(n, 0))
    return {"value": _float(v), "n": count,
            "groups": [{"key": k, "value": _float(g[0]), "n": g[1]} for k, g in groups.items()]}


# -- KPIs -------------------------------------------------------------------------------
class DefectPpm(KPI):
    name = "defect_ppm"
    label = {"en": "Defect rate (ppm)", "fa": "نرخ خرابی قطعات (ppm)", "zh": "零件不良率(ppm)"}
    unit = "ppm"
    higher_is_better = False
    entity = "defect_report"
    time_field = "detected_at"
    description = ("Defective parts per million delivered: 1,000,000 × Σ quantity of defect reports detected "
                   "in the period / Σ quantity of deliveries delivered in the period (delivered_date set, "
                   "status ≠ cancelled); n is the number of deliveries. Group --by supplier_code or "
                   "part_number.")

    def compute(self, ctx):
        (defects,), defect_groups = _aggregate(ctx, "defect_report", None, "detected_at",
                                               func.sum(ctx.field("defect_report", "quantity")))
        delivered = {"delivered_date": {"exists": True}, "status": {"ne": "cancelled"}}
        (received, n), received_groups = _aggregate(ctx, "delivery", delivered, "delivered_date",
                                                    func.sum(ctx.field("delivery", "quantity")), func.count())

        def value(d, r):
            return 1_000_000.0 * _float(d or 0) / _float(r) if r else None

        groups = []
        for k in sorted(set(defect_groups) | set(received_groups), key=lambda k: (k is None, str(k))):
            r, rn = received_groups.get(k, (None, 0))
            groups.append({"key": k, "value": value(defect_groups.get(k, (0,))[0], r), "n": rn})
        return {"value": value(defects, received), "n": n, "groups": groups}


class SlaCompliance(KPI):
    name = "sla_compliance"
    label = {"en": "Supplier SLA compliance", "fa": "پایبندی تأمین‌کننده به SLA", "zh": "供应商SLA达成率"}
    unit = "percent"
    entity = "defect_report"
    time_field = "detected_at"
    description = ("Percent of defect reports the supplier acknowledged within the agreed response time: "
                   "100 × reports with acknowledged_at ≤ response_due_at / reports detected in the period "
                   "that have a response_due_at and are either acknowledged or already past due (reports "
                   "still within their time are not counted yet).")

    def compute(self, ctx):
        ack = ctx.field("defect_report", "acknowledged_at")
        due = ctx.field("defect_report", "response_due_at")
        counted = and_(due.isnot(None), or_(ack.isnot(None), _instant(ctx, due) < _now(ctx)))
        on_time = and_(ack.isnot(None), _instant(ctx, ack) <= _instant(ctx, due))
        return _share(ctx, "defect_report", None, "detected_at", counted, on_time)


class OnTimeDelivery(KPI):
    name = "on_time_delivery"
    label = {"en": "On-time delivery", "fa": "تحویل به‌موقع", "zh": "准时交付率"}
    unit = "percent"
    entity = "delivery"
    time_field = "promised_date"
    description = ("Percent of deliveries due in the period that arrived on or before the promised date: "
                   "100 × deliveries with delivered_date ≤ promised_date / deliveries (status ≠ cancelled) "
                   "with promised_date in the period that are delivered or already overdue (not delivered "
                   "and promised before today).")

    def compute(self, ctx):
        delivered = _text(ctx, ctx.field("delivery", "delivered_date"))
        promised = _text(ctx, ctx.field("delivery", "promised_date"))
        counted = or_(delivered.isnot(None), promised < date.today().isoformat())
        on_time = and_(delivered.isnot(None), delivered <= promised)
        return _share(ctx, "delivery", {"status": {"ne": "cancelled"}}, "promised_date", counted, on_time)


KPI_CLASSES = (DefectPpm, SlaCompliance, OnTimeDelivery)
