"""Acceptance audit 7 through the CLI: an admin of a water utility brings JSON Schemas nobody
here has seen (service points with Persian and Chinese field names and a nested unique key,
work orders with a discriminated contact and arrays of tasks, a recursive asset tree), imports
CSV and JSONL files with good and bad rows, exports them into a fresh database, changes a
type over stored records and computes a KPI by a nested field — on both engines."""
from __future__ import annotations

import json

import pytest

S = "https://json-schema.org/draft/2020-12/schema"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

SERVICE_POINT = {
    "name": "service_point", "label": {"en": "Service point", "fa": "نقطه خدمت", "zh": "服务点"},
    "title_field": "code", "indexes": ["address.city", "installed_at", "نام_مشترک"],
    "unique": ["code", "meter_uuid", ["address.city", "meter_serial"]],
    "schema": {"$schema": S, "type": "object", "required": ["code", "meter_serial", "address"],
               "additionalProperties": False,
               "patternProperties": {"^x_[a-z]+$": {"type": "string"}},
               "properties": {
                   "code": {"type": "string", "pattern": "^SP-[0-9]{6}$"},
                   "meter_uuid": {"$ref": COMMON + "uuid"},
                   "meter_serial": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4,8}$"},
                   "نام_مشترک": {"type": "string", "pattern": "^[\\u0600-\\u06FF\\u200c ]+$"},
                   "备注": {"type": ["string", "null"], "maxLength": 200},
                   "address": {"$ref": COMMON + "address"},
                   "location": {"type": "array", "prefixItems": [{"type": "number", "minimum": -90, "maximum": 90},
                                                                 {"type": "number", "minimum": -180, "maximum": 180}],
                                "items": False, "minItems": 2},
                   "installed_at": {"$ref": COMMON + "datetime"},
                   "pressure_bar": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
                   "diameter_mm": {"enum": [15, 20, 25, "other", None]},
                   "reading_total": {"type": "integer", "minimum": 0},
                   "active": {"type": "boolean", "default": True},
                   "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}},
}

WORK_ORDER = {
    "name": "work_order", "title_field": "ref", "indexes": ["scheduled_at", "crew.lead"], "unique": ["ref"],
    "schema": {"$schema": S, "type": "object", "required": ["ref", "scheduled_at"], "additionalProperties": False,
               "properties": {
                   "ref": {"type": "string", "pattern": "^WO[0-9]+$"},
                   "scheduled_at": {"type": "string", "format": "date-time"},
                   "crew": {"type": "object", "required": ["lead"], "additionalProperties": False,
                            "properties": {"lead": {"type": "string"}, "size": {"type": "integer", "minimum": 1}}},
                   "tasks": {"type": "array", "minItems": 1,
                             "items": {"type": "object", "required": ["step", "done"], "additionalProperties": False,
                                       "properties": {"step": {"type": "string"}, "done": {"type": "boolean"},
                                                      "minutes": {"type": ["integer", "null"], "minimum": 0}}},
                             "contains": {"properties": {"step": {"const": "safety_check"}}, "required": ["step"]},
                             "minContains": 1},
                   "contact": {"oneOf": [
                       {"type": "object", "required": ["via", "email"], "additionalProperties": False,
                        "properties": {"via": {"const": "email"}, "email": {"$ref": COMMON + "email"}}},
                       {"type": "object", "required": ["via", "phone"], "additionalProperties": False,
                        "properties": {"via": {"const": "phone"}, "phone": {"$ref": COMMON + "phone"}}}]},
                   "priority": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 5},
                                          {"enum": ["urgent", "low"]}]},
                   "cost": {"$ref": COMMON + "money"}}},
}

ASSET = {
    "name": "asset", "title_field": "name", "indexes": ["root.kind"], "unique": ["asset_id"],
    "schema": {"$schema": S, "$id": "https://utility.example/asset.json", "type": "object",
               "required": ["asset_id", "name"], "additionalProperties": False,
               # node and strict each a resource of its own: two "$dynamicAnchor": "node" in one
               # resource would give one URI (asset.json#node) to two subschemas, which is refused.
               "$defs": {"node": {"$id": "node.json", "$dynamicAnchor": "node", "type": "object", "required": ["kind"],
                                  "properties": {"kind": {"type": "string"}, "label": {"type": "string"},
                                                 "children": {"type": "array", "items": {"$dynamicRef": "#node"}}}},
                         "strict": {"$id": "strict.json", "$dynamicAnchor": "node", "$ref": "node.json",
                                    "unevaluatedProperties": False}},
               "properties": {"asset_id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
                              "root": {"$ref": "strict.json"}}},
}

GOOD_CSV = ("\ufeffcode,meter_serial,address.city,address.country,نام_مشترک,备注,location,installed_at,"
            "pressure_bar,diameter_mm,reading_total,active,tags,x_zone,meter_uuid\r\n"
            'SP-100001,AB1001,Tehran,IR,مریم احمدی,"第一行\r\n第二行",35.7;51.4,2025-05-01T08:00:00+03:30,1.5,15,42,'
            "yes,a;b,north,11111111-2222-4333-8444-555555555555\r\n"
            'SP-100002,AB1002,Shiraz,,,null,"[29.6, 52.5]",2025-05-01T04:30:00Z,2,other,0,FALSE,,south,\r\n'
            'SP-100003,AB1003,Tabriz,,,,,,,null,,,"[""x y""]",,\r\n'
            'SP-100004,AB1004,Tabriz,,,"""null""",,2025-04-30T23:00:00Z,,20,,1,,,\r\n')

#: Line 2 is good; every other row is bad in its own way.
BAD_CSV = ("code,meter_serial,address.city,address.country,location,pressure_bar,diameter_mm,reading_total,tags\n"
           "SP-200001,AB2001,Tehran,IR,,,,,\n"
           "SP-2,ab,Tehran,Iran,95;51;3,0,30,-1,a;a\n"
           "SP-200003,AB2003,,,,,,,\n"
           'SP-200004,AB2004,Tehran,,"[1,",,,,\n'
           "SP-200005,AB2005,Tehran,,,,,99999999999999999999,\n"
           "SP-200001,AB2006,Tehran,,,,,,\n"
           "SP-200007,AB2007,Tehran,,,,\n")


@pytest.fixture
def xrm(cli, tmp_path):
    """The CLI on an initialised database holding the utility's three types."""
    assert cli("init", "--admin-password", "pw").exit_code == 0
    for definition in (SERVICE_POINT, WORK_ORDER, ASSET):
        path = tmp_path / f"{definition['name']}.json"
        path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
        ok(cli("types", "add", str(path)))
    return cli


def ok(result):
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def listed(xrm, type_name: str, *args) -> list[dict]:
    return [r["data"] for r in json.loads(ok(xrm("records", "list", type_name, "--json", *args)).stdout)]


def _text(data: dict) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def test_a_bad_csv_reports_every_row_by_line_and_pointer_and_imports_nothing(xrm, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    result = xrm("import", "service_point", str(path), "--json")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert (report["total"], report["valid"], report["imported"]) == (7, 1, 0)
    errors = {(r["line"], e["pointer"]): e["message"] for r in report["invalid"] for e in r["errors"]}
    assert errors == {
        (3, "/address/country"): '"Iran" does not match "^[A-Z]{2}$"',
        (3, "/code"): '"SP-2" does not match "^SP-[0-9]{6}$"',
        # every value an admin may choose from (was "15, 20 or 3 other candidates")
        (3, "/diameter_mm"): '30 is not one of 15, 20, 25, "other" or null',
        # which item, and why (was "False schema does not allow 3")
        (3, "/location/0"): "95 is greater than the maximum of 90",
        (3, "/location/2"): '3 is not allowed: the array takes no item at index 2 ("items": false)',
        (3, "/meter_serial"): '"ab" does not match "^[A-Z]{2}[0-9]{4,8}$"',
        (3, "/pressure_bar"): "0 is less than or equal to the minimum of 0",
        (3, "/reading_total"): "-1 is less than the minimum of 0",
        (3, "/tags"): '["a","a"] has non-unique elements',
        (4, "/address"): '"address" is a required property',
        (5, "/location"): "invalid JSON array: unexpected end of data",
        (6, "/reading_total"): "'99999999999999999999' is out of the 64-bit integer range",
        (7, "/code"): 'code "SP-200001" is already used by line 2 of this file',
        (8, ""): "the row has 7 cells but the header has 9 columns",
    }
    assert listed(xrm, "service_point") == []
    # --skip-invalid --dry-run: the same rows, nothing written; then for real, the good row.
    report = json.loads(ok(xrm("import", "service_point", str(path), "--skip-invalid", "--dry-run",
                               "--json")).stdout)
    assert (report["valid"], report["imported"], len(report["invalid"])) == (1, 0, 6)
    assert listed(xrm, "service_point") == []
    ok(xrm("import", "service_point", str(path), "--skip-invalid"))
    assert [d["code"] for d in listed(xrm, "service_point")] == ["SP-200001"]


def test_a_discriminated_union_that_fits_no_option_says_what_the_options_expect(xrm, tmp_path):
    path = tmp_path / "orders.jsonl"
    rows = [{"ref": "WO1", "scheduled_at": "2025-04-01T09:00:00Z", "contact": {"via": "fax", "number": "1"}},
            {"ref": "WO2", "scheduled_at": "2025-04-01T09:00:00Z", "contact": {"email": "a@b.ir"}},
            {"ref": "WO3", "scheduled_at": "2025-04-01T09:00:00Z", "priority": "soon"},
            {"ref": "WO4", "scheduled_at": "2025-04-01T09:00:00Z", "contact": {"via": "phone", "phone": "abc"}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = xrm("import", "work_order", str(path))
    assert result.exit_code == 2
    assert ('line 1 /contact: {"number":"1","via":"fax"} is not valid under any of the schemas listed in the '
            "'oneOf' keyword (\"via\" must be \"email\" or \"phone\", not \"fax\")") in result.stderr
    assert '("via" is missing: every option requires it)' in result.stderr
    assert 'line 3 /priority: "soon" is not valid under any of the schemas listed in the \'anyOf\' keyword ' \
           '(expected an integer, or one of "urgent" or "low")' in result.stderr
    assert "line 4 /contact/phone: \"abc\" does not match" in result.stderr
    assert listed(xrm, "work_order") == []


def test_csv_and_jsonl_exports_round_trip_into_a_fresh_database(xrm, cli, other_db_url, tmp_path):
    good = tmp_path / "points.csv"
    good.write_bytes(GOOD_CSV.encode("utf-8"))
    assert json.loads(ok(xrm("import", "service_point", str(good), "--json")).stdout) == {
        "total": 4, "valid": 4, "imported": 4, "invalid": []}
    points = {d["code"]: d for d in listed(xrm, "service_point")}
    assert points["SP-100001"]["备注"] == "第一行\r\n第二行" and points["SP-100001"]["location"] == [35.7, 51.4]
    assert points["SP-100002"]["备注"] is None and points["SP-100004"]["备注"] == "null"
    assert points["SP-100003"] == {"code": "SP-100003", "meter_serial": "AB1003", "address": {"city": "Tabriz"},
                                   "diameter_mm": None, "tags": ["x y"]}  # empty cells: absent
    ok(xrm("records", "create", "work_order", "--data", json.dumps({
        "ref": "WO1", "scheduled_at": "2025-04-01T09:00:00+04:30", "crew": {"lead": "رضا", "size": 3},
        "tasks": [{"step": "safety_check", "done": True, "minutes": 5}, {"step": "valve", "done": False,
                                                                          "minutes": None}],
        "contact": {"via": "phone", "phone": "+98 912 000 0000"}, "priority": "urgent",
        "cost": {"amount": 120000000, "currency": "IRR"}}, ensure_ascii=False)))
    ok(xrm("records", "create", "asset", "--data", json.dumps({
        "asset_id": "0b7d6c9e-2f1a-4b3c-8d7e-6f5a4b3c2d1e", "name": "Zone 4",
        "root": {"kind": "main", "children": [{"kind": "branch", "children": [{"kind": "valve", "label": "V1"}]}]}})))

    def fresh(*args):
        return cli("--db", other_db_url, *args)  # the last --db wins

    ok(fresh("init", "--admin-password", "pw"))
    for definition in (SERVICE_POINT, WORK_ORDER, ASSET):
        path = tmp_path / f"{definition['name']}.json"
        ok(fresh("types", "add", str(path)))
    for fmt in ("csv", "jsonl"):
        for type_name in ("service_point", "work_order", "asset"):
            out = tmp_path / f"{type_name}.{fmt}"
            ok(xrm("export", type_name, "-o", str(out)))
            ok(fresh("import", type_name, str(out)))
            # The same data (a CSV's columns come in declaration order, so keys may not).
            assert sorted(map(_text, listed(fresh, type_name))) == sorted(map(_text, listed(xrm, type_name))), \
                (type_name, fmt)
            for record in json.loads(ok(fresh("records", "list", type_name, "--json")).stdout):
                ok(fresh("records", "delete", record["id"]))


def test_a_type_change_over_stored_records_is_refused_with_count_ids_and_pointers(xrm, db_url, tmp_path):
    ok(xrm("records", "create", "asset", "--data", json.dumps({
        "asset_id": "0b7d6c9e-2f1a-4b3c-8d7e-6f5a4b3c2d1e", "name": "Zone 4",
        "root": {"kind": "main", "label": "M", "children": [{"kind": "valve"}]}})))
    bad = json.loads(ok(xrm("records", "create", "asset", "--json", "--data", json.dumps({
        "asset_id": "1b7d6c9e-2f1a-4b3c-8d7e-6f5a4b3c2d1e", "name": "Zone 5",
        "root": {"kind": "main", "label": "M", "children": [{"kind": "branch", "children": [{"kind": "pump"}]}]}}))
                                ).stdout)
    shown = json.loads(ok(xrm("types", "show", "asset", "--json")).stdout)
    shown["schema"]["$defs"]["node"]["properties"]["kind"] = {"enum": ["main", "branch", "valve"]}
    path = tmp_path / "asset2.json"
    path.write_text(json.dumps(shown), encoding="utf-8")
    for extra in (("--dry-run",), ()):
        result = xrm("types", "update", str(path), "--json", *extra)
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        report = json.loads(result.stdout)
        assert (report["checked"], report["invalid"], report["applied"]) == (2, 1, False)
        assert report["records"] == [{"id": bad["id"], "errors": [{
            "pointer": "/data/root/children/0/children/0/kind",
            "message": '"pump" is not one of "main", "branch" or "valve"'}]}]
    assert json.loads(ok(xrm("types", "show", "asset", "--json")).stdout)["version"] == 1


def test_a_kpi_over_an_admin_type_groups_by_a_nested_field_within_calendar_days(xrm, tmp_path):
    good = tmp_path / "points.csv"
    good.write_bytes(GOOD_CSV.encode("utf-8"))
    ok(xrm("import", "service_point", str(good)))
    kpi = tmp_path / "points.kpi.json"
    kpi.write_text(json.dumps({"name": "points_installed", "label": {"en": "Installed", "fa": "نصب‌شده"},
                               "unit": "points", "higher_is_better": True, "entity": "service_point",
                               "time_field": "installed_at", "measure": {"count": True}}, ensure_ascii=False),
                   encoding="utf-8")
    ok(xrm("kpi", "add", str(kpi)))
    # 2025-05-01T08:00:00+03:30 and 2025-05-01T04:30:00Z are written on 1 May; 2025-04-30T23:00Z is not.
    result = json.loads(ok(xrm("kpi", "compute", "points_installed", "--from", "2025-05-01", "--to", "2025-05-01",
                               "--by", "address.city", "--json")).stdout)
    assert (result["value"], result["n"]) == (2, 2)
    assert result["groups"] == [{"key": "Shiraz", "value": 1, "n": 1}, {"key": "Tehran", "value": 1, "n": 1}]
    result = json.loads(ok(xrm("kpi", "compute", "points_installed", "--by", "diameter_mm", "--json")).stdout)
    assert {json.dumps(g["key"]): g["n"] for g in result["groups"]} == {"15": 1, "20": 1, '"other"': 1, "null": 1}


def test_a_unique_key_given_twice_is_refused_and_changes_nothing(xrm, tmp_path):
    before = json.loads(ok(xrm("types", "show", "service_point", "--json")).stdout)
    changed = {k: v for k, v in before.items() if k not in ("version", "source", "records")}
    # "code" again as a one-field list, and the composite key with its fields swapped
    changed["unique"] = before["unique"] + [["code"], ["meter_serial", "address.city"]]
    path = tmp_path / "service_point2.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    for extra in (("--dry-run",), ()):
        result = xrm("types", "update", str(path), *extra)
        assert result.exit_code != 0 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[1:] == [
            "  /unique/3: the same fields as /unique/0: give each unique key once",
            "  /unique/4: the same fields as /unique/2: give each unique key once"]
    assert json.loads(ok(xrm("types", "show", "service_point", "--json")).stdout) == before
