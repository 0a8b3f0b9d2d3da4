"""Acceptance audit 14 through the CLI: a food bank (donors, volunteers, donations) adopting
xRM from the command line, on both engines.

- ``records list --where skills=driving`` (and ``export --where``) on an array or object
  field said "cannot compare a field of type array; use exists", but ``--where`` has no
  ``exists``: the CLI user could not follow the advice. The CLI tests presence with
  ``FIELD!=null`` (present) and ``FIELD=null`` (absent), and now says so.
- An Excel export's number cell with a thousands separator or a decimal comma ("1,234.50",
  "1.234,50") or a currency sign ("$5") was refused as "'1,234.50' is not a number", leaving
  the admin to guess what the importer wants. It now says how to write it.
- An unexpected error whose message names the database crashed the error handler itself
  when the database could not be described (a half-upgraded install whose platform module
  fails to import): a traceback instead of one line.
"""
from __future__ import annotations

import json

S = "https://json-schema.org/draft/2020-12/schema"

VOLUNTEER = {
    "name": "volunteer", "title_field": "full_name",
    "schema": {"$schema": S, "type": "object", "required": ["full_name"], "additionalProperties": False,
               "properties": {
                   "full_name": {"type": "string"},
                   "contact": {"type": "object", "properties": {"email": {"type": "string"}}},
                   "skills": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                   "hours": {"type": "number"}, "shifts": {"type": "integer"}}},
}


def _setup(cli, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "volunteer.json").write_text(json.dumps(VOLUNTEER))
    added = cli("types", "add", str(tmp_path / "volunteer.json"))
    assert added.exit_code == 0, added.stderr
    for data in ({"full_name": "Maria", "skills": ["driving"], "contact": {"email": "m@x.org"}},
                 {"full_name": "Bob"}):
        made = cli("records", "create", "volunteer", "--data", json.dumps(data))
        assert made.exit_code == 0, made.stderr


def test_where_on_an_array_field_says_how_the_cli_tests_presence(cli, tmp_path):
    _setup(cli, tmp_path)
    for args in (("records", "list", "volunteer"), ("export", "volunteer")):
        r = cli(*args, "--where", "skills=driving")
        assert r.exit_code == 2
        assert "use exists" not in r.stderr, r.stderr
        assert "skills!=null" in r.stderr and "skills=null" in r.stderr, r.stderr
        assert "/where/skills/eq" in r.stderr
        assert "Traceback" not in r.stderr
    r = cli("records", "list", "volunteer", "--where", "contact>a")
    assert r.exit_code == 2 and "contact!=null" in r.stderr and "use exists" not in r.stderr, r.stderr
    # the advice works
    found = cli("records", "list", "volunteer", "--where", "skills!=null", "--json")
    assert found.exit_code == 0, found.stderr
    assert [x["data"]["full_name"] for x in json.loads(found.stdout)] == ["Maria"]
    absent = cli("records", "list", "volunteer", "--where", "skills=null", "--json")
    assert [x["data"]["full_name"] for x in json.loads(absent.stdout)] == ["Bob"]


def test_spreadsheet_number_cells_say_how_to_write_the_number(cli, tmp_path):
    _setup(cli, tmp_path)
    f = tmp_path / "v.csv"
    f.write_bytes("full_name,hours,shifts\r\nA,\"1,234.50\",1\r\nB,\"1.234,50\",2\r\nC,$5,3\r\n"
                  "D,2,\"1,200\"\r\nE,abc,4\r\n".encode("utf-8-sig"))
    r = cli("import", "volunteer", str(f), "--json")
    assert r.exit_code == 2
    report = json.loads(r.stdout)
    assert report["imported"] == 0
    msgs = {(row["line"], e["pointer"]): e["message"] for row in report["invalid"] for e in row["errors"]}
    sep = "a dot for decimals and no thousands separators"
    assert msgs[(2, "/hours")].startswith("'1,234.50' is not a number") and sep in msgs[(2, "/hours")]
    assert sep in msgs[(3, "/hours")]
    assert "currency sign" in msgs[(4, "/hours")]
    assert msgs[(5, "/shifts")].startswith("'1,200' is not an integer") and "digits only" in msgs[(5, "/shifts")]
    assert msgs[(6, "/hours")] == "'abc' is not a number"  # nothing to suggest
    assert cli("records", "list", "volunteer", "--json").stdout.count('"full_name"') == 2  # nothing imported


def test_an_error_naming_no_describable_database_is_still_one_line(monkeypatch):
    from xrm_core.cli import main as cli_main
    from xrm_core.cli.context import CliContext

    def broken(self):
        raise AttributeError("time_zone")  # as a half-upgraded install's platform module did

    monkeypatch.setattr(CliContext, "describe", broken)
    c = CliContext(None, None)
    assert cli_main._explain(RuntimeError("boom"), c) == "RuntimeError: boom (set XRM_DEBUG=1 for the traceback)"


SHIFT = {
    "name": "shift", "unique": [["site", "starts_at"]],
    "schema": {"$schema": S, "type": "object", "required": ["site", "starts_at"], "additionalProperties": False,
               "properties": {"site": {"type": "string"}, "starts_at": {"type": "string", "format": "date-time"},
                              "role": {"type": "string"}, "status": {"enum": ["open", "full", "cancelled"]}}},
}


def test_type_update_reports_a_unique_clash_with_the_records_it_would_make_invalid(cli, tmp_path):
    """A change that both narrows an enum the records use and adds a unique key they share
    reported only the invalid records: the clash came up after they were fixed, as a second
    refusal. The dry run (and the refusal) now report both at once, and change nothing."""
    assert cli("init").exit_code == 0
    (tmp_path / "shift.json").write_text(json.dumps(SHIFT))
    assert cli("types", "add", str(tmp_path / "shift.json")).exit_code == 0
    ids = []
    for day in ("02", "03"):
        made = cli("records", "create", "shift", "--data", json.dumps(
            {"site": "SPR", "starts_at": f"2025-03-{day}T09:00:00Z", "role": "driving", "status": "full"}))
        assert made.exit_code == 0, made.stderr
        ids.append(made.stdout.strip())
    changed = json.loads(json.dumps(SHIFT))
    changed["unique"].append("role")
    changed["schema"]["properties"]["status"]["enum"] = ["open", "cancelled"]
    (tmp_path / "shift2.json").write_text(json.dumps(changed))
    for extra in (("--dry-run",), ()):
        r = cli("types", "update", str(tmp_path / "shift2.json"), "--json", *extra)
        assert r.exit_code != 0
        report = json.loads(r.stdout)
        assert report["invalid"] == 2 and report["applied"] is False
        assert [x["pointer"] for x in report["errors"]] == ["/unique/1"], report
        assert "role=\"driving\" is shared by 2 records" in report["errors"][0]["message"]
        assert "/unique/1" in r.stderr and "/data/status" in r.stderr, r.stderr
    shown = json.loads(cli("types", "show", "shift", "--json").stdout)
    assert shown["version"] == 1 and shown["unique"] == [["site", "starts_at"]]


def test_text_output_shows_object_values_with_keys_sorted_on_either_engine(cli, tmp_path):
    """`xrm history` (and `records get`/`list`) showed a nested object's keys in the order the
    engine keeps them: as given on SQLite, JSONB's (shorter keys first: to, day, from) on
    PostgreSQL — the same change read differently on the two engines, and neither as
    `xrm export` writes it. Text output now sorts them, as export does."""
    definition = json.loads(json.dumps(VOLUNTEER))
    definition["schema"]["properties"]["availability"] = {"type": "array", "items": {"type": "object"}}
    assert cli("init").exit_code == 0
    (tmp_path / "volunteer.json").write_text(json.dumps(definition))
    assert cli("types", "add", str(tmp_path / "volunteer.json")).exit_code == 0
    made = cli("records", "create", "volunteer", "--data",
               '{"full_name": "Maria", "contact": {"email": "m@x.org", "city": "York"}}')
    rid = made.stdout.strip()
    r = cli("records", "update", rid, "--data", '{"availability": [{"to": "12:00", "day": "sat", "from": "09:00"}]}')
    assert r.exit_code == 0, r.stderr
    history = cli("history", rid).stdout
    assert '(absent) → [{"day":"sat","from":"09:00","to":"12:00"}]' in history, history
    shown = cli("records", "get", rid).stdout
    assert '{"city":"York","email":"m@x.org"}' in shown, shown


def test_a_value_no_anyof_option_takes_by_format_or_pattern_says_what_they_expect(cli, tmp_path):
    """A pantry's contact is an e-mail address or a phone number (anyOf two common.json
    $defs): "not-a-contact" got only "… is not valid under any of the schemas listed in the
    'anyOf' keyword", naming neither. Options that refuse the value by its format or pattern
    now say what they expect, as those refusing it by type, const or enum did."""
    common = "https://xrm.dev/schemas/common.json#/$defs/"
    site = {"name": "pantry_site", "schema": {"$schema": S, "type": "object", "properties": {
        "code": {"type": "string"},
        "contact": {"anyOf": [{"$ref": common + "email"}, {"$ref": common + "phone"}]},
        "ref": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "minLength": 40}]}}}}
    assert cli("init").exit_code == 0
    (tmp_path / "site.json").write_text(json.dumps(site))
    assert cli("types", "add", str(tmp_path / "site.json")).exit_code == 0
    (tmp_path / "sites.csv").write_text("code,contact\nSPR,not-a-contact\nSHE,she@example.org\nNOR,+1 555 0111\n")
    r = cli("import", "pantry_site", str(tmp_path / "sites.csv"), "--json")
    assert r.exit_code == 2
    [row] = json.loads(r.stdout)["invalid"]
    assert row["line"] == 2
    assert row["errors"] == [{"pointer": "/contact", "message": (
        "\"not-a-contact\" is not valid under any of the schemas listed in the 'anyOf' keyword "
        "(expected a valid email (e.g. name@example.org), or text matching \"^\\\\+?[0-9][0-9 ()\\\\-]{3,24}$\")")}]
    # an option refusing the value by another keyword (minimum) still leaves the summary alone
    made = cli("records", "create", "pantry_site", "--data", '{"code": "X", "ref": "abc"}')
    assert made.exit_code == 2
    assert "/data/ref: \"abc\" is not valid under any of the schemas listed in the 'anyOf' keyword\n" in made.stderr


def test_a_file_refused_after_one_row_says_row_not_rows(cli, tmp_path):
    """'of the 1 rows before line 3, 1 were valid and 0 invalid': one row is a row."""
    _setup(cli, tmp_path)
    (tmp_path / "v.csv").write_text('full_name,hours\nAna,1\n"Bob,2\n')
    r = cli("import", "volunteer", str(tmp_path / "v.csv"))
    assert r.exit_code == 2
    assert "of the 1 row before line 3, 1 was valid and 0 invalid (nothing imported)" in r.stderr, r.stderr
