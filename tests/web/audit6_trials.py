"""A relationship kind the platform's developers have not seen, for the audit-6 UI tests:
clinical trials — sites, participants, visits — with nested objects, arrays of objects,
enums with non-ASCII values and labels, ``oneOf``, ``if/then/else`` and the formats date,
date-time, email and uri. Units: a sponsor with two sites; a coordinator per site."""
from __future__ import annotations

from test_ui_support import DeclaredPlugin, one_to_many, units_with_staff

SITE = {
    "name": "trial_site", "label": {"en": "Trial site", "fa": "مرکز کارآزمایی", "zh": "试验中心"},
    "plural_label": {"en": "Trial sites", "fa": "مراکز کارآزمایی", "zh": "试验中心列表"},
    "description": "A hospital that enrols participants.",
    "title_field": "code", "unique": ["code"],
    "schema": {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string", "minLength": 2},
        "city": {"type": "string"},
        "homepage": {"type": "string", "format": "uri"}}},
}

PARTICIPANT = {
    "name": "participant", "label": {"en": "Participant", "fa": "شرکت‌کننده", "zh": "受试者"},
    "plural_label": {"en": "Participants", "fa": "شرکت‌کنندگان", "zh": "受试者列表"},
    "title_field": "code", "unique": ["code"], "indexes": ["arm"],
    "field_labels": {"arm": {"en": "Arm", "fa": "بازوی درمان", "zh": "组别"}},
    "value_labels": {"arm": {"دارونما": {"en": "Placebo", "fa": "دارونما", "zh": "安慰剂"},
                             "治疗组": {"en": "Treatment", "fa": "درمان", "zh": "治疗组"}}},
    "schema": {
        "type": "object", "required": ["code", "arm", "status"],
        "properties": {
            "code": {"type": "string", "pattern": "^P-[0-9]{3}$"},
            "arm": {"enum": ["دارونما", "治疗组"]},
            "status": {"enum": ["screening", "enrolled", "withdrawn"]},
            "withdrawn_on": {"type": "string", "format": "date"},
            "born": {"type": "string", "format": "date"},
            "site_id": {"type": "string", "x-ref": "trial_site"},
            "contact": {"type": "object", "required": ["email"], "additionalProperties": False, "properties": {
                "email": {"type": "string", "format": "email"},
                "address": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "postcode": {"type": "string"}}}}},
            "consents": {"type": "array", "items": {
                "type": "object", "required": ["kind", "given_at"], "additionalProperties": False,
                "properties": {"kind": {"enum": ["main", "genetic", "follow-up"]},
                               "given_at": {"type": "string", "format": "date-time"},
                               "form": {"type": "string", "format": "uri"}}}},
            "identifier": {"oneOf": [
                {"type": "object", "required": ["mrn"], "properties": {"mrn": {"type": "string"}},
                 "additionalProperties": False},
                {"type": "object", "required": ["passport"], "properties": {"passport": {"type": "string"}},
                 "additionalProperties": False}]},
        },
        "if": {"properties": {"status": {"const": "withdrawn"}}, "required": ["status"]},
        "then": {"required": ["withdrawn_on"]},
        "else": {"not": {"required": ["withdrawn_on"]}},
    },
}

VISIT = {
    "name": "visit", "label": {"en": "Visit", "fa": "ویزیت", "zh": "访视"},
    "title_field": "label",
    "schema": {"type": "object", "required": ["label", "at"], "properties": {
        "label": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "vitals": {"type": "object", "properties": {"systolic": {"type": "integer", "minimum": 40},
                                                    "diastolic": {"type": "integer"}}}}},
}


class TrialsPlugin(DeclaredPlugin):
    """trials — clinical trials: sites, participants and their visits."""

    __name__ = "trials"
    types = [SITE, PARTICIPANT, VISIT]
    relationship_types = [
        one_to_many("site_enrols", "trial_site", "participant", "restrict",
                    {"en": "enrols", "fa": "ثبت‌نام می‌کند", "zh": "招募"},
                    {"en": "enrolled at", "fa": "ثبت‌نام‌شده در", "zh": "入组于"}),
        one_to_many("participant_visit", "participant", "visit", "cascade",
                    {"en": "attended", "fa": "حضور یافت در", "zh": "参加"},
                    {"en": "attended by", "fa": "با حضور", "zh": "参加者"})]
    activity_kinds = [
        {"name": "adverse_event", "label": {"en": "Adverse event", "fa": "رویداد نامطلوب", "zh": "不良事件"},
         "description": "Any untoward medical occurrence, reported within 24 hours."},
        {"name": "phone_follow_up", "label": {"en": "Phone follow-up", "fa": "پیگیری تلفنی", "zh": "电话随访"}}]
    roles = [
        {"name": "site_coordinator",
         "label": {"en": "Site coordinator", "fa": "هماهنگ‌کننده مرکز", "zh": "中心协调员"},
         "description": "Runs one site: its participants and visits, nobody else's.",
         "grants": [{"type": "*", "actions": ["read", "create", "update"], "depth": "unit"}]}]
    kpis = [{"name": "enrolled", "label": "Enrolled participants", "unit": "count",
             "entity": "participant", "measure": {"count": True}, "where": {"status": "enrolled"}}]


def two_sites(platform) -> dict:
    """Units sponsor → tehran, shanghai; a coordinator in each; a site, a participant and a
    visit in each unit. Returns the ids by name."""
    ids = {}
    units_with_staff(platform, "sponsor", ("tehran", "shanghai"), [("coord", "site_coordinator", "pw-coord-1")])
    for unit, code, pcode, city in (("tehran", "THR", "P-001", "تهران"), ("shanghai", "SHA", "P-002", "上海")):
        with platform.session(f"coord_{unit}") as s:
            site = s.create("trial_site", {"code": code, "city": city})
            p = s.create("participant", {"code": pcode, "arm": "دارونما", "status": "enrolled", "site_id": site.id,
                                         "contact": {"email": f"{pcode.lower()}@example.org"},
                                         "consents": [{"kind": "main", "given_at": "2026-01-05T09:00:00Z"}]})
            v = s.create("visit", {"label": f"Baseline {code}", "at": "2026-01-06T09:00:00Z",
                                   "vitals": {"systolic": 120, "diastolic": 80}})
            s.relate("site_enrols", site.id, p.id)
            s.relate("participant_visit", p.id, v.id)
            s.log(v.id, "adverse_event", f"headache after dose at {code}")
            ids.update({f"site_{unit}": site.id, f"p_{unit}": p.id, f"v_{unit}": v.id})
    return ids
