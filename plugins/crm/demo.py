"""This plugin's part of the automotive demo data set (`xrm demo`): customers (Persian, Latin
and a few Chinese names), their vehicles and purchase contracts, campaigns, 24 months of
leads and opportunities, and customer cases.

Runs early (``tryfirst``) but after prm_dealers has built the dealer network (its hook wraps
the others): customers and everything about them live in the unit of their servicing
dealer, read from the ``dealer`` records. Without prm_dealers the data stays in the admin's
unit and names no dealer.

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
CURRENCY = "IRR"
CUSTOMERS = 5000

#: model -> (code in the VIN, price in rials, fuel, trims)
MODELS = {
    "Aria": ("AR1", 11_500_000_000, "petrol", ["Base", "Plus"]),
    "Sahand": ("SH2", 14_800_000_000, "petrol", ["Comfort", "Elite"]),
    "Tara": ("TR3", 17_200_000_000, "hybrid", ["V1", "V2 Auto"]),
    "Kavir EV": ("KV4", 26_000_000_000, "electric", ["Standard", "Long Range"]),
    "Pars SUV": ("PS5", 21_500_000_000, "diesel", ["2WD", "4WD"]),
}
MODEL_WEIGHTS = [34, 26, 18, 7, 15]

PERSIAN_FIRST = [("علی", "Ali", "male"), ("محمد", "Mohammad", "male"), ("رضا", "Reza", "male"),
                 ("حسین", "Hossein", "male"), ("مهدی", "Mahdi", "male"), ("امیر", "Amir", "male"),
                 ("حمید", "Hamid", "male"), ("سعید", "Saeed", "male"), ("کاوه", "Kaveh", "male"),
                 ("آرش", "Arash", "male"), ("سارا", "Sara", "female"), ("مریم", "Maryam", "female"),
                 ("زهرا", "Zahra", "female"), ("فاطمه", "Fatemeh", "female"), ("نرگس", "Narges", "female"),
                 ("نیلوفر", "Niloufar", "female"), ("الهام", "Elham", "female"), ("پریسا", "Parisa", "female"),
                 ("بهاره", "Bahareh", "female"), ("شیرین", "Shirin", "female")]
PERSIAN_LAST = [("احمدی", "Ahmadi"), ("محمدی", "Mohammadi"), ("حسینی", "Hosseini"), ("رضایی", "Rezaei"),
                ("کریمی", "Karimi"), ("موسوی", "Mousavi"), ("جعفری", "Jafari"), ("صادقی", "Sadeghi"),
                ("رحیمی", "Rahimi"), ("قاسمی", "Ghasemi"), ("نوری", "Nouri"), ("تهرانی", "Tehrani"),
                ("کاظمی", "Kazemi"), ("شریفی", "Sharifi"), ("امینی", "Amini"), ("یزدانی", "Yazdani")]
LATIN_FIRST = [("Anna", "female"), ("David", "male"), ("Maria", "female"), ("Lukas", "male"),
               ("Sofia", "female"), ("Daniel", "male"), ("Elena", "female"), ("Marco", "male"),
               ("Leila", "female"), ("Omar", "male"), ("Nina", "female"), ("Samir", "male")]
LATIN_LAST = ["Müller", "Rossi", "Novak", "Petrov", "Schmidt", "Kowalski", "Dubois", "García", "Silva",
              "Jansen", "Yilmaz", "Haddad"]
CHINESE = [("王伟", "Wang Wei", "male"), ("李娜", "Li Na", "female"), ("张敏", "Zhang Min", "female"),
           ("刘洋", "Liu Yang", "male"), ("陈静", "Chen Jing", "female"), ("杨磊", "Yang Lei", "male"),
           ("赵丽", "Zhao Li", "female"), ("黄强", "Huang Qiang", "male")]
COMPANIES = [("شرکت حمل‌ونقل پارس", "Pars Transport Co.", "fleet"), ("تاکسیرانی شهر", "City Taxi Org.", "taxi"),
             ("شرکت بازرگانی آسیا", "Asia Trading Co.", "corporate"), ("شهرداری منطقه", "District Municipality", "government"),
             ("Sino Logistics", "Sino Logistics", "fleet")]
COLORS = ["سفید", "مشکی", "نقره‌ای", "خاکستری", "آبی", "قرمز"]
PLATE_LETTERS = "بجدسصطقلمنوهی"
CASE_SUBJECTS = {
    "complaint": [("after_sales", "تعمیر ناقص در نمایندگی"), ("after_sales", "Long waiting time at the service desk"),
                  ("spare_parts", "قطعه یدکی موجود نیست"), ("warranty", "Warranty repair refused"),
                  ("product_quality", "صدای غیرعادی موتور"), ("sales", "تأخیر در تحویل خودرو"),
                  ("dealer_conduct", "برخورد نامناسب کارشناس فروش"), ("billing", "Invoice higher than the quote")],
    "request": [("after_sales", "نوبت سرویس دوره‌ای"), ("sales", "درخواست تست درایو"),
                ("spare_parts", "Order a roof rack"), ("warranty", "تمدید گارانتی")],
    "inquiry": [("sales", "شرایط فروش اقساطی"), ("other", "Opening hours on holidays")],
    "suggestion": [("other", "پیشنهاد اپلیکیشن نوبت‌دهی")],
    "compliment": [("after_sales", "تشکر از کارشناس پذیرش")],
}
#: Hours to respond by category (the SLA the routing automation applies, too).
SLA_HOURS = {"product_quality": 48, "warranty": 48, "after_sales": 48, "spare_parts": 72, "sales": 72,
             "dealer_conduct": 24, "billing": 72, "other": 96}
VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
              **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_YEARS = {2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S", 2026: "T"}



def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _at(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, rng.randint(8, 19), rng.randrange(0, 60, 5), tzinfo=TZ)


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _money(amount: float) -> dict:
    return {"amount": int(round(amount, -4)), "currency": CURRENCY}


def vin(model: str, year: int, serial: int) -> str:
    """A well-formed 17-character VIN (ISO 3779) with its check digit in position 9."""
    body = f"NAA{MODELS[model][0]}{serial % 100:02d}0{VIN_YEARS[year]}T{serial:06d}"
    check = sum(VIN_VALUES[c] * w for c, w in zip(body, VIN_WEIGHTS)) % 11
    return body[:8] + ("X" if check == 10 else str(check)) + body[9:]


def _person_digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _unit(code):
    return code  # a dealer's unit is named by its dealer code (None: the admin's own unit)


@hookimpl(tryfirst=True)
def xrm_demo_data(session):
    """Load the crm part of the demo data set through ``session``."""
    rng = random.Random("xrm-demo:crm")
    scale = session.scale
    dealers = []
    if "dealer" in session.entity_types_map():
        dealers = [(d.data["code"], d.data["region"], d.data.get("city")) for d in
                   session.list("dealer", limit=10**9, sort=["code"])]
    if not dealers:
        dealers = [(None, "central", "تهران")]
    campaigns = _campaigns(session, rng)
    customers = _customers(session, rng, dealers, max(20, round(CUSTOMERS * scale)))
    vehicles = _vehicles_and_contracts(session, rng, customers)
    _leads_and_opportunities(session, rng, dealers, customers, campaigns, scale)
    _cases(session, rng, customers, vehicles, scale)


def _campaigns(session, rng) -> list[str]:
    hq = "hq" if "hq" in session.unit_names().values() else None
    rows = []
    for i, (name, kind, channel) in enumerate([
            ("جشنواره فروش بهاره", "sales", "tv"), ("Kavir EV launch", "sales", "event"),
            ("سرویس رایگان زمستانه", "service", "sms"), ("Recall: brake sensor", "recall", "sms"),
            ("باشگاه مشتریان وفادار", "loyalty", "email"), ("فروش ویژه پاییز", "sales", "web"),
            ("Test drive weekend", "sales", "showroom"), ("نظرسنجی رضایت پس از فروش", "survey", "sms")], 1):
        start = START + timedelta(days=90 * (i - 1))
        rows.append({"code": f"CMP-{start.year}-{i:02d}", "name": name, "kind": kind, "channel": channel,
                     "status": "completed" if start + timedelta(days=60) < BASE else "active",
                     "start_date": start.isoformat(), "end_date": (start + timedelta(days=60)).isoformat(),
                     "budget": _money(rng.randint(2, 20) * 1_000_000_000)})
    session.create_many("campaign", rows, unit=hq)
    return [r["code"] for r in rows]


def _name(rng: random.Random, i: int):
    """(name, name_latin, gender, kind, segment) — mostly Persian, many Latin, a few Chinese."""
    roll = rng.random()
    if roll < 0.03:
        fa, latin, segment = rng.choice(COMPANIES)
        return f"{fa} {i}", f"{latin} {i}", None, "organisation", segment
    if roll < 0.60:
        first, last = rng.choice(PERSIAN_FIRST), rng.choice(PERSIAN_LAST)
        return f"{first[0]} {last[0]}", f"{first[1]} {last[1]}", first[2], "person", None
    if roll < 0.95:  # written in Latin letters: transliterated Iranian names and foreigners
        if rng.random() < 0.6:
            first, last = rng.choice(PERSIAN_FIRST), rng.choice(PERSIAN_LAST)
            return f"{first[1]} {last[1]}", None, first[2], "person", None
        first, last = rng.choice(LATIN_FIRST), rng.choice(LATIN_LAST)
        return f"{first[0]} {last}", None, first[1], "person", None
    name, latin, gender = rng.choice(CHINESE)
    return name, latin, gender, "person", None


def _customers(session, rng, dealers, count: int) -> list:
    """Customers spread over the dealers, created per dealer unit; returned as Records."""
    by_dealer = defaultdict(list)
    for i in range(1, count + 1):
        code, region, city = dealers[(i * 7 + rng.randint(0, 3)) % len(dealers)]
        name, latin, gender, kind, segment = _name(rng, i)
        # More recent customers than old ones: about 40% joined within the last two years.
        since = BASE - timedelta(days=int(rng.triangular(30, 3100, 30)))
        c = {"name": name, "kind": kind, "national_id": f"{(i * 7919) % 900 + 100:03d}{i:06d}{i % 10}",
             "region": region, "customer_since": since.isoformat(),
             "segment": segment or rng.choices(["retail", "taxi", "fleet"], [90, 7, 3])[0],
             "status": "active"}
        if code:
            c["dealer_code"] = code
        if latin:
            c["name_latin"] = latin
        if rng.random() < 0.93:
            c["mobile"] = f"+98 9{rng.choice(['12', '13', '19', '35', '01'])} {_person_digits(rng, 3)} {_person_digits(rng, 4)}"
        if rng.random() < 0.55:
            words = ["".join(ch for ch in w if ch.isascii() and ch.isalnum()) for w in (latin or name).lower().split()]
            c["email"] = f"{'.'.join(w for w in words if w) or 'customer'}.{i}@example.com"
        if kind == "person" and rng.random() < 0.8:
            c["birth_date"] = _day_between(rng, date(1955, 1, 1), date(2004, 12, 31)).isoformat()
        if gender and rng.random() < 0.9:
            c["gender"] = gender
        if rng.random() < 0.85:
            c["address"] = {"city": city or "تهران", "line1": f"خیابان {rng.randint(1, 90)}، پلاک {rng.randint(1, 300)}",
                            "postal_code": _person_digits(rng, 10), "country": "IR"}
        if rng.random() < 0.75:
            c["preferred_channel"] = rng.choices(["sms", "phone", "app", "email", "showroom", "web"], [35, 25, 15, 10, 10, 5])[0]
        if rng.random() < 0.7:
            c["consent_marketing"] = rng.random() < 0.6
        c["preferred_language"] = "zh" if name[0] >= "\u4e00" else ("fa" if latin else "en")
        if rng.random() < 0.07 and since < BASE - timedelta(days=60):  # left us during the last two years
            churned = _day_between(rng, max(since + timedelta(days=30), START), BASE - timedelta(days=1))
            c.update(status="churned", churned_at=churned.isoformat(),
                     churn_reason=rng.choice(["moved abroad", "رقیب قیمت بهتری داد", "dissatisfied with service",
                                              "فروش خودرو"]))
        elif rng.random() < 0.05:
            c["status"] = "inactive"
        by_dealer[code].append(c)
    out = []
    for code in sorted(by_dealer, key=str):
        out += session.create_many("customer", by_dealer[code], unit=_unit(code))
    return out


def _vehicles_and_contracts(session, rng, customers) -> dict[str, list[dict]]:
    """Vehicles bought by the customers (a sale contract each; some bought again), plus
    service plans, extended warranties and financing. Returns customer id -> vehicles."""
    vehicles = defaultdict(list)
    contracts = defaultdict(list)
    serial = 0
    number = 0
    owned = {}
    for c in customers:
        d = c.data
        code = d.get("dealer_code")
        since = date.fromisoformat(d["customer_since"])
        n = rng.choices([0, 1, 2, 3], [4, 84, 10, 2])[0] if d["kind"] == "person" else rng.randint(2, 6)
        first = since
        for k in range(n):
            sale = first if k == 0 else _day_between(rng, since + timedelta(days=200), BASE - timedelta(days=2))
            if sale >= BASE:
                continue
            model = rng.choices(list(MODELS), MODEL_WEIGHTS)[0]
            _, price, fuel, trims = MODELS[model]
            year = min(max(sale.year, 2018), 2026)
            serial += 1
            v = {"vin": vin(model, year, serial), "model": model, "trim": rng.choice(trims), "model_year": year,
                 "color": rng.choice(COLORS), "fuel": fuel,
                 "plate": f"{rng.randint(11, 99)} {rng.choice(PLATE_LETTERS)} {rng.randint(111, 999)} ایران {rng.randint(10, 99)}",
                 "engine_number": f"E{serial:08d}", "production_date": (sale - timedelta(days=rng.randint(10, 120))).isoformat(),
                 "sale_date": sale.isoformat(), "customer_id": c.id,
                 "mileage_km": int((BASE - sale).days * rng.uniform(20, 70)), "mileage_at": (BASE - timedelta(days=1)).isoformat(),
                 "warranty_start": sale.isoformat(), "warranty_end": (sale + timedelta(days=730)).isoformat(),
                 "warranty_km": 40000, "status": "sold"}
            if code:
                v.update(dealer_code=code, selling_dealer_code=code)
            vehicles[c.id].append(v)
            owned[v["vin"]] = code
            number += 1
            amount = price * rng.uniform(0.97, 1.06)
            contract = {"contract_number": f"K{sale.year}-{number:06d}", "kind": "sale", "customer_id": c.id,
                        "vin": v["vin"], "signed_at": sale.isoformat(), "amount": _money(amount),
                        "status": "cancelled" if rng.random() < 0.01 else "completed"}
            extras = []
            if rng.random() < 0.25:
                extras.append(("service_plan", 0.04))
            if rng.random() < 0.15:
                extras.append(("extended_warranty", 0.03))
            if rng.random() < 0.35:
                extras.append(("financing", 0.02))
            rows = [contract]
            for kind, share in extras:
                number += 1
                rows.append({"contract_number": f"K{sale.year}-{number:06d}", "kind": kind, "customer_id": c.id,
                             "vin": v["vin"], "signed_at": sale.isoformat(), "start_date": sale.isoformat(),
                             "end_date": (sale + timedelta(days=730)).isoformat(), "amount": _money(amount * share),
                             "status": "active" if sale + timedelta(days=730) > BASE else "completed"})
            for r in rows:
                if code:
                    r["dealer_code"] = code
                contracts[code].append(r)
    by_dealer = defaultdict(list)
    for cid, vs in vehicles.items():
        for v in vs:
            by_dealer[v.get("dealer_code")].append(v)
    for code in sorted(by_dealer, key=str):
        _relate_to_customer(session, "customer_owns_vehicle",
                            session.create_many("vehicle", by_dealer[code], unit=_unit(code)))
    for code in sorted(contracts, key=str):
        _relate_to_customer(session, "customer_has_contract",
                            session.create_many("contract", contracts[code], unit=_unit(code)))
    return vehicles


def _relate_to_customer(session, rel: str, made) -> None:
    """Relate each created record to the customer its ``customer_id`` names, so the
    customer's page lists them and its timeline can include theirs."""
    pairs = [(r.data["customer_id"], r.id) for r in made if r.data.get("customer_id")]
    for i in range(0, len(pairs), 2000):
        session.relate_many(rel, pairs[i:i + 2000])


def _leads_and_opportunities(session, rng, dealers, customers, campaigns, scale) -> None:
    """24 months of leads: each region's leads handed to its dealers in turn; about 30%
    converted to an opportunity, a third of those sold. Recent ones still open."""
    regions = defaultdict(list)
    for code, region, city in dealers:
        regions[region].append((code, city))
    region_names = sorted(regions)
    turn = defaultdict(int)
    customers_by_dealer = defaultdict(list)
    for c in customers:
        customers_by_dealer[c.data.get("dealer_code")].append(c)
    leads = defaultdict(list)
    total = max(10, round(3600 * scale))
    for i in range(1, total + 1):
        received_day = START + timedelta(days=int((BASE - START).days * i / (total + 1)))
        received = _at(received_day, rng)
        region = rng.choice(region_names)
        name, latin, gender, kind, _ = _name(rng, i)
        lead = {"name": name, "region": region, "received_at": _iso(received),
                "source": rng.choices(["web", "call_center", "showroom", "campaign", "referral", "social", "sms"],
                                      [28, 18, 20, 14, 8, 8, 4])[0],
                "interested_model": rng.choices(list(MODELS), MODEL_WEIGHTS)[0],
                "mobile": f"+98 9{rng.choice(['12', '19', '35'])} {_person_digits(rng, 3)} {_person_digits(rng, 4)}",
                "preferred_channel": rng.choice(["phone", "sms", "showroom"])}
        if lead["source"] == "campaign":
            lead["campaign_code"] = campaigns[min(len(campaigns) - 1, (received_day - START).days // 90)]
        age = (BASE - received_day).days
        # Handed to the region's dealers in turn, as the round-robin automation would; the
        # demo assigns them itself so that assigned_at is the historic time, not today.
        code, city = regions[region][turn[region] % len(regions[region])]
        turn[region] += 1
        if city:
            lead["city"] = city
        assigned = received + timedelta(hours=rng.uniform(0.2, 5))
        lead.update(status="assigned", assigned_at=_iso(assigned))
        if code:
            lead["dealer_code"] = code
        if rng.random() < 0.2 and customers_by_dealer[code]:
            lead["customer_id"] = rng.choice(customers_by_dealer[code]).id
        if rng.random() < 0.93 or age > 7:
            first = assigned + timedelta(hours=rng.choice([rng.uniform(0.5, 6), rng.uniform(6, 48)]))
            lead.update(status="contacted", first_response_at=_iso(first))
            roll = rng.random()
            if roll < 0.30 and age > 5:
                converted = first + timedelta(days=rng.uniform(1, 10))
                lead.update(status="converted", converted_at=_iso(converted))
                if rng.random() < 0.36 and age > 20:
                    lead.update(status="sold", sold_at=_iso(converted + timedelta(days=rng.uniform(3, 20))))
            elif roll < 0.42:
                lead["status"] = "qualified"
            elif roll < 0.80 and age > 14:
                lead.update(status="lost", lost_reason=rng.choice(["price", "bought a competitor's car", "no answer",
                                                                     "خرید منصرف شد", "waiting time too long"]))
        leads[code].append((lead, code))
    opportunities = defaultdict(list)
    for code in sorted(leads, key=str):
        rows = [lead for lead, _ in leads[code]]
        records = session.create_many("lead", rows, unit=_unit(code))
        for rec, lead in zip(records, rows):
            if lead["status"] not in ("converted", "sold"):
                continue
            model = lead["interested_model"]
            opened = date.fromisoformat(lead["converted_at"][:10])
            opp = {"title": f"{model} — {lead['name']}", "lead_id": rec.id, "model": model, "quantity": 1,
                   "amount": _money(MODELS[model][1]), "opened_at": opened.isoformat(),
                   "expected_close": (opened + timedelta(days=30)).isoformat()}
            if code:
                opp["dealer_code"] = code
            if lead.get("customer_id"):
                opp["customer_id"] = lead["customer_id"]
            if lead["status"] == "sold":
                opp.update(stage="won", probability=100, closed_at=lead["sold_at"][:10])
            elif (BASE - opened).days > 45 and rng.random() < 0.8:
                closed = min(opened + timedelta(days=rng.randint(5, 45)), BASE - timedelta(days=1))
                opp.update(stage="lost", probability=0, closed_at=closed.isoformat(),
                           lost_reason=rng.choice(["price", "financing refused", "chose a competitor", "delivery time"]),
                           # the longer it ran, the further it got (no draw: the demo's figures stay)
                           lost_stage=_lost_stage((closed - opened).days))
            else:
                stage = rng.choice(["test_drive", "quotation", "negotiation"])
                opp.update(stage=stage, probability={"test_drive": 30, "quotation": 50, "negotiation": 70}[stage])
            opportunities[code].append(opp)
    for code in sorted(opportunities, key=str):
        session.create_many("opportunity", opportunities[code], unit=_unit(code))


def _cases(session, rng, customers, vehicles, scale) -> None:
    """Requests and complaints of the customers, most closed, complaints often asked how
    satisfied the customer was with the resolution."""
    total = max(10, round(1300 * scale))
    by_dealer = defaultdict(list)
    for i in range(1, total + 1):
        c = customers[rng.randrange(len(customers))]
        code = c.data.get("dealer_code")
        kind = rng.choices(list(CASE_SUBJECTS), [45, 30, 15, 5, 5])[0]
        category, subject = rng.choice(CASE_SUBJECTS[kind])
        opened_day = START + timedelta(days=int((BASE - START).days * i / (total + 1)))
        opened = _at(opened_day, rng)
        age_hours = (datetime(BASE.year, BASE.month, BASE.day, tzinfo=TZ) - opened).total_seconds() / 3600
        case = {"case_number": f"C{opened_day.year}-{i:06d}", "kind": kind, "subject": subject, "category": category,
                "channel": rng.choices(["phone", "web", "app", "showroom", "email", "sms", "social"], [35, 15, 12, 15, 10, 8, 5])[0],
                "priority": rng.choices(["low", "normal", "high", "urgent"], [15, 60, 20, 5])[0],
                "customer_id": c.id, "opened_at": _iso(opened),
                "due_at": _iso(opened + timedelta(hours=SLA_HOURS[category]))}
        if code:
            case["dealer_code"] = code
        own = vehicles.get(c.id)
        if own:
            case["vin"] = rng.choice(own)["vin"]
        hours = rng.lognormvariate(3.6, 0.7) if kind == "complaint" else rng.lognormvariate(2.8, 0.8)
        first = min(hours * 0.2, rng.uniform(0.5, 12))
        if first < age_hours:
            case.update(status="in_progress", first_response_at=_iso(opened + timedelta(hours=first)))
        else:
            case["status"] = "open"
        if hours < age_hours:
            closed = opened + timedelta(hours=hours)
            case.update(status="closed", resolved_at=_iso(closed - timedelta(hours=min(2, hours / 4))),
                        closed_at=_iso(closed), handling_hours=round(hours, 1),
                        resolution=rng.choice(["مشکل برطرف شد", "Part replaced under warranty", "توضیحات لازم داده شد",
                                               "Refund of the difference", "وقت سرویس رزرو شد"]))
            if kind == "complaint" and rng.random() < 0.7:
                case["resolution_satisfaction"] = rng.choices([1, 2, 3, 4, 5], [8, 10, 14, 38, 30])[0]
        by_dealer[code].append(case)
    for code in sorted(by_dealer, key=str):
        _relate_to_customer(session, "customer_has_case",
                            session.create_many("case", by_dealer[code], unit=_unit(code)))


def _lost_stage(days_open: int) -> str:
    """The stage a demo opportunity open ``days_open`` days was lost at."""
    return "test_drive" if days_open <= 12 else "quotation" if days_open <= 28 else "negotiation"
