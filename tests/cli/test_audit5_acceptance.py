"""Acceptance audit 5: a third-party plugin written from DESIGN.md alone (a university's
alumni and gifts), through the CLI, on both engines."""
from __future__ import annotations

import json

import pytest

from xrm_core import hookimpl

GIFT = {
    "name": "gift", "title_field": "reference", "unique": ["reference"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        # The usual way to extend a schema in 2020-12: parts in allOf, closed by
        # unevaluatedProperties (additionalProperties would not see into allOf).
        "allOf": [{"properties": {"reference": {"type": "string"},
                                  "amount": {"type": "number", "multipleOf": 0.01, "exclusiveMinimum": 0}},
                   "required": ["reference", "amount"]}],
        "properties": {
            "received_on": {"type": "string", "format": "date"},
            "pledged_at": {"type": "string", "format": "date-time"},
            "paid_at": {"type": "string", "format": "date-time"},
            "anonymous": {"type": "boolean"},
            # a map of network -> handle: any lower-case key
            "social": {"type": "object", "patternProperties": {"^[a-z]+$": {"type": "string"}},
                       "additionalProperties": False},
        },
        "unevaluatedProperties": False,
    },
}


class AlumniPlugin:
    __name__ = "alumni"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [GIFT]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        # DESIGN §3 writes this measure as {"avg_duration": [START, END], "in": "hours"}.
        return [{"name": "pledge_to_payment", "label": "Pledge to payment", "unit": "days",
                 "entity": "gift", "time_field": "received_on",
                 "measure": {"avg_duration": ["pledged_at", "paid_at"], "in": "days"}}]


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(AlumniPlugin(),), input=input)
    result = run("init", "--admin-password", "pw")
    assert result.exit_code == 0, result.stderr
    return run


def create(xrm, data: dict):
    result = xrm("records", "create", "gift", "--data", json.dumps(data), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_avg_duration_takes_its_unit_inside_the_measure_as_design_writes_it(xrm):
    create(xrm, {"reference": "G-1", "amount": 10, "received_on": "2025-02-01",
                 "pledged_at": "2025-01-01T00:00:00Z", "paid_at": "2025-01-03T12:00:00Z"})
    result = xrm("kpi", "compute", "pledge_to_payment", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"kpi": "pledge_to_payment", "value": 2.5, "unit": "days", "n": 1,
                                         "from": None, "to": None, "groups": []}


def test_kpi_add_takes_the_unit_inside_the_measure_and_refuses_two_different_units(xrm, tmp_path):
    kpi = {"name": "pledge_hours", "entity": "gift", "measure": {"avg_duration": ["pledged_at", "paid_at"],
                                                                 "in": "hours"}}
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kpi), encoding="utf-8")
    assert xrm("kpi", "add", str(path)).exit_code == 0
    listed = {k["name"]: k for k in json.loads(xrm("kpi", "list", "--json").stdout)}
    assert listed["pledge_hours"]["in"] == "hours"
    path.write_text(json.dumps({**kpi, "name": "pledge_both", "in": "days"}), encoding="utf-8")
    result = xrm("kpi", "add", str(path))
    assert result.exit_code == 2
    assert "/measure/in" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_value_in_an_allof_part_is_not_echoed_as_unevaluated_properties(xrm):
    result = xrm("records", "create", "gift", "--data", '{"reference": "G-1", "amount": 1.001}')
    assert result.exit_code == 2
    assert "/data/amount: 1.001 is not a multiple of 0.01" in result.stderr
    # reference is declared and valid, amount's one error is told once
    assert "Unevaluated" not in result.stderr
    # An undeclared property is still refused, beside the other error or alone.
    result = xrm("records", "create", "gift", "--data", '{"reference": "G-1", "amount": 1.001, "extra": 1}')
    assert "/data/extra: Unevaluated properties are not allowed ('extra' was unexpected)" in result.stderr
    assert "/data/reference" not in result.stderr
    result = xrm("records", "create", "gift", "--data", '{"reference": "G-1", "amount": 1, "extra": 1}')
    assert result.exit_code == 2 and "/data/extra" in result.stderr
    assert json.loads(xrm("records", "list", "gift", "--json").stdout) == []


def test_import_report_has_no_unevaluated_echo_either(xrm, tmp_path):
    path = tmp_path / "gifts.jsonl"
    path.write_text('{"reference": "G-1", "amount": 5}\n{"reference": "G-2", "amount": -1}\n', encoding="utf-8")
    result = xrm("import", "gift", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["invalid"] == [
        {"line": 2, "errors": [{"pointer": "/amount", "message": "-1 is less than or equal to the minimum of 0"}]}]


def test_a_pattern_property_is_a_field_for_filters_csv_columns_and_kpi_groups(xrm, tmp_path):
    path = tmp_path / "gifts.csv"
    path.write_bytes("reference,amount,social.twitter,received_on\r\n"
                     "G-1,10,@ada,2025-01-01\r\nG-2,20,,2025-01-02\r\nG-3,30,@ada,2025-01-03\r\n".encode())
    result = xrm("import", "gift", str(path))
    assert result.exit_code == 0, result.stderr
    result = xrm("records", "list", "gift", "--where", "social.twitter=@ada", "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["data"]["reference"] for r in json.loads(result.stdout)) == ["G-1", "G-3"]
    assert json.loads(result.stdout)[0]["data"]["social"] == {"twitter": "@ada"}
    result = xrm("kpi", "compute", "pledge_to_payment", "--by", "social.twitter", "--json")
    assert result.exit_code == 0, result.stderr
    assert [g["key"] for g in json.loads(result.stdout)["groups"]] == ["@ada", None]
    # A key the pattern does not allow is still no field.
    result = xrm("records", "list", "gift", "--where", "social.Twitter=@ada")
    assert result.exit_code == 2 and "'social.Twitter' is not a field of gift" in result.stderr


@pytest.mark.parametrize("cell, value", [("on", True), ("OFF", False), ("Yes", True), ("n", False)])
def test_csv_booleans_in_the_spellings_of_forms_and_spreadsheets(xrm, tmp_path, cell, value):
    path = tmp_path / "gifts.csv"
    path.write_text(f"reference,amount,anonymous\nG-1,1,{cell}\n", encoding="utf-8")
    result = xrm("import", "gift", str(path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(xrm("records", "list", "gift", "--json").stdout)[0]["data"]["anonymous"] is value


def test_types_show_marks_the_fields_an_allof_part_requires(xrm):
    result = xrm("types", "show", "gift")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[4:]}
    assert rows["reference"] == ["string", "yes"] and rows["amount"] == ["number", "yes"]
    assert rows["anonymous"] == ["boolean"]


def test_a_jsonl_row_cut_by_a_raw_line_break_is_told_as_such(xrm, tmp_path):
    path = tmp_path / "gifts.jsonl"
    # An exporter that writes a multi-line note without escaping it.
    path.write_bytes(b'{"reference": "G-1", "amount": 5}\r\n{"reference": "G-2\r\nsecond line", "amount": 5}\r\n')
    result = xrm("import", "gift", str(path), "--json", "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == 1
    assert report["invalid"][0] == {"line": 2, "errors": [{"pointer": "", "message": (
        "invalid JSON: the line ends before its JSON value does "
        "(a line break inside a text? JSON Lines writes it as \\n)")}]}


@pytest.mark.parametrize("dry_run", [True, False])
def test_types_update_json_reports_a_unique_key_stored_records_break(xrm, tmp_path, dry_run):
    first = create(xrm, {"reference": "G-1", "amount": 1, "received_on": "2025-01-01"})
    second = create(xrm, {"reference": "G-2", "amount": 2, "received_on": "2025-01-01"})
    shown = json.loads(xrm("types", "show", "gift", "--json").stdout)
    path = tmp_path / "gift.json"
    path.write_text(json.dumps({**shown, "unique": ["reference", "received_on"]}), encoding="utf-8")
    result = xrm("types", "update", str(path), "--json", *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # one JSON document, as for records that would become invalid
    message = (f'received_on="2025-01-01" is shared by 2 records ({", ".join(sorted([first["id"], second["id"]]))})')
    assert report == {"type": "gift", "checked": 2, "invalid": 0, "records": [], "changed": True, "applied": False,
                      "version": 1, "error": "cannot make received_on unique for gift: stored records share values",
                      "errors": [{"pointer": "/unique/1", "message": message}]}
    assert "/unique/1: " + message in result.stderr
    assert json.loads(xrm("types", "show", "gift", "--json").stdout)["version"] == 1


def test_pattern_properties_match_as_the_validator_matches_them(xrm, tmp_path):
    # \p{L} is ECMA-262 (and the validator's), not Python's re: "گل_x" and "ab_x" are fields.
    kind = {"name": "bag", "schema": {"type": "object", "properties": {"n": {"type": "string"}},
                                      "patternProperties": {"^\\p{L}+_x$": {"type": "integer"}}}}
    (tmp_path / "bag.json").write_text(json.dumps(kind), encoding="utf-8")
    assert xrm("types", "add", str(tmp_path / "bag.json")).exit_code == 0
    path = tmp_path / "bag.csv"
    path.write_text("n,ab_x,گل_x\na,3,04\nb,,5\n", encoding="utf-8")
    result = xrm("import", "bag", str(path))
    assert result.exit_code == 0, result.stderr
    result = xrm("records", "list", "bag", "--where", "گل_x>=4", "--where", "ab_x=3", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["data"] for r in json.loads(result.stdout)] == [{"n": "a", "ab_x": 3, "گل_x": 4}]
    result = xrm("records", "list", "bag", "--where", "1_x=3")
    assert result.exit_code == 2 and "'1_x' is not a field of bag" in result.stderr


def test_kpi_list_as_a_user_lists_the_kpis_the_user_may_compute(xrm):
    assert xrm("units", "create", "desk").exit_code == 0
    assert xrm("roles", "create", "reader").exit_code == 0
    assert xrm("users", "create", "ann", "--unit", "desk", "--role", "reader", "--password", "pw").exit_code == 0
    result = xrm("kpi", "list", "--as", "ann", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []  # no grant on gift: its KPI does not exist for ann
    assert xrm("roles", "grant", "reader", "gift", "read", "--depth", "unit").exit_code == 0
    result = xrm("kpi", "list", "--as", "ann", "--json")
    assert [k["name"] for k in json.loads(result.stdout)] == ["pledge_to_payment"]
    result = xrm("kpi", "list", "--as", "nobody")
    assert result.exit_code == 1 and "unknown user 'nobody'" in result.stderr
