"""Acceptance audit 6: a municipal plugin (citizens, service requests, inspections, permits)
written from DESIGN.md alone, driven through the CLI on both engines — schemas that lean on
2020-12 (allOf + unevaluatedProperties, if/then/else, dependentRequired, $dynamicRef, common
$defs), every on_delete, hooks that refuse and hooks that crash, scope by unit depth."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from xrm_core import KPI, ValidationError, db, hookimpl

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

CITIZEN = {
    "name": "citizen", "label": {"en": "Citizen", "fa": "شهروند", "zh": "市民"}, "title_field": "full_name",
    "indexes": ["district"], "unique": ["national_id", "contact.email"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "$defs": {"note": {"$dynamicAnchor": "note", "type": "string", "maxLength": 200}},
        "allOf": [
            {"properties": {"full_name": {"type": "string", "title": "نام کامل / 全名", "minLength": 1},
                            "national_id": {"type": "string", "pattern": "^[0-9]{10}$"}},
             "required": ["full_name"]},
            # A non-resident must give a passport; a resident must not.
            {"if": {"properties": {"resident": {"const": False}}, "required": ["resident"]},
             "then": {"required": ["passport_no"]}, "else": {"properties": {"passport_no": False}}},
        ],
        "properties": {
            "resident": {"type": "boolean"},
            "passport_no": {"type": "string"},
            "district": {"enum": ["مرکزی", "شمال", "南区", "Ost"]},
            "contact": {"type": "object", "additionalProperties": False,
                        "properties": {"email": {"$ref": COMMON + "email"}, "phone": {"$ref": COMMON + "phone"},
                                       "sms_ok": {"type": "boolean"}},
                        "dependentRequired": {"sms_ok": ["phone"]}},
            "notes": {"type": "array", "items": {"$dynamicRef": "#note"}},
            "dependents": {"type": "array", "items": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}},
            "income": {"$ref": COMMON + "money"},
        },
        "unevaluatedProperties": False,
    },
}

REQUEST = {
    "name": "service_request", "label": {"en": "Service request", "fa": "درخواست خدمت"}, "title_field": "ref",
    "unique": ["ref"], "indexes": ["status"],
    "schema": {
        "type": "object", "required": ["ref", "status", "opened_at"],
        "dependentRequired": {"closed_at": ["resolution"]},
        "properties": {
            "ref": {"type": "string"}, "status": {"enum": ["open", "in_progress", "closed"]},
            "category": {"enum": ["روشنایی", "پسماند", "道路", "water"]},
            "channel": {"oneOf": [{"const": "phone"}, {"const": "web"}, {"const": "walk-in"}]},
            "opened_at": {"type": "string", "format": "date-time"},
            "closed_at": {"type": "string", "format": "date-time"},
            "resolution": {"type": "string"}, "rating": {"type": "integer", "minimum": 0, "maximum": 10},
            "urgent": {"type": "boolean"}, "hours": {"type": "number"},
            "cost": {"$ref": COMMON + "money"},
            "location": {"type": "object", "properties": {"district": {"type": "string"}}},
        },
    },
}

INSPECTION = {"name": "inspection", "title_field": "code",
              "schema": {"type": "object", "required": ["code"],
                         "properties": {"code": {"type": "string"}, "locked": {"type": "boolean"}}}}
PERMIT = {"name": "permit", "title_field": "number", "unique": ["number"],
          "schema": {"type": "object", "required": ["number"],
                     "properties": {"number": {"type": "string"}, "fee": {"type": "number"}}}}


class OpenRequests(KPI):
    """A Python KPI: requests not closed, in the caller's scope and period."""

    name = "open_requests"
    label = {"en": "Open requests", "fa": "درخواست‌های باز"}
    unit = "count"
    entity = "service_request"
    time_field = "opened_at"

    def compute(self, ctx):
        from sqlalchemy import func
        return ctx.measure("service_request", func.count(), func.count(),
                           where={"status": {"ne": "closed"}}, time_field="opened_at")


class CitizensPlugin:
    __name__ = "citizens"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [CITIZEN, REQUEST, INSPECTION, PERMIT]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "filed", "source": "citizen", "target": "service_request",
                 "cardinality": "one-to-many", "on_delete": "restrict"},
                {"name": "inspected_by", "source": "service_request", "target": "inspection",
                 "cardinality": "one-to-one", "on_delete": "cascade"},
                {"name": "holds_permit", "source": "citizen", "target": "permit",
                 "cardinality": "many-to-many", "on_delete": "unlink"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "site_visit", "label": {"en": "Site visit", "fa": "بازدید"}}]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return [{"name": "clerk", "grants": [{"type": "*", "actions": ["read", "create", "update"], "depth": "own"}]},
                {"name": "supervisor", "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"],
                                                   "depth": "unit"}]},
                {"name": "district_head", "grants": [{"type": "*", "actions": ["read"], "depth": "subtree"}]},
                {"name": "auditor", "grants": [{"type": "*", "actions": ["read"], "depth": "all"}]}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        declarative = [
            {"name": "requests", "entity": "service_request", "time_field": "opened_at", "measure": {"count": True}},
            {"name": "cost_total", "entity": "service_request", "time_field": "opened_at",
             "measure": {"sum": "cost.amount"}},
            {"name": "hours_avg", "entity": "service_request", "measure": {"avg": "hours"}},
            {"name": "hours_median", "entity": "service_request", "measure": {"median": "hours"}},
            {"name": "urgent_share", "entity": "service_request", "unit": "percent",
             "measure": {"share": {"urgent": True}}},
            {"name": "closed_ratio", "entity": "service_request",
             "measure": {"ratio": {"numerator": {"status": "closed"}, "denominator": {"status": {"exists": True}}}}},
            {"name": "citizen_nps", "entity": "service_request", "where": {"status": "closed"},
             "measure": {"nps": "rating"}},
            {"name": "handling_time", "entity": "service_request", "time_field": "opened_at",
             "measure": {"avg_duration": ["opened_at", "closed_at"], "in": "hours"}},
        ]
        return [*declarative, OpenRequests()]

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if record.type == "service_request" and event == "before_update" \
                and record.data.get("status") == "closed" and not record.data.get("resolution"):
            raise ValidationError("a closed request needs a resolution",
                                  [{"pointer": "/data/resolution", "message": "required when closed"}])
        if record.type == "inspection" and event == "before_delete" and record.data.get("locked"):
            raise ValidationError("a locked inspection cannot be deleted")
        if record.type == "permit" and event == "after_create" and record.data["number"].startswith("BOOM"):
            raise RuntimeError("permit registry unreachable")


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(CitizensPlugin(),), input=input)
    result = run("init", "--admin-password", "pw")
    assert result.exit_code == 0, result.stderr
    return run


def ok(result):
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def create(xrm, type_, data: dict, *extra) -> dict:
    return json.loads(ok(xrm("records", "create", type_, "--data", json.dumps(data, ensure_ascii=False),
                             "--json", *extra)).stdout)


def dump(db_url) -> dict:
    """Every row of every core table, to compare a database before and after a refusal."""
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted(map(repr, conn.execute(select(t)).all())) for t in db.metadata.sorted_tables}
    finally:
        engine.dispose()


# -- the defect: an admin KPI could not be removed ------------------------------------------
def test_an_admin_kpi_can_be_removed_and_then_frees_its_entity_type(xrm, tmp_path):
    kind = {"name": "noise_complaint", "label": {"en": "Noise complaint", "zh": "噪音投诉"}, "title_field": "subject",
            "schema": {"type": "object", "required": ["subject"],
                       "properties": {"subject": {"type": "string"}, "db": {"type": "integer"},
                                      "reported_at": {"type": "string", "format": "date-time"}}}}
    (tmp_path / "type.json").write_text(json.dumps(kind, ensure_ascii=False), encoding="utf-8")
    ok(xrm("types", "add", str(tmp_path / "type.json")))
    kpi = {"name": "noise_avg", "label": {"en": "Average noise", "fa": "میانگین صدا"}, "unit": "dB",
           "entity": "noise_complaint", "time_field": "reported_at", "measure": {"avg": "db"}}
    (tmp_path / "kpi.json").write_text(json.dumps(kpi, ensure_ascii=False), encoding="utf-8")
    ok(xrm("kpi", "add", str(tmp_path / "kpi.json")))
    # The refusal tells the admin to remove the KPI first…
    result = xrm("types", "remove", "noise_complaint")
    assert result.exit_code == 2 and "would break 1 KPI(s): noise_avg" in result.stderr
    # …which the CLI can now do (before, there was no command for it: the type stayed forever).
    result = ok(xrm("kpi", "remove", "noise_avg"))
    assert result.stdout == "KPI 'noise_avg' removed\n"
    assert "noise_avg" not in [k["name"] for k in json.loads(ok(xrm("kpi", "list", "--json")).stdout)]
    result = xrm("kpi", "compute", "noise_avg")
    assert result.exit_code == 1 and "unknown KPI 'noise_avg'" in result.stderr
    ok(xrm("types", "remove", "noise_complaint"))


def test_kpi_remove_refuses_a_plugin_kpi_an_unknown_name_and_a_non_admin(xrm, db_url):
    result = xrm("kpi", "remove", "citizen_nps")
    assert result.exit_code == 1
    assert "KPI 'citizen_nps' is provided by plugin 'citizens' and cannot be removed" in result.stderr
    result = xrm("kpi", "remove", "no_such_kpi")
    assert result.exit_code == 1 and "unknown admin KPI 'no_such_kpi'" in result.stderr
    ok(xrm("units", "create", "ward"))
    ok(xrm("users", "create", "clerk1", "--unit", "ward", "--role", "auditor", "--password", "pw"))
    before = dump(db_url)
    result = xrm("kpi", "remove", "citizen_nps", "--as", "clerk1")
    assert result.exit_code == 1 and "'clerk1' is not an administrator" in result.stderr
    assert dump(db_url) == before
    assert "citizen_nps" in [k["name"] for k in json.loads(ok(xrm("kpi", "list", "--json")).stdout)]


def test_an_admin_kpi_broken_by_a_plugin_upgrade_can_still_be_removed(cli, tmp_path):
    """An admin KPI that no longer checks against its type is left out of the registry (and
    of `kpi list`), but its row stays: `kpi remove` must find it by its row."""
    def run(*args, plugins=(CitizensPlugin(),)):
        return cli(*args, plugins=plugins)
    ok(run("init", "--admin-password", "pw"))
    (tmp_path / "kpi.json").write_text(json.dumps({"name": "fee_sum", "entity": "permit",
                                                   "measure": {"sum": "fee"}}), encoding="utf-8")
    ok(run("kpi", "add", str(tmp_path / "kpi.json")))

    class Upgraded(CitizensPlugin):
        @staticmethod
        @hookimpl
        def xrm_entity_types():
            # fee is gone from permit in the plugin's new release
            return [CITIZEN, REQUEST, INSPECTION,
                    {**PERMIT, "schema": {"type": "object", "required": ["number"],
                                          "properties": {"number": {"type": "string"}}}}]
    upgraded = (Upgraded(),)
    ok(run("init", plugins=upgraded))
    assert "fee_sum" not in [k["name"] for k in json.loads(ok(run("kpi", "list", "--json", plugins=upgraded)).stdout)]
    result = ok(run("kpi", "remove", "fee_sum", plugins=upgraded))
    assert "removed" in result.stdout
    result = run("kpi", "remove", "fee_sum", plugins=upgraded)
    assert result.exit_code == 1 and "unknown admin KPI 'fee_sum'" in result.stderr


# -- acceptance: what the audit checked and found right, kept so that it stays right -------
def test_schema_keywords_of_2020_12_refuse_with_pointers_and_store_nothing(xrm, db_url):
    before = dump(db_url)
    cases = [
        ({"full_name": "王伟", "resident": False}, "/data/passport_no: \"passport_no\" is required here because \"resident\" is false "
                                                 "(the schema's if/then)"),
        ({"full_name": "X", "resident": True, "passport_no": "E1"}, "/data/passport_no: False schema does not allow"),
        ({"full_name": "X", "contact": {"sms_ok": True}}, "/data/contact/phone: \"phone\" is required when \"sms_ok\" is present"),
        ({"full_name": "X", "notes": ["ok", "n" * 201]}, "/data/notes/1: "),
        ({"full_name": "X", "income": {"amount": 1}}, "/data/income/currency: \"currency\" is a required property"),
        ({"full_name": "X", "extra": 1}, "/data/extra: Unevaluated properties are not allowed"),
        ({"full_name": "X", "district": "غرب"}, "/data/district: "),
    ]
    for data, expected in cases:
        result = xrm("records", "create", "citizen", "--data", json.dumps(data, ensure_ascii=False))
        assert result.exit_code == 2, data
        assert expected in result.stderr, (data, result.stderr)
        assert "Traceback" not in result.stderr
    assert dump(db_url) == before
    record = create(xrm, "citizen", {"full_name": "علی رضایی", "national_id": "0012345678", "district": "مرکزی",
                                     "contact": {"email": "ali@example.ir", "phone": "+98 21 555 1234", "sms_ok": True},
                                     "notes": ["یادداشت"], "dependents": [{"name": "سارا", "age": 7}],
                                     "income": {"amount": 1234.5, "currency": "IRR"}})
    assert list(record) == ["id", "type", "data", "version", "owner", "unit", "created_at", "updated_at",
                            "created_by", "updated_by"]
    # A unique key inside a nested object is enforced like any other.
    result = xrm("records", "create", "citizen", "--data", '{"full_name": "Y", "contact": {"email": "ali@example.ir"}}')
    assert result.exit_code == 1
    assert f'a citizen with contact.email="ali@example.ir" already exists (record {record["id"]})' in result.stderr


def test_hooks_that_refuse_or_crash_leave_the_database_exactly_as_it_was(xrm, db_url, tmp_path):
    citizen = create(xrm, "citizen", {"full_name": "A"})
    request = create(xrm, "service_request", {"ref": "SR-1", "status": "open", "opened_at": "2026-01-05T08:00:00Z"})
    inspection = create(xrm, "inspection", {"code": "IN-1", "locked": True})
    ok(xrm("relate", "filed", citizen["id"], request["id"]))
    ok(xrm("relate", "inspected_by", request["id"], inspection["id"]))
    before = dump(db_url)
    # A ValidationError from the hook: the plugin's own message and pointer.
    result = xrm("records", "update", request["id"], "--data", '{"status": "closed"}')
    assert result.exit_code == 2
    assert "a closed request needs a resolution" in result.stderr and "/data/resolution" in result.stderr
    # restrict: the citizen's filed request holds it.
    result = xrm("records", "delete", citizen["id"])
    assert result.exit_code == 1 and "filed" in result.stderr
    # cascade reaches the locked inspection, whose hook refuses: the request stays too.
    result = xrm("records", "delete", request["id"])
    assert result.exit_code == 2 and "a locked inspection cannot be deleted" in result.stderr
    # Any other exception names the plugin, for one record and on a deep line of an import.
    result = xrm("records", "create", "permit", "--data", '{"number": "BOOM-1"}')
    assert result.exit_code == 1
    assert "plugin 'citizens' failed in xrm_record_event(after_create): RuntimeError: permit registry unreachable" \
        in result.stderr
    path = tmp_path / "permits.jsonl"
    path.write_text("".join(f'{{"number": "P-{i}", "fee": {i}}}\n' for i in range(40)) + '{"number": "BOOM-2"}\n',
                    encoding="utf-8")
    for extra in ((), ("--skip-invalid",)):
        result = xrm("import", "permit", str(path), *extra)
        assert result.exit_code == 1
        assert "plugin 'citizens' failed in xrm_record_event(after_create) on line 41 of permits.jsonl" in result.stderr
    assert json.loads(ok(xrm("records", "list", "permit", "--json")).stdout) == []
    assert dump(db_url) == before


def test_unit_depths_decide_lists_related_records_and_kpis(xrm):
    for args in (("units", "create", "city"), ("units", "create", "north", "--parent", "city"),
                 ("units", "create", "ward1", "--parent", "north"), ("units", "create", "south", "--parent", "city")):
        ok(xrm(*args))
    users = {"clerk1": ("ward1", "clerk"), "clerk2": ("ward1", "clerk"), "sup1": ("ward1", "supervisor"),
             "head": ("north", "district_head"), "aud": ("city", "auditor"), "sclerk": ("south", "clerk")}
    for name, (unit, role) in users.items():
        ok(xrm("users", "create", name, "--unit", unit, "--role", role, "--password", "pw"))
    citizen = create(xrm, "citizen", {"full_name": "علی"}, "--as", "clerk1")
    rows = [("SR-1", "clerk1", {"urgent": True, "hours": 3, "channel": "web"}),
            ("SR-2", "clerk2", {"status": "closed", "closed_at": "2026-01-11T08:00:00+03:30", "resolution": "fixed",
                                "rating": 10, "hours": 5, "channel": "phone"}),
            ("SR-3", "sclerk", {"status": "closed", "closed_at": "2026-01-03T00:00:00Z", "resolution": "ok",
                                "rating": 3, "hours": 10, "channel": "walk-in"})]
    ids = {}
    for ref, user, extra in rows:
        data = {"ref": ref, "status": "open", "opened_at": "2026-01-01T00:00:00Z", **extra}
        ids[ref] = create(xrm, "service_request", data, "--as", user)["id"]
    ok(xrm("relate", "filed", citizen["id"], ids["SR-1"]))
    ok(xrm("relate", "filed", citizen["id"], ids["SR-2"]))
    expected = {"clerk1": ["SR-1"], "clerk2": ["SR-2"], "sup1": ["SR-1", "SR-2"], "head": ["SR-1", "SR-2"],
                "aud": ["SR-1", "SR-2", "SR-3"], "sclerk": ["SR-3"]}
    for user, refs in expected.items():
        listed = json.loads(ok(xrm("records", "list", "service_request", "--as", user, "--json")).stdout)
        assert sorted(r["data"]["ref"] for r in listed) == refs, user
        result = json.loads(ok(xrm("kpi", "compute", "requests", "--as", user, "--json")).stdout)
        assert (result["value"], result["n"]) == (len(refs), len(refs)), user
    # clerk1 sees the citizen and, through it, only the request clerk1 may read.
    related = json.loads(ok(xrm("related", citizen["id"], "--as", "clerk1", "--json")).stdout)
    assert [r["record"]["id"] for r in related] == [ids["SR-1"]]
    result = xrm("related", citizen["id"], "--as", "sclerk")
    assert result.exit_code == 1 and f"no record '{citizen['id']}'" in result.stderr
    result = json.loads(ok(xrm("kpi", "compute", "handling_time", "--by", "channel", "--json")).stdout)
    assert result == {"kpi": "handling_time", "value": 146.25, "unit": "", "n": 2, "from": None, "to": None,
                      "groups": [{"key": "phone", "value": 244.5, "n": 1}, {"key": "walk-in", "value": 48, "n": 1},
                                 {"key": "web", "value": None, "n": 0}]}


def test_a_relationship_type_file_that_is_no_object_is_named_as_one(xrm, tmp_path):
    path = tmp_path / "rel.json"
    path.write_text('[{"name": "lives_with", "source": "citizen", "target": "citizen", '
                    '"cardinality": "many-to-many"}]', encoding="utf-8")
    result = xrm("reltypes", "add", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    # It said "an entity type definition is a JSON object": the wrong kind of definition.
    assert result.stderr == f"error: {path}: a relationship type definition is a JSON object\n  /: not an object\n"
    result = xrm("types", "add", str(path))
    assert result.stderr == f"error: {path}: an entity type definition is a JSON object\n  /: not an object\n"
    assert "lives_with" not in [d["name"] for d in json.loads(ok(xrm("reltypes", "list", "--json")).stdout)]


def test_a_relationship_type_name_already_taken_says_whose_it_is(xrm, tmp_path):
    """"already exists" left the admin guessing: a plugin's type comes back on every init,
    so the answer is another name, not removing it."""
    path = tmp_path / "rel.json"
    path.write_text('{"name": "filed", "source": "citizen", "target": "citizen", "cardinality": "many-to-many"}',
                    encoding="utf-8")
    result = xrm("reltypes", "add", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr == ("error: relationship type 'filed' already exists (declared by plugin 'citizens'); choose another "
                             "name\n  /name: already used\n")
    path.write_text('{"name": "lives_with", "source": "citizen", "target": "citizen", "cardinality": "many-to-many"}',
                    encoding="utf-8")
    ok(xrm("reltypes", "add", str(path)))
    result = xrm("reltypes", "add", str(path))
    assert "relationship type 'lives_with' already exists (added by an admin); choose another name" in result.stderr

def test_types_update_that_would_invalidate_nested_values_is_refused_with_ids_and_pointers(xrm, db_url, tmp_path):
    kept = create(xrm, "citizen", {"full_name": "A", "district": "مرکزی", "dependents": [{"name": "x", "age": 7}]})
    old = create(xrm, "citizen", {"full_name": "B", "district": "南区", "dependents": [{"name": "y", "age": 70}]})
    shown = json.loads(ok(xrm("types", "show", "citizen", "--json")).stdout)
    schema = json.loads(json.dumps(shown["schema"]))
    schema["properties"]["district"]["enum"] = ["مرکزی", "شمال"]
    schema["properties"]["dependents"]["items"]["properties"]["age"]["maximum"] = 50
    path = tmp_path / "citizen.json"
    path.write_text(json.dumps({**shown, "schema": schema}, ensure_ascii=False), encoding="utf-8")
    before = dump(db_url)
    for extra in (("--dry-run",), ()):
        result = xrm("types", "update", str(path), "--json", *extra)
        assert result.exit_code == 2, result.stderr
        report = json.loads(result.stdout)
        assert (report["checked"], report["invalid"], report["applied"]) == (2, 1, False)
        assert report["records"] == [{"id": old["id"], "errors": [
            {"pointer": "/data/dependents/0/age", "message": "70 is greater than the maximum of 50"},
            {"pointer": "/data/district", "message": '"南区" is not one of "مرکزی" or "شمال"'}]}]
        assert f"/records/{old['id']}/data/district" in result.stderr and kept["id"] not in result.stderr
    assert dump(db_url) == before


def test_an_excel_csv_round_trips_exactly_through_export_and_import(xrm, tmp_path):
    # UTF-8 BOM, CRLF, a header with stray spaces, a quoted line break, yes/TRUE booleans,
    # padded numbers, nested columns, Persian and Chinese text.
    path = tmp_path / "requests.csv"
    path.write_bytes(("\ufeff ref , status,category,opened_at,hours,urgent,cost.amount,cost.currency,location.district\r\n"
                      'SR-10,open,روشنایی,2026-03-01T10:00:00Z, 42 ,yes,1000.5,IRR,"مرکزی\r\nشمال"\r\n'
                      "SR-11,in_progress,道路,2026-03-02T10:00:00+03:30,,TRUE,,,\r\n").encode("utf-8"))
    report = json.loads(ok(xrm("import", "service_request", str(path), "--json")).stdout)
    assert report == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    listed = {r["data"]["ref"]: r["data"] for r in
              json.loads(ok(xrm("records", "list", "service_request", "--json")).stdout)}
    assert listed["SR-10"] == {"ref": "SR-10", "status": "open", "category": "روشنایی",
                               "opened_at": "2026-03-01T10:00:00Z", "hours": 42, "urgent": True,
                               "cost": {"amount": 1000.5, "currency": "IRR"},
                               "location": {"district": "مرکزی\r\nشمال"}}
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        ok(xrm("export", "service_request", "--format", fmt, "-o", str(out)))
        # Deleting every record and importing the export brings back the same data.
        for rid in [r["id"] for r in json.loads(ok(xrm("records", "list", "service_request", "--json")).stdout)]:
            ok(xrm("records", "delete", rid))
        ok(xrm("import", "service_request", str(out)))
        again = {r["data"]["ref"]: r["data"] for r in
                 json.loads(ok(xrm("records", "list", "service_request", "--json")).stdout)}
        assert again == listed, fmt


def test_a_plugin_declaring_a_type_an_admin_made_warns_that_it_replaced_the_admins_version(cli, tmp_path):
    """The warning said "replaced an admin's change to: permit" when the admin had made the
    type, not changed the plugin's."""
    assert cli("init", "--admin-password", "pw").exit_code == 0
    path = tmp_path / "permit.json"
    path.write_text(json.dumps({**PERMIT, "schema": {"type": "object", "properties": {"number": {"type": "string"}}}}),
                    encoding="utf-8")
    ok(cli("types", "add", str(path)))
    result = cli("init", plugins=(CitizensPlugin(),))
    assert result.exit_code == 0, result.stderr
    assert "warning: a plugin's definition replaced the admin's version of: permit (the admin's version stays in " \
           "the type's history" in result.stderr
