"""The README's CLI tour beyond the lines tests/test_tour.py runs literally: the commands of
its paragraphs "The rest of the data commands", "Definitions" and the CSV notes, on the
tour's admin-defined ``partner`` type (examples/tour/), with the shapes the README and
DESIGN §5 promise — each ``--json`` one JSON document of the documented keys, errors on
stderr with a non-zero status and no traceback — and docs/migrating.md's relationship
example as written. Runs through the ``xrm`` command with the built-in plugins loaded from
their entry points, on SQLite and (with ``XRM_TEST_DATABASE_URL``) PostgreSQL."""
from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "examples" / "tour"
BUILT_IN = {"crm", "prm_dealers", "vrm_suppliers", "voc"}
RECORD_KEYS = {"id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"}  # DESIGN §3
ACTIVITY_KEYS = {"id", "record", "kind", "at", "actor", "summary", "payload"}  # DESIGN §3
IMPORT_KEYS = ["total", "valid", "imported", "invalid"]  # DESIGN §5


@pytest.fixture(autouse=True)
def only_built_in_plugins(monkeypatch):
    """The platform as `pip install .` gives it: another test may have a plugin of its own
    installed for a moment (tests/examples/test_employees_plugin.py)."""
    others = {ep.name for ep in importlib.metadata.entry_points(group="xrm.plugins")} - BUILT_IN
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", ",".join(sorted(others)))


@pytest.fixture
def xrm(cli):
    """Run ``xrm ARGS``; check the exit status; return stdout (parsed with --json), or the
    error on stderr when ``status`` is not 0 (``report=True``: the --json report on stdout)."""

    def run(*args, status=0, input=None, report=False):
        result = cli(*args, entry_points=True, input=input)
        assert result.exit_code == status, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        if report:
            return json.loads(result.stdout)
        if status:
            assert result.stderr.startswith("error: "), result.stderr
            assert result.stdout == ""
            return result.stderr
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


@pytest.fixture
def tour(xrm):
    """The README tour's first steps: init, the partner type, the four partners, the KPI."""
    xrm("init", "--admin-password", "tour-admin")
    xrm("types", "add", TOUR / "partner.json")
    assert xrm("import", "partner", TOUR / "partners.csv") == "4 rows read, 4 imported\n"
    xrm("kpi", "add", TOUR / "partner_rating.kpi.json")
    listed = xrm("records", "list", "partner", "--json")
    return {r["data"]["tax_id"]: r["id"] for r in listed}


def test_records_relationships_and_history(xrm, tour, tmp_path):
    # `xrm records create TYPE --data JSON [--unit U]` (`--data` takes @FILE): the new id alone.
    xrm("units", "create", "north", "--parent", "root")
    (tmp_path / "p.json").write_text('{"name": "Caspian Motors", "tax_id": "1000000005", "rating": 8}',
                                     encoding="utf-8")
    new_id = xrm("records", "create", "partner", "--data", f"@{tmp_path / 'p.json'}", "--unit", "north").strip()
    assert new_id and len(new_id.split()) == 1

    # `records get ID --json`: the contract record.
    got = xrm("records", "get", new_id, "--json")
    assert RECORD_KEYS <= set(got)
    assert (got["id"], got["type"], got["version"], got["unit"], got["owner"]) == (new_id, "partner", 1, "north",
                                                                                    "admin")
    assert got["data"] == {"name": "Caspian Motors", "tax_id": "1000000005", "rating": 8}

    # `records list … --sort F,-F` (and --limit): a JSON array in that order.
    ranked = xrm("records", "list", "partner", "--sort", "-rating,name", "--json")
    assert [r["data"]["rating"] for r in ranked] == [10, 9, 8, 7, 4]
    assert len(xrm("records", "list", "partner", "--sort", "-rating", "--limit", "2", "--json")) == 2

    # `xrm reltypes add FILE`, `xrm relate REL SOURCE_ID TARGET_ID`, `xrm related ID [--rel REL]`.
    (tmp_path / "rel.json").write_text(json.dumps(
        {"name": "partner_refers_partner", "label": "refers", "inverse_label": "referred by", "source": "partner",
         "target": "partner", "cardinality": "many-to-many", "on_delete": "unlink"}), encoding="utf-8")
    xrm("reltypes", "add", tmp_path / "rel.json")
    assert "partner_refers_partner" in [r["name"] for r in xrm("reltypes", "list", "--json")]
    source, target = tour["1000000002"], new_id
    rel = xrm("relate", "partner_refers_partner", source, target, "--json")
    assert set(rel) == {"id", "type", "source", "target", "data"}  # DESIGN §3
    assert (rel["type"], rel["source"], rel["target"]) == ("partner_refers_partner", source, target)
    related = xrm("related", target, "--rel", "partner_refers_partner", "--json")
    assert [(r["direction"], r["record"]["id"], r["relationship"]["id"]) for r in related] == [
        ("incoming", source, rel["id"])]
    assert xrm("related", target, "--rel", "no_such_rel", status=1)

    # `xrm log ID --kind KIND --summary TEXT` (`--payload` takes @FILE), then `xrm history ID
    # [--related] [--limit N]`: activities of the contract shape, oldest first.
    (tmp_path / "payload.json").write_text('{"minutes": 5}', encoding="utf-8")
    xrm("log", target, "--kind", "call", "--summary", "asked for the price list",
        "--payload", f"@{tmp_path / 'payload.json'}")
    xrm("records", "update", source, "--data", '{"rating": 9}', "--if-version", "1")
    history = xrm("history", target, "--json")
    assert all(ACTIVITY_KEYS <= set(a) for a in history)
    assert [a["kind"] for a in history] == ["created", "related", "call"]
    assert history[-1]["payload"] == {"minutes": 5} and history[-1]["actor"] == "admin"
    assert [a["kind"] for a in xrm("history", target, "--limit", "2", "--json")] == ["related", "call"]
    with_related = xrm("history", target, "--related", "--json")
    assert {a["record"] for a in with_related} == {source, target}
    updated = [a for a in with_related if a["kind"] == "updated"]
    assert [a["record"] for a in updated] == [source]  # the related partner's update, in its timeline

    # `xrm unrelate RELATIONSHIP_ID`, then `reltypes remove NAME` (refused while used).
    assert "still used by 1 relationship" in xrm("reltypes", "remove", "partner_refers_partner", status=1)
    xrm("unrelate", rel["id"])
    assert xrm("related", target, "--json") == []
    xrm("reltypes", "remove", "partner_refers_partner")

    # `records delete ID`; errors go to stderr, never a traceback.
    xrm("records", "delete", new_id)
    assert "no record" in xrm("records", "get", new_id, status=1)


def test_export_import_round_trip(xrm, tour, tmp_path):
    # `xrm export TYPE [--format csv|jsonl] [-o FILE] [--where EXPR]`: JSONL unless -o names a .csv file.
    lines = xrm("export", "partner").splitlines()
    assert len(lines) == 4 and all(set(json.loads(x)) >= {"name", "tax_id"} for x in lines)
    xrm("export", "partner", "-o", tmp_path / "partners.csv", "--where", "tier=gold")
    exported = (tmp_path / "partners.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["tax_id"] for r in rows] == ["1000000001", "1000000003"]
    assert list(rows[0])[:2] == ["name", "tax_id"]  # the declared properties, in the schema's order

    # What export writes, import reads back: from standard input (`xrm import TYPE - --format
    # csv`), with --update-by naming the records: nothing to change.
    again = xrm("import", "partner", "-", "--format", "csv", "--update-by", "tax_id", input=exported)
    assert again == "2 rows read: 0 created, 0 updated, 2 unchanged\n"

    # All or nothing, every invalid row reported by its file line (the header is line 1) and
    # JSON pointer; `--json` prints the contract's report (DESIGN §5).
    bad = "name,tax_id,rating\nNew One,3000000001,5\nBad,12,11\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    refused = xrm("import", "partner", tmp_path / "bad.csv", status=2)
    assert "1 of 2 rows are invalid" in refused and "line 3 /rating" in refused
    report = xrm("import", "partner", tmp_path / "bad.csv", "--json", status=2, report=True)
    assert list(report) == IMPORT_KEYS
    assert (report["total"], report["valid"], report["imported"]) == (2, 1, 0)
    assert [(r["line"], sorted(e["pointer"] for e in r["errors"])) for r in report["invalid"]] == [
        (3, ["/rating", "/tax_id"])]
    assert len(xrm("records", "list", "partner", "--json")) == 4  # nothing imported
    assert xrm("import", "partner", tmp_path / "bad.csv", "--skip-invalid", "--dry-run").startswith(
        "dry run: 2 rows read, 1 valid; nothing written")
    # UTF-8 with a BOM is read, and an empty cell means the field is absent (the CSV notes).
    (tmp_path / "bom.csv").write_bytes("\ufeffname,tax_id,city\nBOM Motors,3000000002,\n".encode("utf-8"))
    assert xrm("import", "partner", tmp_path / "bom.csv") == "1 row read, 1 imported\n"
    (made,) = xrm("records", "list", "partner", "--where", "tax_id=3000000002", "--json")
    assert made["data"] == {"name": "BOM Motors", "tax_id": "3000000002"}  # the empty city is absent


def test_definitions(xrm, tour, tmp_path):
    # `xrm types list` (with record counts) and `types show NAME --json`, which, edited, is a
    # FILE for `types update` — refused, with the ids and pointers, when stored records break.
    listed = {t["name"]: t for t in xrm("types", "list", "--json")}
    assert listed["partner"]["records"] == 4 and listed["partner"]["source"] == "admin"
    assert {"customer", "survey_response", "dealer", "supplier"} <= set(listed)  # the four plugins' types
    shown = xrm("types", "show", "partner", "--json")
    assert shown["version"] == 1 and shown["schema"]["required"] == ["name", "tax_id"]
    shown["schema"]["properties"]["rating"]["maximum"] = 8
    (tmp_path / "narrower.json").write_text(json.dumps(shown), encoding="utf-8")
    refused = xrm("types", "update", tmp_path / "narrower.json", "--dry-run", status=2)
    assert "2 of 4 stored partner records would become invalid" in refused
    assert f"/records/{tour['1000000001']}/data/rating" in refused

    shown["schema"]["properties"]["rating"]["maximum"] = 10
    shown["schema"]["properties"]["notes"] = {"type": "string"}
    (tmp_path / "wider.json").write_text(json.dumps(shown), encoding="utf-8")
    assert "change applied (version 2)" in xrm("types", "update", tmp_path / "wider.json")
    stale = xrm("types", "update", tmp_path / "narrower.json", status=1)  # shown at version 1
    assert "changed since" in stale

    # `types remove NAME`: a type without records only.
    assert "still has 4 records" in xrm("types", "remove", "partner", status=1)
    (tmp_path / "scratch.json").write_text(json.dumps(
        {"name": "scratch", "title_field": "n",
         "schema": {"type": "object", "properties": {"n": {"type": "string"}}}}), encoding="utf-8")
    xrm("types", "add", tmp_path / "scratch.json")
    xrm("types", "remove", "scratch")
    assert "scratch" not in {t["name"] for t in xrm("types", "list", "--json")}

    # `xrm kpi list [--as USER]`: with --as, the KPIs that user may compute.
    xrm("roles", "create", "agent")
    xrm("roles", "grant", "agent", "partner", "read", "--depth", "unit")
    xrm("users", "create", "alice", "--unit", "root", "--role", "agent")
    kpis = {k["name"]: k for k in xrm("kpi", "list", "--json")}
    assert kpis["partner_nps"]["source"] == "admin" and "nps" in kpis
    assert [k["name"] for k in xrm("kpi", "list", "--as", "alice", "--json")] == ["partner_nps"]

    # `xrm kpi remove NAME`: an admin-declared KPI; a plugin's cannot be removed.
    assert "cannot be removed" in xrm("kpi", "remove", "nps", status=1)
    xrm("kpi", "remove", "partner_nps")
    assert "unknown KPI" in xrm("kpi", "compute", "partner_nps", status=1)

    # `xrm units list`, `xrm users list`, `xrm roles list`: one JSON array each.
    assert [u["name"] for u in xrm("units", "list", "--json")] == ["root"]
    users = {u["name"]: u for u in xrm("users", "list", "--json")}
    assert users["alice"]["unit"] == "root" and users["alice"]["roles"] == ["agent"]
    roles = {r["name"]: r for r in xrm("roles", "list", "--json")}
    assert roles["agent"]["grants"] == [{"type": "partner", "actions": ["read"], "depth": "unit"}]


def test_the_migration_guide_relationship_example(xrm, tmp_path):
    """docs/migrating.md §2 as written: its CSV file and its command, on the crm plugin's
    customer and vehicle types (keyed by national_id and vin), answer what the guide shows,
    and §3's export writes the same pairs back."""
    guide = (ROOT / "docs" / "migrating.md").read_text(encoding="utf-8").split("## 2. Relationships", 1)[1]
    (owns,) = re.findall(r"```csv\n(.*?)```", guide, re.S)
    command, shown = re.search(r"```console\n\$ (xrm import-relationships [^\n]+)\n(.*?)```", guide, re.S).groups()
    xrm("init")
    rows = list(csv.DictReader(io.StringIO(owns)))
    for row in rows:
        customer = {"name": row["source"], "national_id": row["source"]}
        xrm("records", "create", "customer", "--data", json.dumps(customer))
        xrm("records", "create", "vehicle", "--data", json.dumps({"vin": row["target"], "model": "Dena"}))
    (tmp_path / "owns.csv").write_text(owns, encoding="utf-8")
    args = shlex.split(command)[1:]
    assert args[:3] == ["import-relationships", "customer_owns_vehicle", "owns.csv"]
    assert xrm(*args[:2], tmp_path / "owns.csv", *args[3:]) == shown
    again = xrm(*args[:2], tmp_path / "owns.csv", *args[3:], status=2)
    assert "is already related" in again  # the same file twice: refused, not doubled

    exported = xrm("export-relationships", "customer_owns_vehicle", "--format", "csv",
                   "--source-key", "national_id", "--target-key", "vin")
    back = [(r["source"], r["target"]) for r in csv.DictReader(io.StringIO(exported))]
    assert back == [(r["source"], r["target"]) for r in rows]


def test_array_cells_and_composite_unique_keys(xrm, tmp_path):
    """The README's CSV notes and docs/migrating.md §1 on array cells — a JSON array, or
    items separated by `;`, a `prefixItems` array read by position and an empty position
    refused — and docs/plugins.md on `unique`: a key of several fields compares only when
    complete."""
    xrm("init")
    (tmp_path / "pt.json").write_text(json.dumps(
        {"name": "kit", "title_field": "code", "unique": [["code", "serial"]],
         "schema": {"type": "object", "additionalProperties": False, "properties": {
             "code": {"type": "string"}, "serial": {"type": "string"},
             "tags": {"type": "array", "items": {"type": "string"}},
             "phones": {"type": "array", "items": {"type": "string"}},
             "pos": {"type": "array", "items": False,
                     "prefixItems": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}}}}),
        encoding="utf-8")
    xrm("types", "add", tmp_path / "pt.json")
    (tmp_path / "kits.csv").write_text(
        'code,tags,pos,phones\n'
        'a,gold;vip,x;3;yes,"[""+98 21 1234"", ""+98 912 000 1111""]"\n', encoding="utf-8")
    assert xrm("import", "kit", tmp_path / "kits.csv") == "1 row read, 1 imported\n"
    (made,) = xrm("records", "list", "kit", "--json")
    assert made["data"] == {"code": "a", "tags": ["gold", "vip"], "pos": ["x", 3, True],
                            "phones": ["+98 21 1234", "+98 912 000 1111"]}
    (tmp_path / "gap.csv").write_text("code,pos\nb,x;;true\n", encoding="utf-8")
    refused = xrm("import", "kit", tmp_path / "gap.csv", status=2)
    assert "line 2 /pos: item 2 of the list is empty" in refused

    # ["code", "serial"] unique together: "a" without a serial never clashes, a full key does.
    xrm("records", "create", "kit", "--data", '{"code": "a"}')
    xrm("records", "create", "kit", "--data", '{"code": "a", "serial": "1"}')
    clash = xrm("records", "create", "kit", "--data", '{"code": "a", "serial": "1"}', status=1)
    assert 'serial="1" already exists' in clash


def test_the_migration_guide_unclosed_quote_example(xrm, tmp_path):
    """docs/migrating.md §1: a quote left open refuses the whole file, counting the rows before it."""
    guide = (ROOT / "docs" / "migrating.md").read_text(encoding="utf-8")
    shown = re.search(r"```console\n\$ xrm import customer customers.csv\n(error: .*?)```", guide, re.S).group(1)
    xrm("init")
    rows = [f"C100{i},N{i},{'x' if i == 3 else '1990-01-01'}" for i in range(1, 7)]
    (tmp_path / "customers.csv").write_text(
        "national_id,name,birth_date\n" + "\n".join(rows) + '\n"C1007,Gu,1990-01-01\n', encoding="utf-8")
    assert xrm("import", "customer", tmp_path / "customers.csv", status=2) == shown  # the file's name as given
