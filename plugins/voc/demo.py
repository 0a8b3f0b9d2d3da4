"""This plugin's part of the automotive demo data set (`xrm demo`): a survey per touchpoint,
24 months of scored answers (NPS, CSAT, CES and weighted CSM items) from the customers crm
created, free feedback and Kano answers.

Runs last (``trylast``): it reads the customers and vehicles through the session (plugins
never import each other) and files each answer in the unit of the customer's dealer, so a
dealer's users see their own customers' voice. Detractor answers flow through the record
hooks like any other (the closed-loop automation opens their follow-up cases).

Scores are drawn so that the network lands where real ones do (NPS about +20, CSAT about
75 of 100), with better and worse dealers and a slow improvement over the two years.
Deterministic: a seeded ``random.Random`` and the fixed base date below; the size scales
with ``session.scale`` (``xrm demo --scale``), default 1.
"""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

from xrm_core import hookimpl

#: The day the demo data ends (exclusive): 24 months of history before it.
BASE = date(2026, 11, 1)
START = date(2024, 11, 1)
TZ = timezone(timedelta(hours=3, minutes=30))

#: touchpoint -> (survey code, name, answers per month at scale 1, NPS mood shift)
TOUCHPOINTS = {
    "pre_purchase": ("SRV-PRE", {"en": "Showroom and test drive", "fa": "نظرسنجی پیش از خرید", "zh": "购车前调查"}, 25, 0.05),
    "purchase": ("SRV-BUY", {"en": "Purchase and delivery", "fa": "نظرسنجی خرید و تحویل", "zh": "购车与交车调查"}, 35, 0.03),
    "after_sales": ("SRV-AS", {"en": "After-sales service", "fa": "نظرسنجی خدمات پس از فروش", "zh": "售后服务调查"}, 90, -0.03),
}
#: CSM items of the after-sales survey: (code, label)
CSM_ITEMS = [("CSM_QUALITY", {"en": "Repair quality", "fa": "کیفیت تعمیر", "zh": "维修质量"}),
             ("CSM_TIME", {"en": "On-time delivery of the car", "fa": "تحویل به‌موقع خودرو", "zh": "按时交车"}),
             ("CSM_PRICE", {"en": "Fair price", "fa": "منصفانه بودن هزینه", "zh": "价格合理"}),
             ("CSM_STAFF", {"en": "Courtesy of the staff", "fa": "برخورد کارکنان", "zh": "员工礼貌"})]
#: Kano requirements with the answer pair they mostly get (functional, dysfunctional).
KANO = [("REQ-ABS", "ترمز ABS", ("must_be", "dislike")), ("REQ-FUEL", "Low fuel consumption", ("like", "dislike")),
        ("REQ-CARPLAY", "اتصال Apple CarPlay / Android Auto", ("like", "neutral")),
        ("REQ-AMBIENT", "Ambient interior lighting", ("neutral", "neutral")),
        ("REQ-APP", "اپلیکیشن نوبت‌دهی سرویس", ("like", "live_with")),
        ("REQ-WARRANTY", "Five-year warranty", ("like", "dislike"))]
KANO_ANSWERS = ["like", "must_be", "neutral", "live_with", "dislike"]
COMMENTS = {"promoter": ["عالی بود، ممنون", "Very professional service", "پذیرش سریع و دقیق", "服务很好"],
            "passive": ["بد نبود", "OK, but the waiting time was long", "قیمت کمی بالا بود"],
            "detractor": ["ماشین دو بار برگشت", "Nobody called me back", "هزینه بیشتر از برآورد شد", "等待时间太长"]}
FEEDBACK = [("service", "negative", "زمان انتظار در پذیرش طولانی است"), ("product", "positive", "Tara hybrid is very quiet"),
            ("price", "negative", "قیمت قطعات یدکی بالاست"), ("dealer", "positive", "کارشناس فروش بسیار مودب بود"),
            ("spare_parts", "negative", "Parts had to be ordered, two weeks wait"), ("sales", "neutral", "شرایط اقساط روشن نبود"),
            ("product", "negative", "صدای باد در سرعت بالا"), ("service", "positive", "The app booking works well")]



def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _months():
    d = START
    while d < BASE:
        yield d
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@hookimpl(trylast=True)
def xrm_demo_data(session):
    """Load the voc part of the demo data set through ``session``."""
    rng = random.Random("xrm-demo:voc")
    scale = session.scale
    types = session.entity_types_map()
    hq = "hq" if "hq" in session.unit_names().values() else None
    customers = [c for c in session.list("customer", limit=10**9, sort=["national_id"])] if "customer" in types else []
    vins = defaultdict(list)
    if "vehicle" in types:
        for v in session.list("vehicle", limit=10**9, sort=["vin"]):
            if v.data.get("customer_id"):
                vins[v.data["customer_id"]].append(v.data["vin"])
    _surveys(session, hq)
    mood = {}  # a dealer's lasting shift in satisfaction: some are better than others
    for code in sorted({c.data.get("dealer_code") for c in customers}, key=str):
        mood[code] = rng.uniform(-0.08, 0.08)
    _responses(session, rng, scale, hq, customers, vins, mood)
    _feedback(session, rng, scale, hq, customers)
    _kano(session, rng, scale, hq)


def _surveys(session, hq) -> None:
    rows = []
    for touchpoint, (code, name, _, _) in TOUCHPOINTS.items():
        questions = [{"code": "Q_NPS", "kind": "nps", "text": {"en": "How likely are you to recommend us to a friend?",
                                                               "fa": "چقدر احتمال دارد ما را به دوستان خود پیشنهاد کنید؟",
                                                               "zh": "您向朋友推荐我们的可能性有多大？"}},
                     {"code": "Q_CSAT", "kind": "csat", "text": {"en": "How satisfied are you overall?",
                                                                 "fa": "در مجموع چقدر راضی هستید؟", "zh": "总体满意度如何？"}},
                     {"code": "Q_CES", "kind": "ces", "text": {"en": "It was easy to get what I needed.",
                                                               "fa": "انجام کارم آسان بود.", "zh": "办理过程很轻松。"}}]
        if touchpoint == "after_sales":
            questions += [{"code": c, "kind": "csm", "text": label, "weight": 1} for c, label in CSM_ITEMS]
        rows.append({"code": code, "name": name["fa"], "touchpoint": touchpoint, "channel": "sms", "status": "active",
                     "start_date": START.isoformat(), "questions": questions})
    session.create_many("survey", rows, unit=hq)


def _responses(session, rng, scale, hq, customers, vins, mood) -> None:
    """One submission = an NPS, a CSAT and a CES answer (after-sales: sometimes CSM items too),
    all drawn from one underlying satisfaction so they agree with each other."""
    by_unit = defaultdict(list)
    number = 0
    months = list(_months())
    for m_index, month in enumerate(months):
        trend = 0.06 * m_index / (len(months) - 1)  # the network improves slowly
        for touchpoint, (survey, _, per_month, shift) in TOUCHPOINTS.items():
            count = max(1, round(per_month * scale)) if customers else 0
            for _ in range(count):
                number += 1
                c = customers[rng.randrange(len(customers))]
                code = c.data.get("dealer_code")
                day = month + timedelta(days=rng.randint(0, 27))
                at = datetime(day.year, day.month, day.day, rng.randint(9, 21), rng.randrange(0, 60), tzinfo=TZ)
                if at.date() >= BASE:
                    continue
                p_promoter = 0.45 + shift + trend + mood.get(code, 0)
                p_detractor = max(0.05, 0.27 - shift - trend - mood.get(code, 0))
                roll = rng.random()
                group = "promoter" if roll < p_promoter else "detractor" if roll < p_promoter + p_detractor else "passive"
                nps = {"promoter": rng.choice([9, 10, 10]), "passive": rng.choice([7, 8, 8]),
                       "detractor": rng.choices(range(7), [3, 2, 3, 5, 8, 14, 18])[0]}[group]
                csat = {"promoter": rng.choices([4, 5], [25, 75])[0], "passive": rng.choices([3, 4, 5], [25, 60, 15])[0],
                        "detractor": rng.choices([1, 2, 3, 4], [15, 30, 40, 15])[0]}[group]
                ces = {"promoter": rng.choices([5, 6, 7], [15, 40, 45])[0], "passive": rng.choices([4, 5, 6], [30, 45, 25])[0],
                       "detractor": rng.choices([1, 2, 3, 4, 5], [10, 20, 30, 25, 15])[0]}[group]
                common = {"touchpoint": touchpoint, "survey_code": survey, "submission_id": f"SUB-{number:06d}",
                          "customer_id": c.id, "region": c.data.get("region", ""), "answered_at": _iso(at),
                          "channel": rng.choices(["sms", "web", "app", "phone"], [50, 20, 15, 15])[0]}
                if not common["region"]:
                    del common["region"]
                if code:
                    common["dealer_code"] = code
                if vins.get(c.id) and touchpoint != "pre_purchase":
                    common["vin"] = rng.choice(vins[c.id])
                unit = code or hq
                nps_row = {**common, "question_kind": "nps", "question_code": "Q_NPS", "score": nps}
                if rng.random() < 0.3:
                    nps_row["comment"] = rng.choice(COMMENTS[group])
                by_unit[unit] += [nps_row,
                                  {**common, "question_kind": "csat", "question_code": "Q_CSAT", "score": csat},
                                  {**common, "question_kind": "ces", "question_code": "Q_CES", "score": ces}]
                if touchpoint == "after_sales" and rng.random() < 0.2:
                    for item, _ in CSM_ITEMS:
                        score = max(1, min(5, csat + rng.choice([-1, 0, 0, 0, 1])))
                        by_unit[unit].append({**common, "question_kind": "csm", "question_code": item, "score": score,
                                              "importance": rng.choices([2, 3, 4, 5], [10, 25, 35, 30])[0]})
    if "case" in session.entity_types_map():
        _follow_ups(session, rng, by_unit)
    for unit in sorted(by_unit, key=str):
        session.create_many("survey_response", by_unit[unit], unit=unit)


def _follow_ups(session, rng, by_unit) -> None:
    """The closed loop, already run: each detractor's follow-up case, opened when the answer
    came in and mostly closed since. The closed-loop automation opens a case for a detractor
    answer without ``case_id``, stamped with today's time; the history needs the answer's."""
    base = datetime(BASE.year, BASE.month, BASE.day, tzinfo=TZ)
    category = {"pre_purchase": "sales", "purchase": "sales", "after_sales": "after_sales"}
    number = 0
    for unit in sorted(by_unit, key=str):
        detractors = [r for r in by_unit[unit] if r["question_kind"] == "nps" and r["score"] <= 6]
        cases = []
        for r in detractors:
            number += 1
            opened = datetime.fromisoformat(r["answered_at"]) + timedelta(hours=rng.uniform(0.1, 3))
            case = {"case_number": f"F{opened.year}-{number:06d}", "kind": "complaint", "channel": "survey",
                    "subject": f"NPS detractor follow-up: score {r['score']} ({r['touchpoint']})",
                    "category": category[r["touchpoint"]], "priority": "high" if r["score"] <= 3 else "normal",
                    "customer_id": r["customer_id"], "opened_at": _iso(min(opened, base - timedelta(minutes=5))),
                    "status": "open"}
            for field in ("dealer_code", "vin"):
                if r.get(field):
                    case[field] = r[field]
            if r.get("comment"):
                case["description"] = r["comment"]
            hours = rng.lognormvariate(3.3, 0.8)
            closed = opened + timedelta(hours=hours)
            if closed < base:
                case.update(status="closed", first_response_at=_iso(opened + timedelta(hours=min(hours / 3, 24))),
                            closed_at=_iso(closed), resolution=rng.choice(
                                ["تماس گرفته شد و مشکل برطرف شد", "Called back, free re-check booked",
                                 "عذرخواهی و تخفیف سرویس بعدی", "Explained the invoice"]))
                if rng.random() < 0.75:  # asked again: was the customer won back?
                    case["resolution_satisfaction"] = rng.choices([1, 2, 3, 4, 5], [8, 12, 20, 35, 25])[0]
            cases.append(case)
        for r, rec in zip(detractors, session.create_many("case", cases, unit=unit)):
            r["case_id"] = rec.id


def _feedback(session, rng, scale, hq, customers) -> None:
    by_unit = defaultdict(list)
    for i in range(max(5, round(400 * scale))):
        c = customers[rng.randrange(len(customers))] if customers else None
        category, sentiment, text = rng.choice(FEEDBACK)
        day = START + timedelta(days=rng.randint(0, (BASE - START).days - 1))
        row = {"text": text, "category": category, "sentiment": sentiment, "topic": category,
               "channel": rng.choice(["web", "app", "social", "phone", "survey"]),
               "touchpoint": "after_sales" if category in ("service", "spare_parts") else rng.choice(["pre_purchase", "purchase"]),
               "received_at": _iso(datetime(day.year, day.month, day.day, rng.randint(8, 22), 0, tzinfo=TZ)),
               "status": rng.choice(["new", "reviewed", "actioned", "closed"]) if (BASE - day).days < 60 else "closed"}
        code = None
        if c is not None:
            row["customer_id"] = c.id
            code = c.data.get("dealer_code")
            if code:
                row["dealer_code"] = code
        by_unit[code or hq].append(row)
    for unit in sorted(by_unit, key=str):
        session.create_many("feedback", by_unit[unit], unit=unit)


def _kano(session, rng, scale, hq) -> None:
    """Kano questionnaire answers: each respondent answers every requirement, mostly with the
    pair typical for it, sometimes otherwise (so the evaluation table has some spread)."""
    rows = []
    for r in range(1, max(5, round(60 * scale)) + 1):
        day = BASE - timedelta(days=rng.randint(10, 120))
        for code, requirement, (functional, dysfunctional) in KANO:
            if rng.random() < 0.3:
                functional, dysfunctional = rng.choice(KANO_ANSWERS), rng.choice(KANO_ANSWERS)
            rows.append({"requirement_code": code, "requirement": requirement, "functional": functional,
                         "dysfunctional": dysfunctional, "importance": rng.randint(3, 9), "survey_code": "SRV-PRE",
                         "submission_id": f"KANO-{r:04d}", "touchpoint": "pre_purchase",
                         "answered_at": _iso(datetime(day.year, day.month, day.day, 12, 0, tzinfo=TZ))})
    session.create_many("kano_answer", rows, unit=hq)
