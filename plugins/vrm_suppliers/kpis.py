"""The vrm_suppliers plugin's Python KPIs (the declarative one is in ``kpis.json``).

Every query is built from the :class:`xrm_core.KPIContext` (``ctx.base()``, ``ctx.field()``)
so the caller's scope and period apply.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import TIMESTAMP, and_, cast, func, or_

from xrm_core import KPI


def _instant(ctx, expr):
    """An ISO timestamp field as a comparable instant (time zones honoured) on both engines."""
    if ctx.dialect == "postgresql":
        return cast(expr, TIMESTAMP(timezone=True))
    return func.julianday(expr)


def _now(ctx):
    return func.now() if ctx.dialect == "postgresql" else func.julianday("now")


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
        delivered = {"delivered_date": {"exists": True}, "status": {"ne": "cancelled"}}
        return ctx.ratio(("defect_report", func.sum(ctx.field("defect_report", "quantity")), None, "detected_at"),
                         ("delivery", func.sum(ctx.field("delivery", "quantity")), delivered, "delivered_date"),
                         1_000_000.0)


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
        return ctx.share("defect_report", counted, on_time, time_field="detected_at")


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
        delivered = ctx.bytewise(ctx.field("delivery", "delivered_date"))
        promised = ctx.bytewise(ctx.field("delivery", "promised_date"))
        counted = or_(delivered.isnot(None), promised < date.today().isoformat())
        on_time = and_(delivered.isnot(None), delivered <= promised)
        return ctx.share("delivery", counted, on_time, {"status": {"ne": "cancelled"}}, "promised_date")


KPI_CLASSES = (DefectPpm, SlaCompliance, OnTimeDelivery)
