"""Acceptance audit 11 through the CLI: the admin of a university's alumni-and-donors office
adds types of their own (alumni with Persian and Chinese names, donations with money
amounts in several currencies, ``const``/``dependentSchemas``/``patternProperties``) and
filters and imports them — on both engines.

- ``--where anonymous=true`` on a ``const: false`` field was refused in Python's words
  (``True is not among the values``): a value the user typed as JSON is named as JSON.
- A money amount with more digits than a double holds (``12345678901234567.01``) was
  stored rounded (``1.2345678901234568e+16``) without a word, from ``--data``, JSON Lines
  and CSV alike: it is refused with its pointer (store such a number as a string), as an
  integer beyond 64 bits already was.
- ``kpi compute --by given_at`` (a date-time) made two groups of one instant written with two
  offsets: groups are keyed by the instant, as filters and unique keys see it.
- A value a ``dependentSchemas`` entry refuses ('"pledge" was expected') now says which
  present property brought the entry in.
"""
from __future__ import annotations

import json

S = "https://json-schema.org/draft/2020-12/schema"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

DONATION = {
    "name": "donation", "title_field": "ref", "indexes": ["given_at", "amount.currency"],
    "unique": [["campaign", "ref"]],
    "schema": {
        "$schema": S, "type": "object", "required": ["ref", "campaign", "amount", "kind"],
        "allOf": [{"properties": {"ref": {"type": "string"}, "campaign": {"type": "string"},
                                  "kind": {"enum": ["gift", "pledge"]}}}],
        "properties": {
            "amount": {"$ref": COMMON + "money"},
            "given_at": {"type": "string", "format": "date-time"},
            "due_date": {"type": "string", "format": "date"},
            "anonymous": {"const": False},
            "memo": {"type": "string"}},
        "patternProperties": {"^n_[a-z]+$": {"type": "integer"}},
        "dependentSchemas": {"due_date": {"properties": {"kind": {"const": "pledge"}}}},
        "unevaluatedProperties": False},
}


def _setup(cli, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "donation.json").write_text(json.dumps(DONATION))
    added = cli("types", "add", str(tmp_path / "donation.json"))
    assert added.exit_code == 0, added.stderr


def test_where_names_a_value_never_held_as_json(cli, tmp_path):
    _setup(cli, tmp_path)
    r = cli("records", "list", "donation", "--where", "anonymous=true")
    assert r.exit_code != 0 and r.stdout == ""
    assert "true is not among the values of anonymous (false): no record can match" in r.stderr
    assert "True" not in r.stderr
    # a text value keeps its quotes, so that a value with spaces is seen whole
    r = cli("records", "list", "donation", "--where", "kind=gfit")
    assert "'gfit' is not among the values of kind (gift, pledge)" in r.stderr
    # the value that can be held still lists
    assert cli("records", "list", "donation", "--where", "anonymous=false").exit_code == 0


ROW = {"ref": "R1", "campaign": "C1", "kind": "gift", "given_at": "2026-01-05T10:00:00+03:30"}


def test_a_number_a_double_cannot_keep_is_refused_not_rounded(cli, tmp_path):
    _setup(cli, tmp_path)
    long = '{"ref": "R1", "campaign": "C1", "kind": "gift", "amount": {"amount": 12345678901234567.01, "currency": "IRR"}}'
    r = cli("records", "create", "donation", "--data", long)
    assert r.exit_code != 0 and r.stdout == ""
    assert "/amount/amount: 12345678901234567.01 has more digits than a number keeps" in r.stderr
    assert "1.2345678901234568e+16" in r.stderr and "Traceback" not in r.stderr
    # JSON Lines and CSV (dotted columns, a number cell) alike, every such row by line and pointer
    (tmp_path / "d.jsonl").write_text(
        json.dumps({**ROW, "amount": {"amount": 19.99, "currency": "IRR"}}) + "\n"
        + long.replace('"R1"', '"R2"') + "\n"
        + '{"ref": "R3", "campaign": "C1", "kind": "gift", "amount": {"amount": 100.000000000000001, "currency": "IRR"}}\n'
        + '{"ref": "R4", "campaign": "C1", "kind": "gift", "amount": {"amount": 12.5, "currency": "IRR"}, "n_x": 1e-400}\n')
    r = cli("import", "donation", str(tmp_path / "d.jsonl"), "--json")
    assert r.exit_code != 0
    report = json.loads(r.stdout)
    assert [(i["line"], [e["pointer"] for e in i["errors"]]) for i in report["invalid"]] == [
        (2, ["/amount/amount"]), (3, ["/amount/amount"])]
    assert "would be stored as 100.0" in report["invalid"][1]["errors"][0]["message"]
    assert report["valid"] == 2  # 1e-400 is 0 to every JSON reader: a number, not a loss
    (tmp_path / "d.csv").write_text("ref,campaign,kind,amount.amount,amount.currency,n_items\r\n"
                                    "R1,C1,gift,19.99,IRR,2\r\n"
                                    "R2,C1,gift,12345678901234567.01,IRR,3\r\n"
                                    "R3,C1,gift,1,IRR,9007199254740993.0\r\n")
    r = cli("import", "donation", str(tmp_path / "d.csv"), "--json")
    report = json.loads(r.stdout)
    assert r.exit_code != 0 and report["imported"] == 0
    assert [(i["line"], [e["pointer"] for e in i["errors"]]) for i in report["invalid"]] == [
        (3, ["/amount/amount"]), (4, ["/n_items"])]
    assert cli("records", "list", "donation", "--json").stdout.strip() == "[]"


def test_money_amounts_a_double_keeps_are_stored_as_written(cli, tmp_path):
    """17 significant digits that read back alike (0.30000000000000004), an exponent, a
    trailing zero and a 16-digit text are no loss: they are stored, and 0.1 + 0.2 sums to 0.3."""
    _setup(cli, tmp_path)
    amounts = ["0.1", "0.2", "19.99", "1e2", "4.350", "9999999999.99"]
    lines = [json.dumps({**ROW, "ref": f"R{i}", "memo": "کارت 1234567890123456 银行", "n_items": 1234567890123456})[:-1]
             + f', "amount": {{"amount": {a}, "currency": "USD"}}}}\n' for i, a in enumerate(amounts)]
    (tmp_path / "ok.jsonl").write_text("".join(lines))
    r = cli("import", "donation", str(tmp_path / "ok.jsonl"), "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    r = cli("records", "create", "donation", "--data",
            json.dumps({**ROW, "ref": "X", "amount": {"amount": 0.30000000000000004, "currency": "EUR"}}))
    assert r.exit_code == 0, r.stderr
    (tmp_path / "sum.json").write_text(json.dumps({
        "name": "usd_total", "label": {"en": "Giving", "fa": "کمک‌ها", "zh": "捐赠"}, "unit": "USD",
        "entity": "donation", "measure": {"sum": "amount.amount"}, "where": {"amount.currency": "USD",
                                                                            "ref": {"in": ["R0", "R1"]}}}))
    assert cli("kpi", "add", str(tmp_path / "sum.json")).exit_code == 0
    assert json.loads(cli("kpi", "compute", "usd_total", "--json").stdout)["value"] == 0.3


def test_by_a_date_time_field_groups_one_instant_once(cli, tmp_path):
    """Two spellings of one instant (+03:30 and Z) are one group, keyed by its normal form, as
    filters, sorts and unique keys already treat them."""
    _setup(cli, tmp_path)
    rows = [{**ROW, "ref": "T1", "given_at": "2026-06-01T03:30:00+03:30", "amount": {"amount": 1, "currency": "EUR"}},
            {**ROW, "ref": "T2", "given_at": "2026-06-01T00:00:00Z", "amount": {"amount": 2, "currency": "EUR"}},
            {**ROW, "ref": "T3", "given_at": "2026-06-01T00:00:01Z", "amount": {"amount": 4, "currency": "EUR"}}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("import", "donation", str(tmp_path / "t.jsonl")).exit_code == 0
    (tmp_path / "eur.json").write_text(json.dumps({
        "name": "eur_total", "label": "EUR", "unit": "EUR", "entity": "donation", "time_field": "given_at",
        "measure": {"sum": "amount.amount"}}))
    assert cli("kpi", "add", str(tmp_path / "eur.json")).exit_code == 0
    r = cli("kpi", "compute", "eur_total", "--by", "given_at", "--json")
    assert r.exit_code == 0, r.stderr
    assert [(g["key"], g["value"], g["n"]) for g in json.loads(r.stdout)["groups"]] == [
        ("2026-06-01T00:00:00.000000Z", 3, 2), ("2026-06-01T00:00:01.000000Z", 4, 1)]


def test_an_error_a_dependent_schema_asks_for_says_which_property_asked(cli, tmp_path):
    """A ``due_date`` makes ``dependentSchemas`` ask for kind "pledge": the refusal of a gift
    with a due date said only '"pledge" was expected', which a gift's author cannot place."""
    _setup(cli, tmp_path)
    r = cli("records", "create", "donation", "--data", json.dumps(
        {**ROW, "due_date": "2026-05-01", "amount": {"amount": 5, "currency": "USD"}}))
    assert r.exit_code != 0 and r.stdout == ""
    assert ('/data/kind: "pledge" was expected (because "due_date" is present: '
            "the schema's dependentSchemas)") in r.stderr
    # the same words in an import's report, and nothing else changes wording
    (tmp_path / "d.jsonl").write_text(json.dumps({**ROW, "due_date": "2026-05-01", "kind": "gift",
                                                  "amount": {"amount": 5, "currency": "usd"}}) + "\n")
    report = json.loads(cli("import", "donation", str(tmp_path / "d.jsonl"), "--json").stdout)
    assert report["invalid"][0]["errors"] == [
        {"pointer": "/amount/currency", "message": '"usd" does not match "^[A-Z]{3}$"'},
        {"pointer": "/kind", "message": '"pledge" was expected (because "due_date" is present: '
                                        "the schema's dependentSchemas)"}]
