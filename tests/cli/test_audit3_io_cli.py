"""`xrm import` / `xrm export` audit 3, through the CLI: joined sheets, export through a link."""
from __future__ import annotations

import json
import os

import pytest

from conftest import PersonPlugin


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(PersonPlugin(),), input=input)
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


def names(xrm) -> list[str]:
    result = xrm("records", "list", "person", "--json")
    assert result.exit_code == 0, result.stderr
    return sorted(r["data"]["name"] for r in json.loads(result.stdout))


def test_joined_excel_sheets_report_the_second_header_in_the_json_report(xrm, tmp_path):
    sheet = b"\xef\xbb\xbfname,age\r\nAda,36\r\n"
    path = tmp_path / "joined.csv"
    path.write_bytes(sheet + sheet.replace(b"Ada,36", b"Bob,41"))
    result = xrm("import", "person", str(path), "--json")
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert "line 3: the row repeats the header" in result.stderr
    assert json.loads(result.stdout) == {"total": 3, "valid": 2, "imported": 0, "invalid": [
        {"line": 3, "errors": [{"pointer": "", "message": "the row repeats the header, after a byte-order mark: "
                                                          "a second file joined to this one? delete the line"}]}]}
    assert names(xrm) == []
    result = xrm("import", "person", str(path), "--json", "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2
    assert names(xrm) == ["Ada", "Bob"]


def test_export_through_a_symbolic_link_replaces_the_file_it_points_at(xrm, tmp_path):
    assert xrm("records", "create", "person", "--data", '{"name": "Ada"}').exit_code == 0
    share = tmp_path / "share"
    share.mkdir()
    target = share / "people.csv"
    target.write_text("last week\n", encoding="utf-8")
    os.chmod(target, 0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    result = xrm("export", "person", "-o", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link stays a link
    assert target.read_text(encoding="utf-8").splitlines()[1].startswith("Ada,")
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in share.iterdir()) == ["people.csv"]  # no temporary file left
    # A link to a file not there yet creates it; one into a missing folder is a clear error.
    fresh = tmp_path / "fresh.jsonl"
    fresh.symlink_to(share / "fresh.jsonl")
    assert xrm("export", "person", "-o", str(fresh)).exit_code == 0
    assert json.loads((share / "fresh.jsonl").read_text(encoding="utf-8")) == {"name": "Ada"}
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    result = xrm("export", "person", "-o", str(dangling))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert f"cannot write {dangling}" in result.stderr


def test_import_reads_standard_input_given_as_dash(xrm):
    # A pipeline: iconv -f cp1252 -t utf-8 old.csv | xrm import person - --format csv
    result = xrm("import", "person", "-", "--format", "csv", "--json", input="name,age\nAda,36\nBob,x\n".encode())
    assert result.exit_code != 0 and "line 3 /age: 'x' is not an integer" in result.stderr
    assert json.loads(result.stdout)["invalid"] == [
        {"line": 3, "errors": [{"pointer": "/age", "message": "'x' is not an integer"}]}]
    result = xrm("import", "person", "-", "--format", "jsonl", input=b'{"name": "Ada"}\n')
    assert result.exit_code == 0, result.stderr
    assert names(xrm) == ["Ada"]
    [rec] = json.loads(xrm("records", "list", "person", "--json").stdout)
    history = json.loads(xrm("history", rec["id"], "--json").stdout)
    assert history[0]["summary"] == "imported from stdin line 1"
    result = xrm("import", "person", "-", input=b'{"name": "Bob"}\n')
    assert result.exit_code != 0 and "cannot tell the format of -: give --format csv or --format jsonl" in result.stderr
    assert names(xrm) == ["Ada"]
