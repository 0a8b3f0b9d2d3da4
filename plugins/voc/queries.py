"""The SQL of the VOC analytics: grouped, scoped queries built from an
:class:`xrm_core.KPIContext`, so the caller's read scope and the period apply exactly as in
the KPIs. Shared by the ``csm`` KPI and the ``xrm voc`` commands.
"""
from __future__ import annotations

from sqlalchemy import func, select

from xrm_core import KPIContext

from .csm import SCALE

CSM_WHERE = {"question_kind": "csm"}


def context(session, date_from=None, date_to=None, kpi=None) -> KPIContext:
    """A context for ad-hoc analytics (``kpi`` may be None)."""
    return KPIContext(session, kpi, date_from, date_to, None)


def kano_pair_counts(ctx: KPIContext, survey_code: str | None = None):
    """Rows ``(requirement_code, requirement, functional, dysfunctional, n)``: the visible Kano
    answers answered in the period, counted per requirement and answer pair."""
    f = lambda name: ctx.field("kano_answer", name)  # noqa: E731
    where = {"survey_code": survey_code} if survey_code else None
    time_field = "answered_at" if (ctx.date_from or ctx.date_to) else None
    q = (select(f("requirement_code"), func.max(f("requirement")), f("functional"), f("dysfunctional"),
                func.count())
         .where(ctx.base("kano_answer", where, time_field))
         .group_by(f("requirement_code"), f("functional"), f("dysfunctional"))
         .order_by(f("requirement_code")))
    return ctx.execute(q).all()


def csm_per_customer(ctx: KPIContext, keys=()):
    """Subquery, one row per customer (``customer_id``, else ``submission_id``) and ``keys``:
    ``who``, ``k0``… (the keys), ``sum_ws`` = Σ importance·score, ``sum_w`` = Σ importance,
    ``n`` items, ``c`` = ``sum_ws / sum_w`` (step 8). Items attributable to nobody are left out."""
    f = lambda name: ctx.field("survey_response", name)  # noqa: E731
    who = func.coalesce(f("customer_id"), f("submission_id"))
    sum_ws = func.sum(f("importance") * f("score"))
    sum_w = func.sum(f("importance"))
    return (select(who.label("who"), *[k.label(f"k{i}") for i, k in enumerate(keys)],
                   sum_ws.label("sum_ws"), sum_w.label("sum_w"), func.count().label("n"),
                   (sum_ws * 1.0 / sum_w).label("c"))
            .where(ctx.base("survey_response", CSM_WHERE, "answered_at"),
                   who.isnot(None), f("importance").isnot(None))
            .group_by(*keys, who).subquery())


def csm_value(per_customer):
    """Steps 9 and 10 in SQL over a :func:`csm_per_customer` subquery: the mean of
    ``(c − 1) / 4 × 100`` (as ``csm.normalise`` and ``csm.overall``)."""
    low, high = SCALE
    return func.avg((per_customer.c.c - low) * (100.0 / (high - low)))


def csm_overall(ctx: KPIContext) -> tuple[float | None, int]:
    """``(overall CSM, number of customers)`` over the visible CSM answers of the period."""
    per_customer = csm_per_customer(ctx)
    value, n = ctx.execute(select(csm_value(per_customer), func.count())).first()
    return (None if value is None else float(value)), n


def csm_items(ctx: KPIContext):
    """Rows ``(question_code, n, mean importance, mean score)`` over the visible CSM items
    answered in the period (steps 6 and 7 per item)."""
    f = lambda name: ctx.field("survey_response", name)  # noqa: E731
    q = (select(f("question_code"), func.count(), func.avg(f("importance") * 1.0), func.avg(f("score") * 1.0))
         .where(ctx.base("survey_response", CSM_WHERE, "answered_at"), f("importance").isnot(None))
         .group_by(f("question_code")).order_by(f("question_code")))
    return ctx.execute(q).all()
