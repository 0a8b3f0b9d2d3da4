"""Acceptance audit 6: fields declared under ``dependentSchemas`` and only in ``then``/``else``,
and the source of Python KPIs — through the CLI, the REST API and the core, on both engines."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func

from xrm_core import KPI, Conflict, DefinitionError, accounts, entity_types, hookimpl, kpi_measures
from xrm_core.csvcells import CsvHeader
from xrm_core.entity_types import EntityType
from xrm_core.web import create_app

S = "https://json-schema.org/draft/2020-12/schema"

#: The audit's schema: billing_zip (and billing_attempts) are fields only when a card is given.
PAYMENT = {
    "name": "payment", "title_field": "card", "indexes": ["billing_zip"], "unique": [["card", "billing_attempts"]],
    "schema": {"$schema": S, "type": "object",
               "properties": {"card": {"type": "string"}},
               "dependentSchemas": {"card": {"properties": {"billing_zip": {"type": "string"},
                                                            "billing_attempts": {"type": "integer"}}}},
               "unevaluatedProperties": False},
}

#: months is declared only in a ``then`` inside ``allOf``; the object refuses it elsewhere.
PLAN = {
    "name": "plan",
    "schema": {"$schema": S, "type": "object",
               "properties": {"kind": {"enum": ["monthly", "once"]}, "started": {"type": "string", "format": "date"}},
               "allOf": [{"if": {"properties": {"kind": {"const": "monthly"}}, "required": ["kind"]},
                          "then": {"properties": {"months": {"type": "integer", "minimum": 1}}}}],
               "unevaluatedProperties": False},
}


class Tally(KPI):
    """A Python KPI: how many payments there are."""

    name = "payment_tally"
    label = "Payments"
    unit = "count"
    entity = "payment"

    def compute(self, ctx):
        return ctx.measure("payment", func.count(), func.count())


class BillingPlugin:
    __name__ = "billing"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [PAYMENT, PLAN]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [Tally(), {"name": "plan_months", "entity": "plan", "measure": {"avg": "months"}}]


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(BillingPlugin(),), input=input)
    result = run("init", "--admin-password", "pw")
    assert result.exit_code == 0, result.stderr
    return run


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _zips(result) -> list[str]:
    return [r["data"].get("billing_zip") for r in _json(result)]


# -- 1. dependentSchemas ------------------------------------------------------------------
def test_dependent_schema_fields_round_trip_through_csv(xrm, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("card,billing_zip,billing_attempts\nvisa,01234,3\nmc,90210,1\n", encoding="utf-8")
    report = _json(xrm("import", "payment", src, "--format", "csv", "--json"))
    assert report == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    rows = [r["data"] for r in _json(xrm("records", "list", "payment", "--json"))]
    # "01234" stays text (the field is a string), "3" becomes the integer the schema asks for
    assert sorted(rows, key=lambda d: d["card"]) == [
        {"card": "mc", "billing_zip": "90210", "billing_attempts": 1},
        {"card": "visa", "billing_zip": "01234", "billing_attempts": 3}]

    out = tmp_path / "out.csv"
    r = xrm("export", "payment", "--format", "csv", "-o", out)
    assert r.exit_code == 0 and "left out" not in r.stderr  # nothing dropped, nothing to warn about
    table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert table[0] == ["card", "billing_zip", "billing_attempts"]
    assert sorted(table[1:]) == [["mc", "90210", "1"], ["visa", "01234", "3"]]
    # the export reads back as the same data
    header = CsvHeader(EntityType(PAYMENT), table[0])
    assert sorted((header.data(cells)[0] for cells in table[1:]), key=lambda d: d["card"]) == \
        sorted(rows, key=lambda d: d["card"])


def test_a_dependent_schema_field_cell_of_the_wrong_type_is_refused_at_its_line(xrm, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("card,billing_attempts\nvisa,many\n", encoding="utf-8")
    r = xrm("import", "payment", src, "--format", "csv", "--json")
    assert r.exit_code != 0
    report = json.loads(r.stdout)
    assert report["imported"] == 0 and report["invalid"][0]["line"] == 2
    assert report["invalid"][0]["errors"][0]["pointer"] == "/billing_attempts"
    assert _json(xrm("records", "list", "payment", "--json")) == []


def test_dependent_schema_fields_filter_and_group_in_the_cli(xrm, tmp_path):
    for card, zip_, n in (("visa", "111", 1), ("mc", "222", 5), ("amex", "333", 9), ("jcb", "222", 2)):
        _json(xrm("records", "create", "payment", "--data",
                  json.dumps({"card": card, "billing_zip": zip_, "billing_attempts": n}), "--json"))
    f = tmp_path / "k.json"
    f.write_text(json.dumps({"name": "payments", "entity": "payment", "measure": {"sum": "billing_attempts"}}))
    _json(xrm("kpi", "add", f, "--json"))
    result = _json(xrm("kpi", "compute", "payments", "--by", "billing_zip", "--json"))
    assert result["value"] == 17
    assert [(g["key"], g["value"]) for g in result["groups"]] == [("111", 1), ("222", 7), ("333", 9)]
    assert _zips(xrm("records", "list", "payment", "--where", "billing_zip=222", "--json")) == ["222", "222"]
    # compared as numbers: 9 > 2 and 5 > 2, "9" < "2" would be a text comparison
    assert sorted(_zips(xrm("records", "list", "payment", "--where", "billing_attempts>2", "--json"))) == ["222", "333"]
    r = xrm("records", "list", "payment", "--where", "billing_city=x")
    assert r.exit_code != 0 and "billing_city" in r.stderr and "Traceback" not in r.stderr


def test_dependent_schema_fields_filter_and_sort_in_the_rest_api(make_platform):
    platform = make_platform(BillingPlugin())
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(platform, {"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for card, zip_, n in (("visa", "111", 10), ("mc", "222", 9), ("amex", "333", 2)):
        r = client.post("/api/v1/records/payment", headers=headers,
                        json={"data": {"card": card, "billing_zip": zip_, "billing_attempts": n}})
        assert r.status_code == 201, r.json
    r = client.get("/api/v1/records/payment?filter[billing_zip]=222", headers=headers)
    assert r.status_code == 200, r.json
    assert [i["data"]["card"] for i in r.json["items"]] == ["mc"]
    r = client.get("/api/v1/records/payment?filter[billing_attempts][gte]=9&sort=billing_attempts", headers=headers)
    assert r.status_code == 200, r.json
    assert [i["data"]["billing_attempts"] for i in r.json["items"]] == [9, 10]  # numeric order, not "10" < "9"
    r = client.get("/api/v1/records/payment?filter[billing_city]=x", headers=headers)
    assert r.status_code == 400 and "billing_city" in json.dumps(r.json)


def test_dependent_schema_fields_get_indexes_and_unique_keys(make_platform):
    platform = make_platform(BillingPlugin())
    with platform.connection() as conn:
        et = entity_types.get(conn, "payment")
        assert et.field_type("billing_zip") == "string" and et.field_type("billing_attempts") == "integer"
        assert len(entity_types.stored_indexes(conn, "payment")) == 2
    with platform.session("admin") as s:
        s.create("payment", {"card": "visa", "billing_attempts": 1})
    with pytest.raises(Conflict):
        with platform.session("admin") as s:
            s.create("payment", {"card": "visa", "billing_attempts": 1})


def test_a_unique_key_on_an_open_dependent_schema_field_is_refused():
    """Without unevaluatedProperties a record without a card may hold any billing_attempts:
    the field has no single type, so it cannot be unique alike on both engines."""
    schema = {k: v for k, v in PAYMENT["schema"].items() if k != "unevaluatedProperties"}
    et = EntityType({**PAYMENT, "schema": schema})
    assert et.has_field("billing_zip") and et.field_type("billing_attempts") is None
    with pytest.raises(DefinitionError) as e:
        et.check_keys()
    assert e.value.errors == [{"pointer": "/unique/0/1", "message": e.value.errors[0]["message"]}]
    assert "several JSON types" in e.value.errors[0]["message"]


def test_dependent_schema_fields_are_properties_for_forms_and_columns():
    et = EntityType(PAYMENT)
    assert list(et.properties()) == ["card", "billing_zip", "billing_attempts"]
    assert et.property_type("billing_zip") == "string"
    # the trigger's own dependent schema always applies to it: it binds like allOf
    own = EntityType({"name": "t", "schema": {"type": "object", "properties": {"a": {"type": ["string", "integer"]}},
                                              "dependentSchemas": {"a": {"properties": {"a": {"type": "integer"}}}}}})
    assert own.field_type("a") == "integer"


# -- 2. fields declared only in then/else ------------------------------------------------
def _plan(**changes) -> EntityType:
    schema = {**PLAN["schema"], **changes}
    return EntityType({"name": "plan", "schema": {k: v for k, v in schema.items() if v is not None}})


def test_a_field_declared_only_in_then_takes_its_type_when_the_object_is_closed(xrm, tmp_path):
    assert _plan().field_type("months") == "integer"
    out = xrm("types", "show", "plan")
    assert out.exit_code == 0, out.stderr
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("months"))
    assert row[:2] == ["months", "integer"]
    # the plugin's {"avg": "months"} was accepted; an admin's is too, and computes
    for months in (3, 6):
        _json(xrm("records", "create", "plan", "--data", json.dumps({"kind": "monthly", "months": months}), "--json"))
    assert _json(xrm("kpi", "compute", "plan_months", "--json"))["value"] == 4.5
    f = tmp_path / "k.json"
    f.write_text(json.dumps({"name": "plan_months_2", "entity": "plan", "measure": {"median": "months"}}))
    assert _json(xrm("kpi", "add", f, "--json"))["name"] == "plan_months_2"


@pytest.mark.parametrize("changes, why", [
    ({"unevaluatedProperties": None}, "without unevaluatedProperties a 'once' plan may hold any months"),
    ({"allOf": [{**PLAN["schema"]["allOf"][0], "else": {"properties": {"months": {"type": "string"}}}}]},
     "the branches disagree: integer or string"),
    ({"unevaluatedProperties": {"type": "string"}}, "an unevaluated months must be a string"),
])
def test_a_field_declared_only_in_then_stays_untyped_when_it_may_hold_other_types(changes, why):
    et = _plan(**changes)
    assert et.has_field("months")
    assert et.field_type("months") is None, why
    with pytest.raises(DefinitionError, match="no single JSON type"):
        kpi_measures.DeclarativeKPI({"name": "m", "entity": "plan", "measure": {"avg": "months"}}).check({"plan": et})


def test_additional_properties_false_closes_the_object_too():
    """The draft-7 way: months listed untyped beside additionalProperties: false, typed in
    then, forbidden in else — it can only ever be an integer."""
    schema = {"$schema": S, "type": "object",
              "properties": {"kind": {"enum": ["monthly", "once"]}, "months": True},
              "additionalProperties": False,
              "if": {"properties": {"kind": {"const": "monthly"}}, "required": ["kind"]},
              "then": {"properties": {"months": {"type": "integer"}}},
              "else": {"properties": {"months": False}}}
    assert EntityType({"name": "p", "schema": schema}).field_type("months") == "integer"
    # without the else it may be anything in a 'once' plan
    open_else = {k: v for k, v in schema.items() if k != "else"}
    assert EntityType({"name": "p", "schema": open_else}).field_type("months") is None


def test_nested_fields_declared_only_in_a_branch():
    inner = {"type": "object", "properties": {"kind": {"type": "string"}},
             "if": {"properties": {"kind": {"const": "a"}}}, "then": {"properties": {"n": {"type": "number"}}},
             "unevaluatedProperties": False}
    et = EntityType({"name": "t", "schema": {"type": "object", "properties": {"x": inner}}})
    assert et.field_type("x.n") == "number"
    # the inner object's unevaluatedProperties does not close the outer one
    outer = {"type": "object", "properties": {"k": {"type": "string"}},
             "then": {"properties": {"n": {"type": "number"}}}, "if": {"required": ["k"]}}
    et = EntityType({"name": "t", "schema": {"type": "object", "properties": {"x": outer}}})
    assert et.field_type("x.n") is None


# -- 4. the source of Python KPIs -------------------------------------------------------
def test_python_kpis_name_their_plugin_in_the_cli_and_the_api(xrm, make_platform):
    listed = {k["name"]: k for k in _json(xrm("kpi", "list", "--json"))}
    assert listed["payment_tally"]["source"] == "billing" and listed["payment_tally"]["kind"] == "python"
    assert listed["plan_months"]["source"] == "billing" and listed["plan_months"]["kind"] == "declarative"

    platform = make_platform(BillingPlugin())
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = create_app(platform, {"TESTING": True}).test_client().get(
        "/api/v1/kpis", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    served = {k["name"]: k for k in r.json}
    assert served["payment_tally"]["source"] == "billing"
    # the CLI and the API list a KPI alike
    assert served["payment_tally"] == listed["payment_tally"]
