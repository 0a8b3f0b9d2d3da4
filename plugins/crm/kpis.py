"""The crm plugin's Python KPIs: what the declarative form cannot say (ratios across two entity
types, per-customer aggregates, period logic). The declarative ones are in ``kpis.json``.

Every query is built from the :class:`xrm_core.KPIContext`: ``ctx.base()`` for the caller's
scope (and the period, where the KPI has one time field) and ``ctx.field()`` for data fields,
so a dealer's user only ever counts that dealer's records.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, case, distinct, func, or_, select, true

from xrm_core import KPI

from .automations import OPEN_STAGES

#: Case categories that stem from a service reception (complaints "of the after-sales service").
SERVICE_COMPLAINT_CATEGORIES = ["after_sales", "spare_parts", "warranty"]

#: Complaints the customer lodged, not cases that came from a survey: the voc plugin's closed
#: loop opens a follow-up complaint for each detractor's answer (channel survey, naming the
#: response). Those measure survey coverage, not complaints, and would count the same
#: dissatisfaction twice (in NPS and here).
LODGED = {"channel": {"ne": "survey"}, "survey_response_id": {"exists": False}}
LODGED_TEXT = "not from a survey: channel ≠ survey and no survey_response_id"

#: Customer fields whose presence makes a profile complete (name is required, so not counted).
PROFILE_FIELDS = ["mobile", "email", "national_id", "birth_date", "gender", "address.city",
                  "preferred_channel", "consent_marketing"]


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


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
                   f"and category in {', '.join(SERVICE_COMPLAINT_CATEGORIES)} opened in the period "
                   f"({LODGED_TEXT}) / "
                   "service_visit records (status ≠ cancelled) received in the period. Needs the "
                   "prm_dealers plugin's service_visit type; without it the value is empty. "
                   "Group --by a field both types have (dealer_code).")

    def compute(self, ctx):
        if "service_visit" not in ctx.session.entity_types_map():
            return {"value": None, "n": 0, "groups": []}
        complaints = {"kind": "complaint", "category": {"in": SERVICE_COMPLAINT_CATEGORIES}, **LODGED}
        return ctx.ratio(("case", func.count(), complaints, "opened_at"),
                         ("service_visit", func.count(), {"status": {"ne": "cancelled"}}, "received_at"), 100.0)


class SalesComplaintsPer100Sold(KPI):
    name = "sales_complaints_per_100_sold"
    label = {"en": "Sales complaints per 100 vehicles sold", "fa": "شکایات فروش به ازای هر ۱۰۰ خودروی فروخته‌شده",
             "zh": "每百辆售出车辆的销售投诉数"}
    unit = "per 100 vehicles sold"
    higher_is_better = False
    entity = "case"
    time_field = "opened_at"
    description = ("Sales complaints per 100 vehicles sold: 100 × cases with kind = complaint and category = "
                   f"sales opened in the period ({LODGED_TEXT}) / sale contracts (kind = sale, status ≠ "
                   "cancelled) signed in the period — one sale contract per vehicle sold. n is the number of sales. Group --by a field both types have (dealer_code).")

    def compute(self, ctx):
        complaints = {"kind": "complaint", "category": "sales", **LODGED}
        return ctx.ratio(("case", func.count(), complaints, "opened_at"),
                         ("contract", func.count(), {"kind": "sale", "status": {"ne": "cancelled"}}, "signed_at"),
                         100.0)


class QualityComplaintsPer100Produced(KPI):
    name = "quality_complaints_per_100_produced"
    label = {"en": "Quality complaints per 100 vehicles produced",
             "fa": "شکایات کیفی به ازای هر ۱۰۰ خودروی تولیدشده", "zh": "每百辆生产车辆的质量投诉数"}
    unit = "per 100 vehicles produced"
    higher_is_better = False
    entity = "case"
    time_field = "opened_at"
    description = ("Product-quality complaints per 100 vehicles produced: 100 × cases with kind = complaint and "
                   f"category = product_quality opened in the period ({LODGED_TEXT}) / vehicles with a "
                   "production_date in the period. n is the number of vehicles. A manufacturer's figure: "
                   "vehicles are readable network-wide, so a dealer's user divides its own complaints by the "
                   "whole production. Group --by a field both types have (dealer_code, vin).")

    def compute(self, ctx):
        quality = {"kind": "complaint", "category": "product_quality", **LODGED}
        return ctx.ratio(("case", func.count(), quality, "opened_at"),
                         ("vehicle", func.count(), {"production_date": {"exists": True}}, "production_date"),
                         100.0)


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
                   "Grouped --by a contract field (e.g. dealer_code), purchases count within the group; "
                   "the overall value still counts each buyer once, over all the buyer's purchases.")

    def compute(self, ctx):
        cust = ctx.field("contract", "customer_id")
        signed = ctx.bytewise(ctx.field("contract", "signed_at"))
        in_period = ctx.period("contract", "signed_at")
        up_to_end = signed < _day_after(ctx.date_to) if ctx.date_to else true()
        sales = ctx.all_time().base("contract", {"kind": "sale", "status": {"ne": "cancelled"}})

        def per_buyer(key):
            """One row per buyer (and group ``k``): purchases in the period ``p``, up to its end ``u``."""
            cols = [key.label("k")] if key is not None else []
            return (select(*cols, cust.label("c"), func.sum(case((in_period, 1), else_=0)).label("p"),
                           func.sum(case((up_to_end, 1), else_=0)).label("u"))
                    .where(sales, cust.isnot(None))
                    .group_by(*([key] if key is not None else []), cust).subquery())

        def value_and_n(inner):
            buyers = func.sum(case((inner.c.p >= 1, 1), else_=0))
            repeaters = func.sum(case((and_(inner.c.p >= 1, inner.c.u >= 2), 1), else_=0))
            return 100.0 * repeaters / func.nullif(buyers, 0), func.coalesce(buyers, 0)

        # The overall figure counts each buyer once, whatever the grouping: a customer who bought
        # at two dealers is a repeat buyer of the network, though of neither dealer.
        value, n = ctx.execute(select(*value_and_n(per_buyer(None)))).first()
        result = {"value": None if value is None else float(value), "n": n or 0, "groups": []}
        key = ctx.group_key("contract")
        if key is not None:
            grouped = per_buyer(key)
            result["groups"] = ctx.summarise(grouped, *value_and_n(grouped))["groups"]
        return result


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
        since = ctx.bytewise(ctx.field("customer", "customer_since"))
        churned = ctx.bytewise(ctx.field("customer", "churned_at"))
        start, end = ctx.date_from, _day_after(ctx.date_to) if ctx.date_to else None
        if start:
            in_base = and_(or_(since.is_(None), since < start), or_(churned.is_(None), churned >= start))
            lost = churned >= start
        else:
            in_base = or_(since.is_(None), since < end) if end else true()
            lost = churned.isnot(None)
        if end:
            lost = and_(lost, churned < end)
        # The base reaches before the period: customers acquired earlier are the population.
        return ctx.all_time().share("customer", in_base, lost)


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
        return ctx.measure("customer", func.avg(per_customer), func.count(), time_field="customer_since")


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
        (total, n), groups = ctx.aggregate("contract", func.sum(amount), func.count(distinct(cust)),
                                           where={"status": {"ne": "cancelled"}}, time_field="signed_at")

        def value(s, c):
            return float(s or 0) / c if c else None

        return {"value": value(total, n), "n": n,
                "groups": [{"key": k, "value": value(*g), "n": g[1]} for k, g in groups.items()]}


class SalesForecast(KPI):
    name = "sales_forecast"
    label = {"en": "Sales forecast", "fa": "پیش‌بینی فروش", "zh": "销售预测"}
    unit = "amount"
    entity = "opportunity"
    time_field = "expected_close"
    description = ("Expected sales from the open pipeline, by stage conversion: Σ amount × P(won | stage) "
                   "over open opportunities (prospecting, test_drive, quotation, negotiation) expected to "
                   "close in the period. P(won | stage) = won / (won + lost at that stage or a later one), "
                   "from every closed opportunity the caller sees (a lost one counts once its lost_stage "
                   "is known: the crm automations keep it when an opportunity is lost). n = the open "
                   "opportunities counted; a stage no closed opportunity reached leaves its own out. "
                   "Amounts are summed as written (one currency per deployment).")

    def compute(self, ctx):
        stage = ctx.field("opportunity", "stage")
        lost_stage = ctx.field("opportunity", "lost_stage")
        closed = ctx.all_time().base("opportunity", {"stage": {"in": ["won", "lost"]}})
        counts = ctx.execute(select(stage, lost_stage, func.count()).where(closed).group_by(stage, lost_stage))
        won, lost_at = 0, {}
        for s, at, n in counts:
            if s == "won":
                won += n
            elif at in OPEN_STAGES:
                lost_at[at] = lost_at.get(at, 0) + n
        weights = {}
        for i, s in enumerate(OPEN_STAGES):
            reached = won + sum(lost_at.get(t, 0) for t in OPEN_STAGES[i:])
            if reached:
                weights[s] = won / reached
        if not weights:
            return {"value": None, "n": 0, "groups": []}
        weight = case(*((stage == s, w) for s, w in weights.items()), else_=None)
        amount = ctx.field("opportunity", "amount.amount")
        key = ctx.group_key("opportunity")
        rows = (select(*([key.label("k")] if key is not None else []), (amount * weight).label("x"))
                .where(ctx.base("opportunity", {"stage": {"in": list(weights)}}), amount.isnot(None))
                .subquery())
        return ctx.summarise(rows, func.sum(rows.c.x), func.count())


KPI_CLASSES = (ComplaintsPer100Receptions, SalesComplaintsPer100Sold, QualityComplaintsPer100Produced,
               RepeatPurchaseRate, ChurnRate, ProfileCompleteness,
               CustomerLifetimeValue, SalesForecast)
