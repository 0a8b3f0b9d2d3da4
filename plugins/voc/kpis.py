"""The voc plugin's Python KPIs (the declarative NPS and CES are in ``kpis.json``), among
them the dealers' after-sales satisfaction.

Every query is built from the :class:`xrm_core.KPIContext` (``ctx.base()``, ``ctx.field()``)
so the caller's scope and period apply: a dealer's user sees the satisfaction of the dealer's
own customers.
"""
from __future__ import annotations

from sqlalchemy import func, select

from xrm_core import KPI

from .queries import csm_overall, csm_per_customer, csm_value

#: Answer scales (inclusive) of the scored question kinds other than NPS (0–10).
CSAT_SCALE = (1, 5)


def _float(v):
    return None if v is None else float(v)


def _normalised(expr, scale):
    """``expr`` on ``scale`` mapped linearly to 0–100."""
    low, high = scale
    return (expr - low) * (100.0 / (high - low))


class Csat(KPI):
    name = "csat"
    label = {"en": "Customer satisfaction (CSAT/CSI)", "fa": "شاخص رضایت مشتری (CSI)", "zh": "客户满意度(CSAT/CSI)"}
    unit = "score (0–100)"
    entity = "survey_response"
    time_field = "answered_at"
    description = ("Mean satisfaction on 0–100: avg((score − 1) / 4 × 100) over the CSAT answers "
                   "(1 very dissatisfied … 5 very satisfied) given in the period; 0 means everyone very "
                   "dissatisfied, 100 everyone very satisfied. Group --by touchpoint or dealer_code.")
    #: The survey responses averaged (a filter).
    answers = {"question_kind": "csat"}

    def compute(self, ctx):
        score = _normalised(ctx.field("survey_response", "score"), CSAT_SCALE)
        return ctx.measure("survey_response", func.avg(score), func.count(), self.answers, "answered_at")


class AfterSalesSatisfaction(Csat):
    """The dealers' after-sales satisfaction (AFS-CS of DESIGN §7): the CSI of :class:`Csat`
    over the after-sales touchpoint alone, to rank dealers ``--by dealer_code``. Its data is
    voc's (the survey responses, tied to a dealer by their ``dealer_code`` and filed in the
    dealer's unit), so voc declares it: prm_dealers would need voc installed to name the type."""

    name = "after_sales_satisfaction"
    label = {"en": "After-sales satisfaction (AFS-CS)", "fa": "رضایت مشتری از خدمات پس از فروش (AFS-CS)",
             "zh": "售后服务满意度(AFS-CS)"}
    description = ("Dealers' after-sales satisfaction on 0–100 (CSI): avg((score − 1) / 4 × 100) over the "
                   "CSAT answers (1 very dissatisfied … 5 very satisfied) with touchpoint after_sales given "
                   "in the period — the after_sales group of csat --by touchpoint. Rank dealers with --by "
                   "dealer_code (answers without a dealer_code are the group with no key); a dealer's user "
                   "sees the dealer's own answers only.")
    answers = {"question_kind": "csat", "touchpoint": "after_sales"}


class Csm(KPI):
    name = "csm"
    label = {"en": "Customer satisfaction measure (CSM)", "fa": "شاخص رضایت مشتری (CSM)", "zh": "客户满意度测评(CSM)"}
    unit = "score (0–100)"
    entity = "survey_response"
    time_field = "answered_at"
    description = ("The ten-step customer satisfaction measure over the CSM items answered in the period. "
                   "Each item answer has a performance score s (1–5) and the customer's importance w "
                   "(1–5). Per customer (customer_id, else submission_id): CSM_c = Σ w·s / Σ w; "
                   "normalised: (CSM_c − 1) / 4 × 100; overall CSM = mean of the normalised CSM_c. "
                   "n is the number of customers. Group --by touchpoint or dealer_code. `xrm voc csm` "
                   "shows the steps (item importance and performance, per-customer CSM); docs/voc-analytics.md.")

    def compute(self, ctx):
        v, n = csm_overall(ctx)
        groups = []
        key = ctx.group_key("survey_response")
        if key is not None:
            # A customer who answered in two groups counts in both (and once overall).
            per_group = csm_per_customer(ctx, [key])
            for k, gv, gn in ctx.execute(select(per_group.c.k0, csm_value(per_group), func.count())
                                         .group_by(per_group.c.k0).order_by(per_group.c.k0)):
                groups.append({"key": k, "value": _float(gv), "n": gn})
        return {"value": v, "n": n, "groups": groups}


KPI_CLASSES = (Csat, AfterSalesSatisfaction, Csm)
