"""Acceptance audit 10 through the CLI: an admin of a municipal water utility adds types of
their own (accounts with a discriminated ``oneOf`` billing preference, ``if``/``then``/
``else`` on the kind of account, ``unevaluatedProperties: false``) and filters, labels and
measures them — on both engines.

A field declared in every branch of a ``oneOf`` (``billing.method``: ``direct_debit`` in one,
``invoice`` in the other) holds the values of all branches; ``--where``, KPI filters and
``value_labels`` took the first branch alone and refused ``invoice`` as a value no record
can hold."""
from __future__ import annotations

import json

S = "https://json-schema.org/draft/2020-12/schema"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

ACCOUNT = {
    "name": "account", "title_field": "name", "indexes": ["opened_at", "billing.method"],
    "unique": ["account_no", ["utility_code", "national_id"]],
    "schema": {
        "$schema": S, "type": "object", "required": ["account_no", "name", "kind", "utility_code"],
        "properties": {
            "account_no": {"type": "string", "pattern": "^AC[0-9]{5}$"},
            "utility_code": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"enum": ["household", "business"]},
            "national_id": {"type": "string"},
            "company_id": {"type": "string"},
            "opened_at": {"type": "string", "format": "date-time"},
            "address": {"$ref": COMMON + "address"},
            "billing": {"oneOf": [
                {"type": "object", "required": ["method", "iban"], "additionalProperties": False,
                 "properties": {"method": {"const": "direct_debit"}, "iban": {"type": "string"}}},
                {"type": "object", "required": ["method"], "additionalProperties": False,
                 "properties": {"method": {"const": "invoice"}, "email": {"$ref": COMMON + "email"}}}]}},
        "if": {"properties": {"kind": {"const": "business"}}, "required": ["kind"]},
        "then": {"required": ["company_id"], "properties": {"segment": {"enum": ["retail", "industry"]}}},
        "else": {"required": ["national_id"], "properties": {"segment": {"const": "home"}}},
        "unevaluatedProperties": False},
}

ROWS = [
    {"account_no": "AC00001", "utility_code": "W1", "name": "Smith", "kind": "household",
     "national_id": "0123456789", "opened_at": "2025-01-05T10:00:00+03:30", "segment": "home",
     "billing": {"method": "invoice", "email": "smith@example.org"}},
    {"account_no": "AC00002", "utility_code": "W1", "name": "Acme", "kind": "business", "company_id": "C-77",
     "opened_at": "2025-02-01T00:00:00Z", "segment": "industry",
     "billing": {"method": "direct_debit", "iban": "IR12"}},
    {"account_no": "AC00003", "utility_code": "W2", "name": "Zed", "kind": "household",
     "national_id": "1111111111", "opened_at": "2025-03-01T23:30:00-05:00", "segment": "home"},
]


def _setup(cli, tmp_path, definition=ACCOUNT):
    assert cli("init").exit_code == 0
    (tmp_path / "account.json").write_text(json.dumps(definition))
    added = cli("types", "add", str(tmp_path / "account.json"))
    assert added.exit_code == 0, added.stderr
    (tmp_path / "accounts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    imported = cli("import", "account", str(tmp_path / "accounts.jsonl"))
    assert imported.exit_code == 0, imported.stderr


def _listed(cli, *where):
    r = cli("records", "list", "account", *[a for w in where for a in ("--where", w)], "--json")
    assert r.exit_code == 0, r.stderr
    return sorted(rec["data"]["account_no"] for rec in json.loads(r.stdout))


def test_where_takes_the_value_of_every_oneof_branch(cli, tmp_path):
    _setup(cli, tmp_path)
    assert _listed(cli, "billing.method=invoice") == ["AC00001"]
    assert _listed(cli, "billing.method=direct_debit") == ["AC00002"]
    exported = cli("export", "account", "--where", "billing.method=invoice")
    assert exported.exit_code == 0, exported.stderr
    assert [json.loads(x)["account_no"] for x in exported.stdout.splitlines()] == ["AC00001"]
    # a typo is still refused, naming the values of both branches
    r = cli("records", "list", "account", "--where", "billing.method=invoise")
    assert r.exit_code != 0 and r.stdout == ""
    assert "not among the values of billing.method (direct_debit, invoice)" in r.stderr


def test_where_takes_the_values_of_then_and_else(cli, tmp_path):
    _setup(cli, tmp_path)
    assert _listed(cli, "segment=home") == ["AC00001", "AC00003"]
    assert _listed(cli, "segment=industry") == ["AC00002"]
    r = cli("records", "list", "account", "--where", "segment=hom")
    assert r.exit_code != 0 and "not among the values of segment (retail, industry, home)" in r.stderr


def test_a_kpi_may_filter_on_a_value_of_a_later_branch(cli, tmp_path):
    _setup(cli, tmp_path)
    kpi = {"name": "invoice_share", "label": "Paid by invoice", "unit": "%", "entity": "account",
           "time_field": "opened_at", "measure": {"share": {"billing.method": "invoice"}},
           "where": {"segment": {"in": ["home", "industry"]}}}
    (tmp_path / "k.json").write_text(json.dumps(kpi))
    added = cli("kpi", "add", str(tmp_path / "k.json"))
    assert added.exit_code == 0, added.stderr
    r = cli("kpi", "compute", "invoice_share", "--from", "2025-01-01", "--to", "2025-12-31", "--by", "kind", "--json")
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout)
    assert (round(result["value"], 4), result["n"]) == (33.3333, 3)
    assert {g["key"]: (g["value"], g["n"]) for g in result["groups"]} == {"business": (0, 1), "household": (50, 2)}


def test_value_labels_may_label_a_value_of_a_later_branch(cli, tmp_path):
    labelled = {**ACCOUNT, "value_labels": {"billing.method": {"direct_debit": "Direct debit", "invoice": "Invoice"},
                                            "segment": {"home": "Home", "industry": "Industry"}}}
    _setup(cli, tmp_path, labelled)
    shown = cli("types", "show", "account", "--json")
    assert json.loads(shown.stdout)["value_labels"]["billing.method"]["invoice"] == "Invoice"
    # a value no branch holds is still refused
    wrong = {**ACCOUNT, "value_labels": {"billing.method": {"cheque": "Cheque"}}}
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    r = cli("types", "update", str(tmp_path / "wrong.json"))
    assert r.exit_code != 0 and "'cheque' is not one of the values of 'billing.method'" in r.stderr


METER = {
    "name": "meter", "title_field": "serial", "unique": [["utility_code", "serial"]],
    "indexes": ["installed_at", "location.zone"],
    "schema": {"$schema": S, "type": "object", "required": ["serial", "utility_code"], "additionalProperties": False,
               "properties": {
                   "serial": {"type": "string", "pattern": "^M-[0-9]{4}$"},
                   "utility_code": {"type": "string"},
                   "installed_at": {"type": "string", "format": "date-time"},
                   "location": {"type": "object", "properties": {"zone": {"type": "string"}}},
                   # [seal number as printed, seal colour code]
                   "seal": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                            "items": False},
                   "flags": {"type": "array", "prefixItems": [{"type": "boolean"}], "items": {"type": "string"}},
                   "last_reading": {"type": ["number", "null"]}}},
}


def test_csv_cells_of_a_positional_array_take_each_positions_type(cli, other_db_url, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "meter.json").write_text(json.dumps(METER))
    assert cli("types", "add", str(tmp_path / "meter.json")).exit_code == 0
    (tmp_path / "meters.csv").write_bytes(
        "\ufeffserial,utility_code,installed_at,location.zone,seal,flags,last_reading\r\n"
        "M-0001,W1,2024-05-01T08:00:00+04:30,north,12;5,yes;1;true,null\r\n"
        'M-0002,W1,,south,"[""07"", 3]",no,5.5\r\n'.encode())
    r = cli("import", "meter", str(tmp_path / "meters.csv"), "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout) == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    listed = json.loads(cli("records", "list", "meter", "--json").stdout)
    held = {m["data"]["serial"]: m["data"] for m in listed}
    assert held["M-0001"]["seal"] == ["12", 5] and held["M-0001"]["flags"] == [True, "1", "true"]
    assert held["M-0001"]["last_reading"] is None and held["M-0002"]["seal"] == ["07", 3]
    # the export reads back into a fresh database as the same data
    exported = cli("export", "meter", "-o", str(tmp_path / "out.csv"))
    assert exported.exit_code == 0, exported.stderr
    for args in (["init"], ["types", "add", str(tmp_path / "meter.json")],
                 ["import", "meter", str(tmp_path / "out.csv")]):
        done = cli("--db", other_db_url, *args)  # the last --db wins
        assert done.exit_code == 0, done.stderr
    again = json.loads(cli("--db", other_db_url, "records", "list", "meter", "--json").stdout)
    assert {m["data"]["serial"]: m["data"] for m in again} == held
