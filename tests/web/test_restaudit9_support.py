"""The student-relations plugin of REST audit 9 (tests/web/test_restaudit9_*.py): a university's
office of students, advisors, courses and advising contacts, written in-process as a third
party would, and the fixtures that serve it: units, users at each grant depth, their tokens."""
from __future__ import annotations

from functools import partial

from sqlalchemy import func

from xrm_core import KPI
from xrm_core.plugins import hookimpl

from test_api_support import Api as SharedApi, depth_roles

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

STUDENT = {
    "name": "student", "label": {"en": "Student", "fa": "دانشجو", "zh": "学生"}, "title_field": "name",
    "indexes": ["status", "cohort", "enrolled_on"], "unique": ["student_no"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "student_no": {"type": "string", "pattern": "^S[0-9]{6}$"},
            "email": {"$ref": COMMON + "email"},
            "status": {"enum": ["active", "withdrawn", "graduated"]},
            "cohort": {"type": "integer", "minimum": 1990},
            "gpa": {"type": "number", "minimum": 0, "maximum": 4},
            "enrolled_on": {"type": "string", "format": "date"},
            "scholarship": {"type": "boolean"},
            "address": {"$ref": COMMON + "address"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "student_no", "status"],
        "additionalProperties": False,
    },
}

ADVISOR = {
    "name": "advisor", "label": "Advisor", "title_field": "name",
    "schema": {"type": "object", "required": ["name"], "additionalProperties": False,
               "properties": {"name": {"type": "string"}, "department": {"type": "string"},
                              "email": {"$ref": COMMON + "email"}}},
}

COURSE = {
    "name": "course", "label": "Course", "title_field": "code", "unique": ["code"],
    "schema": {"type": "object", "required": ["code", "title"], "additionalProperties": False,
               "properties": {"code": {"type": "string"}, "title": {"type": "string"},
                              "credits": {"type": "integer", "minimum": 1, "maximum": 60},
                              "term": {"type": "string"}}},
}

CONTACT = {
    "name": "advising_contact", "label": "Advising contact", "title_field": "topic",
    "indexes": ["on"],
    "schema": {"type": "object", "required": ["topic", "on"], "additionalProperties": False,
               "properties": {"topic": {"type": "string"}, "on": {"type": "string", "format": "date"},
                              "channel": {"enum": ["office", "phone", "email", "video"]}}},
}

RELATIONSHIPS = [
    # a student takes many courses, a course has many students; deleting either unlinks
    {"name": "enrolled_in", "label": "enrolled in", "inverse_label": "students", "source": "student",
     "target": "course", "cardinality": "many-to-many", "on_delete": "unlink"},
    # an advisor advises many students; an advisor with students cannot be deleted
    {"name": "advises", "label": "advises", "inverse_label": "advisor", "source": "advisor",
     "target": "student", "cardinality": "one-to-many", "on_delete": "restrict"},
    # a student's advising contacts go with the student
    {"name": "contact_of", "label": "contacts", "inverse_label": "student", "source": "student",
     "target": "advising_contact", "cardinality": "one-to-many", "on_delete": "cascade"},
    {"name": "buddy", "label": "buddy", "source": "student", "target": "student",
     "cardinality": "one-to-one", "on_delete": "unlink"},
]


class ContactsPerStudent(KPI):
    """Python KPI: advising contacts in the period per visible student."""

    name = "contacts_per_student"
    label = "Advising contacts per student"
    unit = "contacts"
    entity = "advising_contact"
    time_field = "on"
    description = "contacts in the period / students"

    def compute(self, ctx):
        return ctx.ratio(("advising_contact", func.count()), ("student", func.count(), None), scale=1.0)


class UniversityPlugin:
    __name__ = "restaudit9_university"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [STUDENT, ADVISOR, COURSE, CONTACT]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return RELATIONSHIPS

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "advising", "label": "Advising session"}, {"name": "letter", "label": "Letter"}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [
            {"name": "retention_rate", "label": "Retention rate", "unit": "%", "entity": "student",
             "time_field": "enrolled_on", "measure": {"share": {"status": {"ne": "withdrawn"}}}},
            {"name": "students_n", "label": "Students", "unit": "students", "entity": "student",
             "time_field": "enrolled_on", "measure": {"count": True}},
            {"name": "mean_gpa", "label": "Mean GPA", "unit": "gpa", "entity": "student",
             "measure": {"avg": "gpa"}},
            ContactsPerStudent(),
        ]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return depth_roles(("adviser", "Adviser"), ("office", "Student office"), ("faculty", "Faculty"),
                           ("registrar", "Registrar"), ["student", "course"])


#: user -> (unit, role): units uni > science > physics, uni > arts.
USERS = {"adv_p": ("physics", "adviser"), "adv_p2": ("physics", "adviser"), "off_p": ("physics", "office"),
         "fac_s": ("science", "faculty"), "reg": ("uni", "registrar"), "off_a": ("arts", "office"),
         "nobody": ("uni", None)}


#: The units, parents first: uni > science > physics, uni > arts.
UNITS = [("uni", None), ("science", "uni"), ("physics", "science"), ("arts", "uni")]


#: The REST API as the mobile app and nightly sync call it: ``api("off_p", "GET", path)``.
Api = partial(SharedApi, units=UNITS, users=USERS)


def student(name, no, **data) -> dict:
    return {"name": name, "student_no": f"S{no:06d}", "status": "active", **data}
