"""The crm plugin's Python KPIs: what the declarative form cannot say (ratios across two entity
types, per-customer aggregates, period logic). The declarative ones are in ``kpis.json``.

Every query is built from the :class:`xrm_core.KPIContext`: ``ctx.base()`` for the caller's
scope (and the period, where the KPI has one time field) and ``ctx.field()`` for data fields,
so a dealer's user only ever counts that dealer's records.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, case, distinct, func, or_, select, true

from xrm_core import KPI, KPIContext

#: Case categories that stem from a service reception (complaints "of the after-sales service").
SERVICE_COMPLAINT_CATEGORIES = ["after_sales", "spare_parts", "warranty"]

#: Customer fields whose presence makes a profile complete (name is required, so not counted).
PROFILE_FIELDS = ["mobile", "email", "national_id", "birth_date", "gender", "address.city",
                  "preferred_channel", "consent_marketing"]


# -- helpers (each plugin keeps its own: plugins never import each other) ------------------
def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _text(ctx, expr):
    """A string field compared byte-wise, as ISO dates need, on both engines."""
    return expr.collate("C") if ctx.dialect == "postgresql" else expr


def _whole_history(ctx):
    """A context like ``ctx`` whose ``base()`` adds no period unless asked: ``ctx.base()``
    limits the KPI's own entity to the period by default, but look-backs (an earlier
    purchase, the customers at the start of the period) need the records before it too."""
    return KPIContext(ctx.session, None, ctx.date_from, ctx.date_to, ctx.by)


def _float(v):
    return None if v is None else float(v)


def _sort_keys(keys):
    return sorted(keys, key=lambda k: (k is None, str(k)))


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


def _ratio(ctx, numerator: tuple, denominator: tuple, scale: float) -> dict:
    """``scale × Σnum / Σden`` where each side is ``(entity, where, time_field, aggregate)``;
    ``n`` is the number of denominator records. Groups pair up by the ``--by`` key, which
    must be a field of both entity types."""
    (num,), num_groups = _aggregate(ctx, numerator[0], numerator[1], numerator[2], numerator[3])
    (den, n), den_groups = _aggregate(ctx, denominator[0], denominator[1], denominator[2],
                                      denominator[3], func.count())

    def value(a, b):
        return scale * _float(a or 0) / _float(b) if b else None

    groups = []
    for k in _sort_keys(set(num_groups) | set(den_groups)):
        d, dn = den_groups.get(k, (None, 0))
        groups.append({"key": k, "value": value(num_groups.get(k, (0,))[0], d), "n": dn})
    return {"value": value(num, den), "n": n, "groups": groups}


def _grouped_subquery_result(ctx, inner, value_of, n_of) -> dict:
    """Overall and per-key results from ``inner`` (a subquery with an optional ``k`` column)."""
    total = ctx.execute(select(value_of(inner), n_of(inner))).first()
    groups = []
    if ctx.by:
        for k, v, n in ctx.execute(select(inner.c.k, value_of(inner), n_of(inner))
                                   .group_by(inner.c.k).order_by(inner.c.k)):
            groups.append({"key": k, "value": _float(v), "n": n})
    return {"value": _float(total[0]), "n": total[1] or 0, "groups": groups}


# -- KPIs -------------------------------------------------------------------------------
class ComplaintsPer100Receptions(KPI):
    name = "complaints_per_100_receptions"
    label = {"en": "Service complaints per 100 receptions", "fa": "شکایات خدمات به ازای هر ۱۰۰ پذیرش",
             "zh": "每百次维修接待投诉数"}
    unit = "per 100 receptions"
    higher_is_better = False
    entity = "case"
    time_field = "opened_at"
    description = ("After-sales complaints per 100 service receptions: 100 × cases with kind = complaint "
                   f"and category in {', '.join(SERVICE_COMPLAINT_CATEGORIES)} opened in the period / "
                   "service_visit records (status ≠ cancelled) received in the period. Needs the "
                   "prm_dealers plugin's service_visit type; without it the value is empty. "
                   "Group --by a field both types have (dealer_code).")

    def compute(self, ctx):
        if "service_visit" not in ctx.session.entity_types_map():
            return {"value": None, "n": 0, "groups": []}
        complaints = {"kind": "complaint", "category": {"in": SERVICE_COMPLAINT_CATEGORIES}}
        return _ratio(ctx, ("case", complaints, "opened_at", func.count()),
                      ("service_visit", {"status": {"ne": "cancelled"}}, "received_at", func.count()), 100.0)


class RepeatPurchaseRate(KPI):
    name = "repeat_purchase_rate"
    label = {"en": "Repeat purchase rate", "fa": "نرخ تکرار خرید", "zh": "重复购买率"}
    unit = "percent"
    entity = "contract"
    time_field = "signed_at"
    description = ("Percent of the period's buyers who bought more than once: buyers = customers with a "
                   "sale contract (kind = sale, status ≠ cancelled) signed in the period; repeat buyers = "
                   "those with at least two such contracts signed up to the end of the period (the earlier "
                   "one may predate it). Without a period: customers with ≥ 2 purchases / customers with ≥ 1. "
                   "Grouped --by a contract field (e.g. dealer_code), purchases count within the group.")

    def compute(self, ctx):
        cust = ctx.field("contract", "customer_id")
        signed = _text(ctx, ctx.field("contract", "signed_at"))
        in_period = ctx.period("contract", "signed_at")
        up_to_end = signed < _day_after(ctx.date_to) if ctx.date_to else true()
        key = ctx.group_key("contract")
        cols = [key.label("k")] if key is not None else []
        inner = (select(*cols, cust.label("c"),
                        func.sum(case((in_period, 1), else_=0)).label("p"),
                        func.sum(case((up_to_end, 1), else_=0)).label("u"))
                 .where(_whole_history(ctx).base("contract", {"kind": "sale", "status": {"ne": "cancelled"}}),
                        cust.isnot(None))
                 .group_by(*([key] if key is not None else []), cust).subquery())
        buyers = lambda q: func.sum(case((q.c.p >= 1, 1), else_=0))  # noqa: E731
        repeaters = lambda q: func.sum(case((and_(q.c.p >= 1, q.c.u >= 2), 1), else_=0))  # noqa: E731
        return _grouped_subquery_result(
            ctx, inner, lambda q: 100.0 * repeaters(q) / func.nullif(buyers(q), 0), lambda q: func.coalesce(buyers(q), 0))


class ChurnRate(KPI):
    name = "churn_rate"
    label = {"en": "Churn rate", "fa": "نرخ ریزش مشتری", "zh": "客户流失率"}
    unit = "percent"
    higher_is_better = False
    entity = "customer"
    time_field = "churned_at"
    description = ("Percent of the customers at the start of the period who churned during it: "
                   "100 × customers with churned_at in [from, to] / customers with customer_since before "
                   "`from` (or unknown) and not churned before `from`. Customers acquired during the period "
                   "are not in the base. Without --from: customers churned (up to --to) / all customers "
                   "(up to --to).")

    def compute(self, ctx):
        since = _text(ctx, ctx.field("customer", "customer_since"))
        churned = _text(ctx, ctx.field("customer", "churned_at"))
        start, end = ctx.date_from, _day_after(ctx.date_to) if ctx.date_to else None
        if start:
            in_base = and_(or_(since.is_(None), since < start), or_(churned.is_(None), churned >= start))
            lost = churned >= start
        else:
            in_base = or_(since.is_(None), since < end) if end else true()
            lost = churned.isnot(None)
        if end:
            lost = and_(lost, churned < end)
        n = func.sum(case((in_base, 1), else_=0))
        value = 100.0 * func.sum(case((and_(in_base, lost), 1), else_=0)) / func.nullif(n, 0)
        (v, count), groups = _aggregate(_whole_history(ctx), "customer", None, None, value, func.coalesce(n, 0))
        return {"value": _float(v), "n": count,
                "groups": [{"key": k, "value": _float(g[0]), "n": g[1]} for k, g in groups.items()]}


class ProfileCompleteness(KPI):
    name = "profile_completeness"
    label = {"en": "Customer profile completeness", "fa": "میزان کامل بودن پروفایل مشتری", "zh": "客户资料完整度"}
    unit = "percent"
    entity = "customer"
    time_field = "customer_since"
    description = ("Average share of the key profile fields filled in, over customers (who became customers "
                   f"in the period, if one is given): avg(100 × filled / {len(PROFILE_FIELDS)}) with the "
                   f"fields {', '.join(PROFILE_FIELDS)}.")

    def compute(self, ctx):
        filled = sum(case((ctx.field("customer", f).isnot(None), 1), else_=0) for f in PROFILE_FIELDS)
        per_customer = 100.0 * filled / len(PROFILE_FIELDS)
        (v, n), groups = _aggregate(ctx, "customer", None, "customer_since", func.avg(per_customer), func.count())
        return {"value": _float(v), "n": n,
                "groups": [{"key": k, "value": _float(g[0]), "n": g[1]} for k, g in groups.items()]}


class CustomerLifetimeValue(KPI):
    name = "customer_lifetime_value"
    label = {"en": "Customer lifetime value", "fa": "ارزش طول عمر مشتری", "zh": "客户终身价值"}
    unit = "amount"
    entity = "contract"
    time_field = "signed_at"
    description = ("Historical customer lifetime value: the revenue a customer brought, averaged over "
                   "customers — Σ amount.amount of contracts (sales, service plans, extended warranties, "
                   "financing, insurance; status ≠ cancelled) signed in the period / number of distinct "
                   "customers with such contracts. Amounts are summed as stored: keep one currency.")

    def compute(self, ctx):
        amount = ctx.field("contract", "amount.amount")
        cust = ctx.field("contract", "customer_id")
        (total, n), groups = _aggregate(ctx, "contract", {"status": {"ne": "cancelled"}}, "signed_at",
                                        func.sum(amount), func.count(distinct(cust)))

        def value(s, c):
            return _float(s or 0) / c if c else None

        return {"value": value(total, n), "n": n,
                "groups": [{"key": k, "value": value(*g), "n": g[1]} for k, g in groups.items()]}


KPI_CLASSES = (ComplaintsPer100Receptions, RepeatPurchaseRate, ChurnRate, ProfileCompleteness,
               CustomerLifetimeValue)
