"""`xrm import` / `xrm export` as a user runs them: reports, exit codes, errors, round trips."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from conftest import PersonPlugin
from xrm_core import hookimpl
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager

ITEM = {
    "name": "item", "unique": ["sku"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {
            "sku": {"type": "string"}, "label": {"type": "string"}, "qty": {"type": "integer"},
            "price": {"type": "number"}, "on_sale": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "size": {"type": "object", "properties": {"w": {"type": "number"}, "unit": {"type": "string"}}},
            "note": {"type": ["string", "null"]},
        },
        "required": ["sku"],
    },
}

ITEMS = [
    {"sku": "S-1", "label": "چای سبز، ۱۰۰ گرم", "qty": 12, "price": 3.5, "on_sale": True,
     "tags": ["茶", "green, loose"], "size": {"w": 0.1, "unit": "kg"}},
    {"sku": "S-2", "label": "Line one\nline \"two\"", "qty": 0, "price": 10, "on_sale": False, "tags": [],
     "note": None},
    {"sku": "S-3", "label": "", "note": "null", "price": 0.001},
    {"sku": "商品-4", "label": "  padded, \"quoted\"  ", "tags": ["a;b", ""], "size": {}},
]


class ItemPlugin:
    __name__ = "testitem"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [ITEM]


PLUGINS = (PersonPlugin(), ItemPlugin())


@pytest.fixture
def xrm(cli):
    """The CLI on an initialised database with the person and item test types."""
    def run(*args, input=None):
        return cli(*args, plugins=PLUGINS, input=input)
    result = run("init", "--admin-password", "pw")
    assert result.exit_code == 0, result.stderr
    return run


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(p)


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def listed(xrm, type_name="person", *extra) -> list[dict]:
    result = xrm("records", "list", type_name, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_import_json_report(xrm, tmp_path):
    path = write(tmp_path, "p.csv", "name,age,vip,tags\nAda,36,true,a;b\nمریم,,no,\n")
    result = xrm("import", "person", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    assert result.stderr == ""
    assert sorted((r["data"] for r in listed(xrm)), key=lambda d: d["name"]) == [
        {"name": "Ada", "age": 36, "vip": True, "tags": ["a", "b"]}, {"name": "مریم", "vip": False}]
    rec = listed(xrm)[0]
    history = json.loads(xrm("history", rec["id"], "--json").stdout)
    assert history[0]["kind"] == "created" and history[0]["summary"].startswith("imported from p.csv line ")


def test_refused_import_exits_non_zero_with_errors_on_stderr(xrm, tmp_path):
    path = write(tmp_path, "p.jsonl", '{"name": "Ada"}\n{"name": "Bob", "age": "old"}\n{"name": \n')
    result = xrm("import", "person", path)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "error: import refused: 2 of 3 rows are invalid" in result.stderr
    assert "line 2 /age: " in result.stderr and "line 3: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(xrm) == []
    # Skipped, the same rows are listed alike (a row-wide error had a "/" of its own here).
    result = xrm("import", "person", path, "--skip-invalid")
    assert "  line 2 /age: " in result.stderr and "  line 3: invalid JSON" in result.stderr
    xrm("records", "delete", listed(xrm)[0]["id"])

    result = xrm("import", "person", path, "--json")
    assert result.exit_code != 0 and "import refused" in result.stderr
    report = json.loads(result.stdout)
    assert (report["total"], report["valid"], report["imported"]) == (3, 1, 0)
    assert [r["line"] for r in report["invalid"]] == [2, 3]
    assert report["invalid"][0]["errors"][0]["pointer"] == "/age"
    assert listed(xrm) == []


def test_skip_invalid_and_dry_run(xrm, tmp_path):
    path = write(tmp_path, "p.csv", "name,age\nAda,1\nBob,x\nCy,3\n")
    result = xrm("import", "person", path, "--dry-run")
    assert result.exit_code != 0 and "dry run: the import would be refused" in result.stderr
    result = xrm("import", "person", path, "--dry-run", "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == "dry run: 3 rows read, 2 valid; nothing written\n"
    assert "line 3 /age: 'x' is not an integer" in result.stderr
    assert listed(xrm) == []
    result = xrm("import", "person", path, "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == "3 rows read, 2 imported\n"
    assert "1 invalid row skipped" in result.stderr and "line 3 /age" in result.stderr
    assert sorted(r["data"]["name"] for r in listed(xrm)) == ["Ada", "Cy"]


def test_file_level_errors_are_clear(xrm, tmp_path):
    header = write(tmp_path, "h.csv", "name,agee\nAda,1\n")
    result = xrm("import", "person", header, "--json", "--skip-invalid")
    assert result.exit_code != 0
    assert "the CSV header (line 1) does not match" in result.stderr
    assert "line 1 /agee: column 'agee' is not a field of person" in result.stderr
    assert json.loads(result.stdout)["invalid"][0]["line"] == 1

    latin = write(tmp_path, "l.csv", "name\nJos\xe9\n".encode("latin-1"))
    result = xrm("import", "person", latin)
    assert result.exit_code != 0 and "l.csv is not UTF-8 text" in result.stderr and "line 2" in result.stderr

    for args, message in [(("person", str(tmp_path / "missing.jsonl")), "cannot read"),
                          (("nosuchtype", header), "unknown entity type 'nosuchtype'"),
                          (("person", write(tmp_path, "p.txt", "x")), "give --format csv or --format jsonl")]:
        result = xrm("import", *args)
        assert result.exit_code != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert listed(xrm) == []


def test_import_and_export_as_another_user(xrm, tmp_path):
    for args in [("units", "create", "team"), ("roles", "create", "clerk"),
                 ("roles", "grant", "clerk", "person", "read,create", "--depth", "own"),
                 ("users", "create", "clerk1", "--unit", "team", "--role", "clerk", "--password", "pw"),
                 ("users", "create", "idle", "--unit", "team", "--password", "pw")]:
        result = xrm(*args)
        assert result.exit_code == 0, (args, result.stderr)
    xrm("records", "create", "person", "--data", '{"name": "Admin\'s"}')
    path = write(tmp_path, "p.jsonl", jsonl([{"name": "Mine"}]))
    result = xrm("import", "person", path, "--as", "idle")
    assert result.exit_code != 0 and "'idle' may not create person records" in result.stderr
    assert xrm("import", "person", path, "--as", "clerk1").exit_code == 0
    result = xrm("export", "person", "--as", "clerk1")
    assert result.exit_code == 0 and result.stdout == '{"name":"Mine"}\n'
    assert len(xrm("export", "person").stdout.splitlines()) == 2
    result = xrm("export", "item", "--as", "clerk1")
    assert result.exit_code != 0 and "may not read item" in result.stderr


def _fresh(tmp_path):
    """The CLI on a second, fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    def run(*args):
        pm = make_plugin_manager(load_entry_points=False, plugins=PLUGINS)
        return CliRunner().invoke(build_cli(pm), ["--db", url, *args], catch_exceptions=False)
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_into_a_fresh_database_round_trips(xrm, tmp_path, fmt):
    assert xrm("import", "item", write(tmp_path, "items.jsonl", jsonl(ITEMS))).exit_code == 0
    out = tmp_path / f"items.{fmt}"
    result = xrm("export", "item", "-o", str(out))  # the format follows the extension
    assert result.exit_code == 0 and f"4 records written to {out}" in result.stderr
    first = out.read_text(encoding="utf-8")
    if fmt == "csv":  # one column per property, in the schema's order
        assert first.splitlines()[0].split(",") == list(ITEM["schema"]["properties"])
    else:
        assert first.startswith("{")

    fresh = _fresh(tmp_path)
    result = fresh("import", "item", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 4
    again = fresh("export", "item", "--format", fmt)
    assert again.exit_code == 0
    assert again.stdout == first  # the same file, whichever engine wrote the first (the fresh one is SQLite)
    stored = sorted((json.dumps(r["data"], sort_keys=True) for r in json.loads(
        fresh("records", "list", "item", "--json").stdout)))
    assert stored == sorted(json.dumps(r, sort_keys=True) for r in ITEMS)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_writes_records_in_the_order_they_were_created(xrm, tmp_path, fmt):
    # Updates leave the order alone (PostgreSQL moves an updated row to the end of its table).
    assert xrm("import", "item", write(tmp_path, "items.jsonl", jsonl(ITEMS))).exit_code == 0
    ids = {r["data"]["sku"]: r["id"] for r in listed(xrm, "item")}
    for sku in ("S-1", "S-3"):
        assert xrm("records", "update", ids[sku], "--data", '{"qty": 99}').exit_code == 0
    result = xrm("export", "item", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    skus = [json.loads(line)["sku"] for line in lines] if fmt == "jsonl" else [
        row[0] for row in csv.reader(io.StringIO(result.stdout, newline=""))][1:]
    assert skus == [r["sku"] for r in ITEMS]


def test_the_cli_offers_the_formats_the_importer_and_exporter_read_and_write():
    # io_cmds repeats them so that `xrm` starts without importing those modules.
    from xrm_core import exporter, importer
    from xrm_core.cli import io_cmds
    assert set(io_cmds.FORMATS) == set(importer.FORMATS) == set(exporter.FORMATS)


def test_export_to_dash_writes_stdout_not_a_file_named_dash(xrm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert xrm("import", "item", write(tmp_path, "items.jsonl", jsonl(ITEMS))).exit_code == 0
    result = xrm("export", "item", "-o", "-", "--format", "csv")
    assert result.exit_code == 0 and not (tmp_path / "-").exists()
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert len(rows) == 1 + len(ITEMS) and set(rows[0]) == set(ITEM["schema"]["properties"])
