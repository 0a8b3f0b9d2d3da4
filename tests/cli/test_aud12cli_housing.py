"""Acceptance audit 12 through the CLI: a housing association's admin (tenants, flats, repair
requests, rent arrears) and a university's research-partner office (companies, grants with
money amounts) — types, filters, imports and exports, on both engines.

- ``xrm export TYPE`` wrote each record's attributes in the order its engine keeps them:
  as given on SQLite, PostgreSQL's JSONB order (shorter keys first) on PostgreSQL, inside
  nested objects too (JSONL lines, CSV object cells). The same records exported from the two
  engines — a database moved from SQLite to PostgreSQL, checked by comparing exports — then
  differed on every line. Keys are now written sorted, the same on both engines.
- ``--where a.b=x`` and ``--sort a.b`` on a property named ``a.b`` (with the dot) said
  "'a.b' is not a field of tenant", though ``types show`` lists it. A dot always separates a
  path into nested objects (the contract's one filter language, for the CLI, REST, KPIs and
  indexes alike), so such a property cannot be named there: the error now says so and how to
  get a usable name, and ``types add``/``update`` warn of such a property when it is declared.
"""
from __future__ import annotations

import json

import pytest

S = "https://json-schema.org/draft/2020-12/schema"

TENANT = {
    "name": "tenant", "title_field": "full_name", "unique": ["tenant_no"],
    "schema": {"$schema": S, "type": "object", "required": ["tenant_no", "full_name"],
               "properties": {
                   "tenant_no": {"type": "string"}, "full_name": {"type": "string"},
                   "zz": {"type": "integer"}, "aaa": {"type": "boolean"},
                   "a.b": {"type": "string"},
                   "contact": {"type": "object", "properties": {
                       "phone": {"type": "string"}, "city": {"type": "string"}}}}},
}


def _setup(cli, tmp_path, definition=TENANT):
    assert cli("init").exit_code == 0
    (tmp_path / "tenant.json").write_text(json.dumps(definition))
    added = cli("types", "add", str(tmp_path / "tenant.json"))
    assert added.exit_code == 0, added.stderr
    return added


def _create(cli, data):
    made = cli("records", "create", "tenant", "--data", json.dumps(data))
    assert made.exit_code == 0, made.stderr
    return made.stdout.strip()


def test_jsonl_export_writes_keys_sorted_on_either_engine(cli, tmp_path):
    _setup(cli, tmp_path)
    # given in an order that is neither sorted nor PostgreSQL's (shorter keys first)
    _create(cli, {"zz": 1, "tenant_no": "T-1", "full_name": "Ana", "aaa": True,
                  "contact": {"phone": "+44 1", "city": "Leeds"}})
    r = cli("export", "tenant", "--format", "jsonl")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ('{"aaa":true,"contact":{"city":"Leeds","phone":"+44 1"},'
                        '"full_name":"Ana","tenant_no":"T-1","zz":1}\n')


def test_csv_export_writes_object_cells_with_keys_sorted(cli, tmp_path):
    _setup(cli, tmp_path)
    # "zip" comes first as given and in PostgreSQL's order (shorter keys first), not sorted
    _create(cli, {"tenant_no": "T-1", "full_name": "Ana", "contact": {"zip": "LS1", "city": "Leeds"}})
    out = tmp_path / "t.csv"
    r = cli("export", "tenant", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_text().splitlines()[1] == 'T-1,Ana,,,,"{""city"":""Leeds"",""zip"":""LS1""}"'


def test_export_import_export_is_identical(cli, tmp_path):
    _setup(cli, tmp_path)
    _create(cli, {"zz": 2, "tenant_no": "T-2", "full_name": "Bo", "contact": {"phone": "1", "city": "York"}})
    first = tmp_path / "first.jsonl"
    assert cli("export", "tenant", "-o", str(first), "--format", "jsonl").exit_code == 0
    assert cli("records", "delete", json.loads(cli("records", "list", "tenant", "--json").stdout)[0]["id"]).exit_code == 0
    assert cli("import", "tenant", str(first)).exit_code == 0
    again = cli("export", "tenant", "--format", "jsonl")
    assert again.stdout == first.read_text()


@pytest.mark.parametrize("args", [["records", "list", "tenant", "--where", "a.b=x"],
                                  ["records", "list", "tenant", "--sort", "a.b"],
                                  ["export", "tenant", "--where", "a.b=x"]])
def test_a_property_named_with_a_dot_is_explained_when_filtered_on(cli, tmp_path, args):
    _setup(cli, tmp_path)
    _create(cli, {"tenant_no": "T-1", "full_name": "Ana", "a.b": "x"})
    r = cli(*args)
    assert r.exit_code != 0 and r.stdout == ""
    assert "Traceback" not in r.stderr
    assert "'a.b' is not a field of tenant" in r.stderr
    assert "a dot separates a path into nested objects" in r.stderr
    assert "property named 'a.b'" in r.stderr and "rename it" in r.stderr


def test_a_field_path_that_does_not_exist_keeps_the_short_message(cli, tmp_path):
    _setup(cli, tmp_path)
    r = cli("records", "list", "tenant", "--where", "contact.zip=1")
    assert r.exit_code != 0
    assert "'contact.zip' is not a field of tenant" in r.stderr
    assert "dot" not in r.stderr


def test_types_add_and_update_warn_of_a_property_named_with_a_dot(cli, tmp_path):
    added = _setup(cli, tmp_path)
    assert "warning: property 'a.b'" in added.stderr
    assert "cannot be named in filters, sorting, indexes or KPIs" in added.stderr
    definition = json.loads(json.dumps(TENANT))
    definition["schema"]["properties"]["c.d"] = {"type": "string"}
    (tmp_path / "tenant.json").write_text(json.dumps(definition))
    updated = cli("types", "update", str(tmp_path / "tenant.json"))
    assert updated.exit_code == 0, updated.stderr
    assert "warning: property 'c.d'" in updated.stderr  # new: warned of
    assert "'a.b'" not in updated.stderr  # declared before: said when it was added
    del definition["schema"]["properties"]["a.b"], definition["schema"]["properties"]["c.d"]
    (tmp_path / "tenant.json").write_text(json.dumps(definition))
    updated = cli("types", "update", str(tmp_path / "tenant.json"))
    assert updated.exit_code == 0, updated.stderr
    assert "warning" not in updated.stderr


SECTOR = {
    "name": "partner_company", "title_field": "name",
    "schema": {"$schema": S, "type": "object", "required": ["name"],
               "properties": {"name": {"type": "string"},
                              "sector": {"enum": ["Biotechnologie", "\u00c9nergie", "Mat\u00e9riaux"]}}},
}


def test_where_names_an_enum_value_typed_with_decomposed_accents(cli, tmp_path):
    # "Énergie" as macOS and some keyboards write it: E + U+0301 (NFD). The refusal listed
    # the values, "Énergie" among them, looking the same as the value refused.
    _setup(cli, tmp_path, SECTOR)
    r = cli("records", "list", "partner_company", "--where", "sector=E\u0301nergie")
    assert r.exit_code != 0 and r.stdout == ""
    assert "decomposed" in r.stderr and "NFD" in r.stderr
    assert "'\u00c9nergie'" in r.stderr  # the value to type, as the schema writes it
    # a plain typo gets no such hint
    r = cli("records", "list", "partner_company", "--where", "sector=Energie")
    assert r.exit_code != 0 and "not among the values" in r.stderr and "NFD" not in r.stderr


def test_types_update_tells_of_values_a_removed_property_leaves_undeclared(cli, tmp_path):
    # An admin drops "zz" and "a.b" from the schema: the records keep their values (nothing is
    # lost), valid, but the change said only "all valid" — not that 2 records still hold a
    # value of zz the type no longer declares (a CSV export then leaves it out).
    _setup(cli, tmp_path)
    _create(cli, {"tenant_no": "T-1", "full_name": "Ana", "zz": 1, "a.b": "x"})
    _create(cli, {"tenant_no": "T-2", "full_name": "Bo", "zz": 2})
    _create(cli, {"tenant_no": "T-3", "full_name": "Cy"})
    definition = json.loads(json.dumps(TENANT))
    del definition["schema"]["properties"]["zz"], definition["schema"]["properties"]["a.b"]
    (tmp_path / "tenant.json").write_text(json.dumps(definition))
    dry = cli("types", "update", str(tmp_path / "tenant.json"), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["applied"] is False  # stdout stays one JSON document
    assert "note: 2 tenant records hold zz, which the schema would no longer declare" in dry.stderr
    assert "note: 1 tenant record holds 'a.b', which the schema would no longer declare" in dry.stderr
    done = cli("types", "update", str(tmp_path / "tenant.json"))
    assert done.exit_code == 0, done.stderr
    assert "note: 2 tenant records hold zz, which the schema no longer declares" in done.stderr
    assert "kept as stored" in done.stderr
    # the values are kept
    listed = json.loads(cli("records", "list", "tenant", "--json", "--sort", "tenant_no").stdout)
    assert [r["data"].get("zz") for r in listed] == [1, 2, None]
    # a property removed that no record holds, and an unchanged type, say nothing
    again = cli("types", "update", str(tmp_path / "tenant.json"))
    assert again.exit_code == 0 and "note:" not in again.stderr
