"""The investor-relations plugin of REST API acceptance audit 6 (tests/web/test_audit6_api_*.py):
a domain the platform's developers did not write, built in-process as a third party would, and
the fixtures that serve it: an organisation of units, users at each depth and their tokens."""
from __future__ import annotations

from functools import partial

from xrm_core import KPI
from xrm_core.plugins import hookimpl

from test_api_support import Api as SharedApi, depth_roles

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

INVESTOR = {
    "name": "investor", "label": {"en": "Investor", "fa": "سرمایه‌گذار", "zh": "投资者"}, "title_field": "name",
    "indexes": ["kind", "email"], "unique": ["lei"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "kind": {"enum": ["individual", "institution"]},
            "tier": {"enum": ["طلایی", "نقره‌ای", "普通"]},
            "email": {"$ref": COMMON + "email"},
            "phone": {"$ref": COMMON + "phone"},
            "website": {"type": "string", "format": "uri"},
            "external_id": {"type": "string", "format": "uuid"},
            "lei": {"type": "string", "pattern": "^[A-Z0-9]{20}$"},
            "accredited": {"type": "boolean"},
            "since": {"type": "string", "format": "date"},
            "address": {"$ref": COMMON + "address"},
            "contact": {"type": "object", "properties": {
                "name": {"type": "string"}, "email": {"$ref": COMMON + "email"},
                "languages": {"type": "array", "items": {"type": "string"}}},
                "additionalProperties": False},
            "accounts": {"type": "array", "items": {
                "type": "object", "required": ["iban"], "additionalProperties": False,
                "properties": {"iban": {"type": "string"}, "primary": {"type": "boolean"}}}},
            "aliases": {"type": "object", "patternProperties": {"^[a-z]{2}$": {"type": "string"}},
                        "additionalProperties": False},
            "tax_id": {"type": "string"},
            "company_no": {"type": "string"},
        },
        "required": ["name", "kind"],
        # an individual has a tax id, an institution a company number
        "if": {"properties": {"kind": {"const": "individual"}}},
        "then": {"required": ["tax_id"]},
        "else": {"required": ["company_no"]},
        "unevaluatedProperties": False,
    },
}

FUND = {
    "name": "fund", "label": "Fund", "title_field": "name", "indexes": ["vintage"],
    "schema": {"type": "object", "required": ["name", "vintage", "target"],
               "properties": {"name": {"type": "string"}, "vintage": {"type": "integer", "minimum": 1990},
                              "target": {"$ref": COMMON + "money"}, "open": {"type": "boolean"},
                              "strategy": {"oneOf": [{"const": "buyout"}, {"const": "venture"},
                                                     {"type": "object", "required": ["other"],
                                                      "properties": {"other": {"type": "string"}}}]}},
               "additionalProperties": False},
}

COMMITMENT = {
    "name": "commitment", "label": "Commitment", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref", "amount", "signed_on"],
               "properties": {"ref": {"type": "string"}, "amount": {"$ref": COMMON + "money"},
                              "signed_on": {"type": "string", "format": "date"},
                              "share": {"type": "number", "minimum": 0, "maximum": 100}},
               "additionalProperties": False},
}

CAPITAL_CALL = {
    "name": "capital_call", "label": "Capital call", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref", "amount", "due"],
               "properties": {"ref": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0},
                              "due": {"type": "string", "format": "date"},
                              "issued_at": {"type": "string", "format": "date-time"},
                              "paid_at": {"type": "string", "format": "date-time"},
                              "status": {"enum": ["issued", "paid", "overdue"]}},
               "additionalProperties": False},
}

MEETING = {
    "name": "meeting", "label": "Meeting", "title_field": "topic",
    "schema": {"type": "object", "required": ["topic", "at"],
               "properties": {"topic": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                              "attendees": {"type": "array", "items": {"$ref": COMMON + "email"}}},
               "additionalProperties": False},
}

RELATIONSHIPS = [
    # an investor signs many commitments; deleting the investor is refused while any is left
    {"name": "commits", "label": "commits", "inverse_label": "committed by", "source": "investor",
     "target": "commitment", "cardinality": "one-to-many", "on_delete": "restrict"},
    # a commitment is to one fund; deleting the fund deletes its commitments
    {"name": "commitment_to", "label": "to fund", "inverse_label": "commitments", "source": "fund",
     "target": "commitment", "cardinality": "one-to-many", "on_delete": "cascade"},
    {"name": "calls", "label": "calls", "source": "commitment", "target": "capital_call",
     "cardinality": "one-to-many", "on_delete": "cascade"},
    {"name": "attends", "label": "attends", "source": "investor", "target": "meeting",
     "cardinality": "many-to-many", "on_delete": "unlink"},
    {"name": "primary_fund", "label": "primary fund", "source": "investor", "target": "fund",
     "cardinality": "one-to-one", "on_delete": "unlink"},
]


class PaidShare(KPI):
    """Python KPI: percent of capital calls paid, within the caller's scope and period."""

    name = "calls_paid_share"
    label = "Capital calls paid"
    unit = "%"
    entity = "capital_call"
    time_field = "due"
    description = "100 × paid calls / calls due in the period"

    def compute(self, ctx):
        status = ctx.field("capital_call", "status")
        return ctx.share("capital_call", status.is_not(None), status == "paid")


class InvestorPlugin:
    __name__ = "audit6_investors"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [INVESTOR, FUND, COMMITMENT, CAPITAL_CALL, MEETING]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return RELATIONSHIPS

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "ir_call", "label": "Investor call"}, {"name": "lp_letter", "label": {"en": "LP letter"}}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [
            {"name": "called_total", "label": "Capital called", "unit": "EUR", "entity": "capital_call",
             "time_field": "due", "measure": {"sum": "amount"}},
            {"name": "investors_n", "label": "Investors", "unit": "investors", "entity": "investor",
             "time_field": "since", "measure": {"count": True}},
            {"name": "accredited_share", "label": "Accredited", "unit": "%", "entity": "investor",
             "measure": {"share": {"accredited": True}}},
            PaidShare(),
        ]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return depth_roles(("ir_officer", "IR officer"), ("ir_desk", "IR desk"), ("ir_region", "IR region"),
                           ("ir_auditor", "Auditor"), ["investor", "capital_call"])


#: user -> (unit, role): an officer sees their own records, a desk its unit, a region
#: investors and capital calls of its subtree, the auditor everything; "nobody" holds no role.
USERS = {"off_p": ("paris", "ir_officer"), "off_p2": ("paris", "ir_officer"), "desk_p": ("paris", "ir_desk"),
         "reg_e": ("emea", "ir_region"), "aud": ("hq", "ir_auditor"), "desk_a": ("apac", "ir_desk"),
         "nobody": ("hq", None)}


#: The units, parents first: hq > emea > paris, hq > apac.
UNITS = [("hq", None), ("emea", "hq"), ("paris", "emea"), ("apac", "hq")]


#: The REST API as one organisation's integrator calls it: ``api("off_p", "GET", path)``.
Api = partial(SharedApi, units=UNITS, users=USERS)


def investor(name, **data) -> dict:
    """Data of an institutional investor (the schema's else branch needs a company number)."""
    return {"name": name, "kind": "institution", "company_no": f"C-{name}", **data}
