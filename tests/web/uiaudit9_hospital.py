"""A hospital's patient-relations department, for the audit-9 UI tests: patients,
complaints, compliments and follow-up calls, in two hospitals (units) with different roles.
Nested objects, arrays of objects, enums, dates and date-times, references to other records,
patterns with and without descriptions, a field required under ``if/then``."""
from __future__ import annotations

from test_ui_support import DeclaredPlugin, one_to_many, units_with_staff

PATIENT = {
    "name": "patient", "label": {"en": "Patient", "fa": "بیمار", "zh": "患者"},
    "plural_label": {"en": "Patients", "fa": "بیماران", "zh": "患者列表"},
    "title_field": "name", "unique": ["mrn"], "indexes": ["ward"],
    "field_labels": {"name": {"en": "Full name", "fa": "نام کامل", "zh": "姓名"},
                     "mrn": {"en": "Medical record number", "fa": "شماره پرونده", "zh": "病历号"},
                     "ward": {"en": "Ward", "fa": "بخش", "zh": "病区"}},
    "value_labels": {"ward": {"cardiology": {"en": "Cardiology", "fa": "قلب", "zh": "心内科"},
                              "oncology": {"en": "Oncology", "fa": "انکولوژی", "zh": "肿瘤科"},
                              "emergency": {"en": "Emergency", "fa": "اورژانس", "zh": "急诊"}}},
    "schema": {"type": "object", "required": ["name", "mrn"], "properties": {
        "name": {"type": "string", "minLength": 2},
        "mrn": {"type": "string", "pattern": "^MRN-[0-9]{6}$",
                "description": "MRN- followed by six digits, as on the wristband"},
        "phone": {"type": "string", "pattern": "^\\+?[0-9 ]{7,15}$"},
        "ward": {"enum": ["cardiology", "oncology", "emergency"]},
        "born": {"type": "string", "format": "date"},
        "contact": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email"},
            "next_of_kin": {"type": "object", "properties": {"name": {"type": "string"},
                                                              "phone": {"type": "string"}}}}}}},
}

COMPLAINT = {
    "name": "complaint", "label": {"en": "Complaint", "fa": "شکایت", "zh": "投诉"},
    "plural_label": {"en": "Complaints", "fa": "شکایات", "zh": "投诉列表"},
    "title_field": "subject", "indexes": ["status", "severity"],
    "field_labels": {"subject": {"en": "Subject", "fa": "موضوع", "zh": "主题"},
                     "status": {"en": "Status", "fa": "وضعیت", "zh": "状态"},
                     "severity": {"en": "Severity", "fa": "شدت", "zh": "严重程度"},
                     "resolution": {"en": "Resolution", "fa": "راه‌حل", "zh": "处理结果"}},
    "value_labels": {"status": {"open": {"en": "Open", "fa": "باز", "zh": "未结"},
                                "resolved": {"en": "Resolved", "fa": "حل‌شده", "zh": "已解决"}},
                     "severity": {"low": {"en": "Low", "fa": "کم", "zh": "低"},
                                  "high": {"en": "High", "fa": "زیاد", "zh": "高"}}},
    "schema": {"type": "object", "required": ["subject", "status", "received_at"], "properties": {
        "subject": {"type": "string", "minLength": 3},
        "status": {"enum": ["open", "resolved"]},
        "severity": {"enum": ["low", "high"]},
        "received_at": {"type": "string", "format": "date-time"},
        "patient": {"type": "string", "x-ref": "patient"},
        "resolution": {"type": "string"},
        "resolved_on": {"type": "string", "format": "date"},
        "ticket": {"type": "string", "pattern": "^C[0-9]{4}$"},
        "staff_involved": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "role": {"enum": ["nurse", "doctor", "admin"]}}}}},
        "if": {"properties": {"status": {"const": "resolved"}}, "required": ["status"]},
        "then": {"required": ["resolution", "resolved_on"]}},
}

COMPLIMENT = {
    "name": "compliment", "label": {"en": "Compliment", "fa": "قدردانی", "zh": "表扬"},
    "title_field": "summary",
    "schema": {"type": "object", "required": ["summary"], "properties": {
        "summary": {"type": "string"}, "for_staff": {"type": "string"},
        "received_on": {"type": "string", "format": "date"}}},
}


class HospitalPlugin(DeclaredPlugin):
    """patient_relations — patients, complaints, compliments and follow-up calls."""

    __name__ = "patient_relations"
    types = [PATIENT, COMPLAINT, COMPLIMENT]
    relationship_types = [
        one_to_many("patient_complaint", "patient", "complaint", "cascade",
                    {"en": "filed", "fa": "ثبت کرد", "zh": "提出"},
                    {"en": "filed by", "fa": "ثبت‌شده توسط", "zh": "提出人"}),
        one_to_many("patient_compliment", "patient", "compliment", "restrict",
                    {"en": "gave", "fa": "داد", "zh": "给出"},
                    {"en": "given by", "fa": "داده‌شده توسط", "zh": "给出人"})]
    activity_kinds = [
        {"name": "follow_up_call", "label": {"en": "Follow-up call", "fa": "تماس پیگیری", "zh": "回访电话"}},
        {"name": "apology_letter", "label": {"en": "Apology letter", "fa": "نامه عذرخواهی", "zh": "致歉信"}}]
    roles = [
        {"name": "pr_officer", "label": {"en": "Patient-relations officer", "fa": "کارشناس ارتباط با بیمار",
                                         "zh": "患者关系专员"},
         "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]},
        {"name": "pr_viewer", "label": {"en": "Patient-relations viewer", "fa": "ناظر ارتباط با بیمار",
                                        "zh": "患者关系查看员"},
         "grants": [{"type": "*", "actions": ["read"], "depth": "unit"}]}]
    kpis = [{"name": "open_complaints", "label": {"en": "Open complaints", "fa": "شکایات باز", "zh": "未结投诉"},
             "unit": "count", "entity": "complaint", "measure": {"count": True}, "where": {"status": "open"}}]


def two_hospitals(platform) -> dict:
    """Units group → north, south; an officer and a viewer in each; patients, complaints
    and a compliment in each. Returns the ids by name."""
    ids = {}
    units_with_staff(platform, "group", ("north", "south"),
                     [("officer", "pr_officer", "pw-officer"), ("viewer", "pr_viewer", "pw-viewer")])
    for unit, n in (("north", 1), ("south", 2)):
        with platform.session(f"officer_{unit}") as s:
            for i in range(3):
                p = s.create("patient", {"name": f"Patient {unit} {i}", "mrn": f"MRN-{n}0000{i}",
                                         "ward": ["cardiology", "oncology", "emergency"][i]})
                ids[f"patient_{unit}_{i}"] = p.id
            c = s.create("complaint", {"subject": f"Noise at night {unit}", "status": "open", "severity": "high",
                                       "received_at": "2026-11-20T22:15:00Z", "patient": ids[f"patient_{unit}_0"]})
            s.relate("patient_complaint", ids[f"patient_{unit}_0"], c.id)
            g = s.create("compliment", {"summary": f"Kind nurses {unit}", "received_on": "2026-11-21"})
            s.relate("patient_compliment", ids[f"patient_{unit}_1"], g.id)
            s.log(c.id, "follow_up_call", f"called back {unit}")
            ids.update({f"complaint_{unit}": c.id, f"compliment_{unit}": g.id})
    return ids
