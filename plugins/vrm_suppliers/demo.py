"""This plugin's part of the automotive demo data set (`xrm demo`): suppliers, parts, supply
agreements (SLAs), 24 months of deliveries and the defect reports raised against them.

Manufacturer-wide data: it lives in the ``hq`` unit when there is one (prm_dealers builds
it), else in the admin's unit. It needs no other plugin's records (``tryfirst``).

Deterministic: a seeded ``random.Random`` and the fixed base date below; the size scales
with ``session.scale`` (``xrm demo --scale``), default 1.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from xrm_core import hookimpl

#: The day the demo data ends (exclusive): 24 months of history before it.
BASE = date(2026, 11, 1)
START = date(2024, 11, 1)
TZ = timezone(timedelta(hours=3, minutes=30))
CURRENCY = "IRR"

#: (code, name, country, quality): quality scales a supplier's defects and lateness.
SUPPLIERS = [
    ("SUP01", "ایران قطعه پارس", "IR", 1.0), ("SUP02", "صنایع ترمز سپاهان", "IR", 1.4),
    ("SUP03", "Bosch Automotive GmbH", "DE", 0.5), ("SUP04", "宁波汽车零部件有限公司", "CN", 1.2),
    ("SUP05", "الکترونیک خودرو آریا", "IR", 1.1), ("SUP06", "Valeo Systems", "FR", 0.6),
    ("SUP07", "广州电装科技", "CN", 1.5), ("SUP08", "لاستیک دنا", "IR", 0.9),
    ("SUP09", "Mando Corporation", "KR", 0.7), ("SUP10", "Ford Otosan Parça", "TR", 0.8),
    ("SUP11", "شیشه ایمنی البرز", "IR", 1.0), ("SUP12", "Magneti Marelli", "IT", 0.7),
    ("SUP13", "رادیاتور ایران", "IR", 1.3), ("SUP14", "上海座椅系统", "CN", 1.0),
    ("SUP15", "Hella KGaA", "DE", 0.6),
]
#: category -> (part-number prefix, [(Persian name, English name)], unit price in rials)
CATEGORIES = {
    "engine": ("EN", [("واشر سرسیلندر", "cylinder head gasket"), ("پمپ آب", "water pump"), ("کویل جرقه", "ignition coil"),
                      ("سنسور اکسیژن", "oxygen sensor"), ("تسمه تایم", "timing belt"), ("کاتالیزور", "catalytic converter")],
               9_000_000),
    "transmission": ("TM", [("کلاچ", "clutch kit"), ("دیسک و صفحه", "clutch disc"), ("سنسور دنده", "gear sensor"),
                            ("روغن گیربکس", "gearbox oil")], 15_000_000),
    "chassis": ("CH", [("کمک فنر", "shock absorber"), ("طبق", "control arm"), ("سیبک", "ball joint"),
                       ("بوش", "bushing")], 6_000_000),
    "brakes": ("BR", [("لنت ترمز", "brake pad"), ("دیسک ترمز", "brake disc"), ("سنسور ABS", "ABS wheel sensor"),
                      ("پمپ ترمز", "brake master cylinder")], 4_000_000),
    "electrical": ("EL", [("باتری", "battery"), ("دینام", "alternator"), ("استارت", "starter motor"),
                          ("دسته سیم", "wiring harness"), ("ماژول ایربگ", "airbag module")], 12_000_000),
    "electronics": ("EC", [("ECU", "engine control unit"), ("مانیتور", "infotainment display"), ("BCM", "body control module"),
                           ("سنسور پارک", "parking sensor")], 25_000_000),
    "body": ("BD", [("سپر جلو", "front bumper"), ("چراغ جلو", "headlamp"), ("آینه بغل", "side mirror"),
                    ("شیشه جلو", "windscreen")], 8_000_000),
    "interior": ("IN", [("صندلی راننده", "driver seat"), ("داشبورد", "dashboard"), ("کمربند ایمنی", "seat belt")], 10_000_000),
    "tyres": ("TY", [("لاستیک ۱۵ اینچ", "tyre 15\""), ("لاستیک ۱۶ اینچ", "tyre 16\"")], 5_000_000),
    "consumables": ("CN", [("فیلتر روغن", "oil filter"), ("فیلتر هوا", "air filter"), ("شمع", "spark plug")], 500_000),
}
SAFETY_CRITICAL = {"brakes", "chassis", "tyres"}
MODELS = ["Aria", "Sahand", "Tara", "Kavir EV", "Pars SUV"]
DEFECTS = ["ابعاد خارج از تلرانس", "crack found at incoming inspection", "نشتی روغن", "intermittent electrical fault",
           "خوردگی سطح", "wrong part label", "صدای غیرعادی", "premature wear"]



def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _money(amount: float) -> dict:
    return {"amount": int(round(amount, -3)), "currency": CURRENCY}


@hookimpl(tryfirst=True)
def xrm_demo_data(session):
    """Load the vrm_suppliers part of the demo data set through ``session``."""
    rng = random.Random("xrm-demo:vrm_suppliers")
    scale = session.scale
    unit = "hq" if "hq" in session.unit_names().values() else None
    quality = {code: q for code, _, _, q in SUPPLIERS}
    session.create_many("supplier", [_supplier(rng, code, name, country) for code, name, country, _ in SUPPLIERS],
                        unit=unit)
    parts, agreements = _parts_and_agreements(rng)
    session.create_many("part", parts, unit=unit)
    session.create_many("supply_agreement", agreements, unit=unit)
    deliveries = _deliveries(rng, agreements, quality, scale)
    session.create_many("delivery", deliveries, unit=unit)
    session.create_many("defect_report", _defects(rng, deliveries, agreements, quality, scale), unit=unit)


def _supplier(rng, code, name, country) -> dict:
    return {"code": code, "name": name, "country": country, "status": "approved" if rng.random() < 0.85 else "probation",
            "contact_name": rng.choice(["Hans Weber", "مهندس کاظمی", "李明", "Ayşe Demir", "مهندس نوری"]),
            "email": f"quality@{code.lower()}.example.com",
            "phone": f"+{rng.choice(['98 21', '49 711', '86 21', '90 212'])} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            "certifications": sorted(rng.sample(["IATF 16949", "ISO 9001", "ISO 14001", "ISO 45001"], rng.randint(1, 3))),
            "approved_on": date(rng.randint(2010, 2022), rng.randint(1, 12), 1).isoformat()}


def _parts_and_agreements(rng):
    parts, agreements = [], []
    codes = [s[0] for s in SUPPLIERS]
    index = 0
    for category, (prefix, names, price) in CATEGORIES.items():
        for k, (fa, en) in enumerate(names, 1):
            index += 1
            pn = f"{prefix}-{1000 + k * 7:04d}"
            parts.append({"part_number": pn, "name": f"{fa} ({en})", "category": category, "unit_of_measure": "pcs",
                          "safety_critical": category in SAFETY_CRITICAL,
                          "unit_price": _money(price * rng.uniform(0.6, 1.6)),
                          "models": sorted(rng.sample(MODELS, rng.randint(2, 5)))})
            sources = [codes[index % len(codes)]]
            if rng.random() < 0.3:  # dual sourcing
                sources.append(codes[(index + 5) % len(codes)])
            for supplier in sources:
                agreements.append({
                    "agreement_number": f"SA-{supplier}-{pn}", "supplier_code": supplier, "part_number": pn,
                    "valid_from": "2024-01-01", "valid_to": "2027-12-31", "lead_time_days": rng.choice([14, 21, 30, 45]),
                    "max_ppm": rng.choice([500, 800, 1000, 1500]), "response_hours": rng.choice([24, 48, 72]),
                    "on_time_target": 95, "unit_price": _money(price), "status": "active"})
    return parts, agreements


def _deliveries(rng, agreements, quality, scale) -> list[dict]:
    """A delivery per agreement and month (fewer when scaled down); most on time, the weaker
    suppliers late more often."""
    out = []
    number = 0
    months = []
    d = START
    while d < BASE:
        months.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    for month in months:
        for a in agreements:
            if scale < 1 and rng.random() > scale:
                continue
            number += 1
            promised = month + timedelta(days=rng.randint(0, 27))
            q = quality[a["supplier_code"]]
            late = rng.random() < 0.07 * q
            delivered = promised + timedelta(days=rng.randint(1, 9) if late else -rng.randint(0, 3))
            qty = rng.randrange(200, 3001, 50)
            row = {"delivery_number": f"DL{promised.year}-{number:06d}", "supplier_code": a["supplier_code"],
                   "part_number": a["part_number"], "lot": f"L{promised:%y%m}-{number:05d}", "quantity": qty,
                   "promised_date": promised.isoformat(), "plant": rng.choice(["Tehran plant", "کارخانه تبریز"]),
                   "status": "delivered"}
            if rng.random() < 0.01:
                row["status"] = "cancelled"
            elif delivered < BASE:
                row["delivered_date"] = delivered.isoformat()
                if rng.random() < 0.02 * q:
                    row["rejected_quantity"] = rng.randint(1, max(1, qty // 50))
            else:
                row["status"] = "in_transit"
            out.append(row)
    return out


def _defects(rng, deliveries, agreements, quality, scale) -> list[dict]:
    """Defect reports against delivered lots: forwarded to the supplier within hours,
    acknowledged within the agreement's response time most of the time."""
    response = {(a["supplier_code"], a["part_number"]): a["response_hours"] for a in agreements}
    delivered = [d for d in deliveries if d.get("delivered_date")]
    weights = [quality[d["supplier_code"]] for d in delivered]
    total = max(5, round(330 * scale))
    base = datetime(BASE.year, BASE.month, BASE.day, tzinfo=TZ)
    out = []
    picks = rng.choices(delivered, weights, k=total)
    for i, d in enumerate(sorted(picks, key=lambda d: (d["delivered_date"], d["delivery_number"])), 1):
        day = date.fromisoformat(d["delivered_date"]) + timedelta(days=rng.randint(0, 60))
        if day >= BASE:
            day = BASE - timedelta(days=rng.randint(1, 20))
        detected = datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randrange(0, 60, 5), tzinfo=TZ)
        q = quality[d["supplier_code"]]
        report = {"report_number": f"DR{day.year}-{i:05d}", "part_number": d["part_number"],
                  "supplier_code": d["supplier_code"], "lot": d["lot"],
                  "quantity": max(1, int(rng.lognormvariate(1.6, 0.9) * q)),
                  "source": rng.choices(["incoming_inspection", "production_line", "warranty", "customer_complaint",
                                         "field_campaign"], [35, 35, 18, 10, 2])[0],
                  "severity": rng.choices(["minor", "major", "critical"], [60, 33, 7])[0],
                  "description": rng.choice(DEFECTS), "detected_at": _iso(detected), "status": "open"}
        # Every report is forwarded already (the forwarding automation would stamp today's
        # time on one that is not).
        forwarded = min(detected + timedelta(hours=rng.lognormvariate(2.3, 0.8)), detected + (base - detected) / 2)
        if forwarded < base:
            due = forwarded + timedelta(hours=response[(d["supplier_code"], d["part_number"])])
            report.update(status="forwarded", forwarded_at=_iso(forwarded), response_due_at=_iso(due))
            hours = (due - forwarded).total_seconds() / 3600
            ack = forwarded + timedelta(hours=hours * (rng.uniform(0.1, 0.95) if rng.random() > 0.12 * q
                                                       else rng.uniform(1.05, 2.5)))
            if ack < base:
                report.update(status="acknowledged", acknowledged_at=_iso(ack))
                closed = ack + timedelta(days=rng.uniform(3, 40))
                if closed < base:
                    report.update(status="closed", closed_at=_iso(closed),
                                  root_cause=rng.choice(["process deviation at supplier", "مواد اولیه نامرغوب",
                                                         "tooling wear", "خطای بسته‌بندی"]),
                                  corrective_action=rng.choice(["8D report, tooling replaced", "کنترل ۱۰۰٪ محموله‌ها",
                                                                "process parameters corrected"]))
        out.append(report)
    return out
