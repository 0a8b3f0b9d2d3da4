"""This plugin's part of the automotive demo data set (`xrm demo`).

The dealer network comes first and the dealers' after-sales data last, so this hook is a
pluggy *wrapper*: before ``yield`` (before every other plugin's demo data) it builds the
unit tree root → ``hq`` → region → dealer, the dealer records and the demo users (with the
``create_unit``/``create_user`` of the session ``xrm demo`` passes); after
``yield`` (once crm has sold the vehicles and vrm_suppliers delivered the parts) it adds the
service receptions, warranty claims, monthly sales reports and targets, and dealer stock.
It reads the other plugins' records through the session (plugins never import each other)
and leaves out what needs a plugin that is not installed.

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
#: Password of every demo user (printed by ``xrm demo``) — for demo databases only.
DEMO_PASSWORD = "demo"
CURRENCY = "IRR"

#: region unit -> (label, [(dealer code, city, Persian name)])
REGIONS = {
    "tehran": ({"en": "Tehran region", "fa": "منطقه تهران", "zh": "德黑兰大区"}, [
        ("D01", "تهران", "نمایندگی آریا غرب تهران"), ("D02", "تهران", "نمایندگی پارس شرق تهران"),
        ("D03", "کرج", "نمایندگی البرز کرج"), ("D04", "قم", "نمایندگی کوثر قم")]),
    "north": ({"en": "North region", "fa": "منطقه شمال", "zh": "北方大区"}, [
        ("D05", "رشت", "نمایندگی سپید رود رشت"), ("D06", "ساری", "نمایندگی تجن ساری"),
        ("D07", "گرگان", "نمایندگی گلستان گرگان"), ("D08", "تبریز", "نمایندگی ائل گلی تبریز")]),
    "south": ({"en": "South region", "fa": "منطقه جنوب", "zh": "南方大区"}, [
        ("D09", "شیراز", "نمایندگی ارم شیراز"), ("D10", "اهواز", "نمایندگی کارون اهواز"),
        ("D11", "بندرعباس", "نمایندگی خلیج فارس بندرعباس"), ("D12", "اصفهان", "نمایندگی نقش جهان اصفهان")]),
}

#: Fault codes of repairs, with the part category that usually fails.
FAULTS = [("P0300", "engine", "misfire"), ("P0171", "engine", "lean mixture"),
          ("C0035", "brakes", "wheel speed sensor"), ("B1000", "electronics", "ECU fault"),
          ("P0700", "transmission", "gearbox fault"), ("U0100", "electronics", "lost communication"),
          ("C1214", "chassis", "suspension noise"), ("B0100", "electrical", "airbag circuit"),
          ("P0420", "engine", "catalyst efficiency"), ("B1318", "electrical", "battery voltage low")]
ADVISORS = ["مریم کریمی", "علی رضایی", "Sara Nouri", "حمید امینی", "Reza Tehrani", "نرگس جعفری"]



def _at(day: date, rng: random.Random, start_hour: int = 8, end_hour: int = 18) -> datetime:
    return datetime(day.year, day.month, day.day, rng.randint(start_hour, end_hour - 1), rng.randrange(0, 60, 5),
                    tzinfo=TZ)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _money(amount: float) -> dict:
    return {"amount": int(round(amount, -4)), "currency": CURRENCY}


def _months():
    d = START
    while d < BASE:
        yield d
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _all(session, type_name: str, sort: list[str]) -> list:
    """Every record of a type (the admin sees all), in a deterministic order."""
    if type_name not in session.entity_types_map():
        return []
    return session.list(type_name, limit=10**9, sort=sort)


@hookimpl(wrapper=True)
def xrm_demo_data(session):
    """Load the prm_dealers part of the demo data set: the network before the other plugins,
    the after-sales data after them."""
    rng = random.Random("xrm-demo:prm_dealers")
    _network(session, rng)
    result = yield
    _after_sales(session, rng, session.scale)
    return result


# -- before: units, dealers, users ---------------------------------------------------------
def _network(session, rng: random.Random) -> None:
    """Units and users through the demo session (``xrm demo`` hands the hooks one that can
    create them); what already exists is kept."""
    units = set(session.unit_names().values())
    users = set(session.user_names().values())

    def unit(name, parent, label=None):
        if name not in units:
            session.create_unit(name, parent, label)

    def user(name, unit_name, role):
        if name not in users:
            session.create_user(name, unit_name, [role], DEMO_PASSWORD)

    unit("hq", None, {"en": "Headquarters", "fa": "ستاد مرکزی", "zh": "总部"})
    user("manager", "hq", "hq_analyst")
    number = 0
    for region, (label, dealers) in REGIONS.items():
        unit(region, "hq", label)
        for code, city, name in dealers:
            number += 1
            unit(code, region)
            user(f"dealer{number}", code, "dealer_manager")
            session.create_many("dealer", [{
                "code": code, "name": name, "region": region, "kind": "sales_service", "city": city,
                "address": {"city": city, "line1": f"بلوار اصلی، پلاک {rng.randint(1, 400)}", "country": "IR"},
                "phone": f"+98 21 {rng.randint(2000, 8999)} {rng.randint(1000, 9999)}",
                "email": f"{code.lower()}@dealers.example.com", "manager_name": f"dealer{number}",
                "status": "active", "opened_on": date(2008 + number, rng.randint(1, 12), 1).isoformat(),
                "service_bays": rng.randint(6, 24)}], unit=code)


# -- after: receptions, claims, sales, stock -----------------------------------------------
def _after_sales(session, rng: random.Random, scale: float) -> None:
    dealers = {d.data["code"]: d.data for d in _all(session, "dealer", ["code"])}
    vehicles = [v.data for v in _all(session, "vehicle", ["vin"]) if v.data.get("dealer_code") in dealers]
    parts = _parts_by_category(session)
    _sales(session, rng, dealers, vehicles)
    visits = _visits(session, rng, dealers, vehicles)
    _claims(session, rng, visits, parts)
    _stock(session, rng, dealers, sorted({v["model"] for v in vehicles}), parts)


def _parts_by_category(session) -> dict[str, list[tuple[str, str]]]:
    """category -> [(part_number, supplier_code)] from vrm_suppliers' agreements, if installed."""
    category = {p.data["part_number"]: p.data.get("category", "other") for p in _all(session, "part", ["part_number"])}
    out = defaultdict(list)
    for a in _all(session, "supply_agreement", ["agreement_number"]):
        pn = a.data.get("part_number")
        if pn in category:
            out[category[pn]].append((pn, a.data["supplier_code"]))
    return out


def _sales(session, rng, dealers, vehicles) -> None:
    """Monthly sales reports from the vehicles crm sold, and targets near the usual volume."""
    sold = defaultdict(int)
    revenue = defaultdict(float)
    prices = {}
    for v in vehicles:
        sale = v.get("sale_date")
        if sale and START.isoformat() <= sale < BASE.isoformat():
            key = (v.get("selling_dealer_code") or v["dealer_code"], sale[:7] + "-01")
            sold[key] += 1
            price = prices.setdefault(v["model"], rng.randint(9, 30) * 1_000_000_000)
            revenue[key] += price
    by_dealer = defaultdict(lambda: ([], []))
    months = list(_months())
    for code in dealers:
        # Targets are set ahead from the dealer's usual volume, a little ambitious.
        usual = sum(sold.get((code, m.isoformat()), 0) for m in months) / len(months)
        for m in months:
            month = m.isoformat()
            units = sold.get((code, month), 0)
            target = round(usual * rng.uniform(0.95, 1.15))
            reports, targets = by_dealer[code]
            targets.append({"dealer_code": code, "month": month, "target_units": target,
                            "target_revenue": _money(target * 15_000_000_000)})
            submitted = datetime(m.year + (m.month == 12), m.month % 12 + 1, rng.randint(1, 5), 10, 0, tzinfo=TZ)
            reports.append({"dealer_code": code, "month": month, "units_sold": units,
                            "revenue": _money(revenue.get((code, month), 0)), "submitted_at": _iso(submitted)})
    for code, (reports, targets) in by_dealer.items():
        session.create_many("sales_target", targets, unit=code)
    for code, (reports, targets) in by_dealer.items():
        session.create_many("sales_report", reports, unit=code)


def _visits(session, rng, dealers, vehicles) -> list[dict]:
    """Service receptions: periodic services every 5–8 months after the sale, repairs of a
    fault now and then (sometimes back within a month for the same fault), warranty repairs
    while the vehicle is under warranty."""
    by_dealer = defaultdict(list)
    number = 0
    for v in vehicles:
        sale = date.fromisoformat(v["sale_date"]) if v.get("sale_date") else None
        if sale is None:
            continue
        day = max(sale, START - timedelta(days=30)) + timedelta(days=rng.randint(90, 200))
        km_per_day = rng.uniform(25, 70)
        while day < BASE:
            kind = rng.choices(["periodic_service", "repair", "body_paint", "recall", "inspection", "accessory"],
                               [55, 28, 6, 3, 5, 3])[0]
            warranty_end = date.fromisoformat(v["warranty_end"]) if v.get("warranty_end") else sale
            under_warranty = day <= warranty_end
            fault = rng.choice(FAULTS) if kind == "repair" else None
            if fault and under_warranty and rng.random() < 0.6:
                kind = "warranty_repair"
            repeats = [day]
            if fault and rng.random() < 0.09:  # the fault came back
                repeats.append(day + timedelta(days=rng.randint(3, 28)))
            for i, when in enumerate(repeats):
                if when >= BASE:
                    break
                number += 1
                received = _at(when, rng, 7, 12)
                recent = (BASE - when).days < 3
                status = rng.choice(["received", "in_progress"]) if recent else (
                    "cancelled" if rng.random() < 0.02 else "delivered")
                labour = rng.randint(8, 60) * 1_000_000
                parts_amount = rng.randint(0, 120) * 1_000_000 if kind != "inspection" else 0
                visit = {
                    "reception_number": f"R{when.year}-{number:06d}", "vin": v["vin"],
                    "dealer_code": v["dealer_code"], "received_at": _iso(received), "visit_type": kind,
                    "mileage_km": int((when - sale).days * km_per_day), "advisor": rng.choice(ADVISORS),
                    "promised_at": _iso(received + timedelta(hours=rng.choice([4, 6, 8, 24, 48]))),
                    "status": status, "under_warranty": kind == "warranty_repair",
                    "labour_amount": _money(labour), "parts_amount": _money(parts_amount),
                    "total_amount": _money(labour + parts_amount)}
                if v.get("customer_id"):
                    visit["customer_id"] = v["customer_id"]
                if fault:
                    visit["fault_code"] = fault[0]
                    visit["customer_complaint"] = ("ایراد دوباره برگشته است" if i else f"{fault[2]}")
                    visit["diagnosis"] = f"{fault[1]}: {fault[2]}"
                if status == "delivered":
                    visit["delivered_at"] = _iso(received + timedelta(hours=rng.randint(3, 60)))
                by_dealer[v["dealer_code"]].append(visit)
            day += timedelta(days=rng.randint(150, 240))
    visits = []
    for code in sorted(by_dealer):
        session.create_many("service_visit", by_dealer[code], unit=code)
        visits += by_dealer[code]
    return visits


def _claims(session, rng, visits, parts) -> None:
    """A warranty claim for each warranty repair, naming the failed part and its supplier."""
    fault_category = {code: category for code, category, _ in FAULTS}
    by_dealer = defaultdict(list)
    number = 0
    for visit in visits:
        if visit["visit_type"] != "warranty_repair" or visit["status"] == "cancelled":
            continue
        number += 1
        claimed = date.fromisoformat(visit["received_at"][:10]) + timedelta(days=rng.randint(0, 5))
        if claimed >= BASE:
            continue
        status = rng.choices(["submitted", "approved", "rejected", "paid"], [10, 25, 8, 57])[0]
        claim = {"claim_number": f"W{claimed.year}-{number:05d}", "dealer_code": visit["dealer_code"],
                 "vin": visit["vin"], "reception_number": visit["reception_number"],
                 "fault_code": visit["fault_code"], "mileage_km": visit["mileage_km"],
                 "claimed_at": claimed.isoformat(), "labour_amount": visit["labour_amount"],
                 "parts_amount": visit["parts_amount"], "status": status}
        candidates = parts.get(fault_category.get(visit["fault_code"]), [])
        if candidates:
            claim["part_number"], claim["supplier_code"] = rng.choice(candidates)
        if status != "submitted":
            claim["decided_at"] = min(claimed + timedelta(days=rng.randint(3, 30)), BASE - timedelta(days=1)).isoformat()
        if status == "rejected":
            claim["rejection_reason"] = rng.choice(["خارج از شرایط گارانتی", "damage by misuse", "مدارک ناقص"])
        by_dealer[visit["dealer_code"]].append(claim)
    for code in sorted(by_dealer):
        session.create_many("warranty_claim", by_dealer[code], unit=code)


def _stock(session, rng, dealers, models, parts) -> None:
    """Each dealer's stock today: a few vehicles of each model and its spare parts."""
    part_numbers = sorted({pn for entries in parts.values() for pn, _ in entries})[:15]
    for code in dealers:
        rows = [{"dealer_code": code, "item_kind": "vehicle", "sku": m, "description": m,
                 "quantity": rng.randint(0, 12), "reserved": rng.randint(0, 3), "reorder_level": 2,
                 "as_of": (BASE - timedelta(days=1)).isoformat()} for m in models]
        rows += [{"dealer_code": code, "item_kind": "part", "sku": pn, "quantity": rng.randint(0, 80),
                  "reorder_level": 10, "as_of": (BASE - timedelta(days=1)).isoformat()} for pn in part_numbers]
        session.create_many("dealer_stock", rows, unit=code)
