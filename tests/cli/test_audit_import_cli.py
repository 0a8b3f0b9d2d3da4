"""`xrm export -o FILE` audit: a failed export leaves the file as it was; clear errors."""
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


@pytest.mark.parametrize("args", [("nosuchtype",), ("person", "--as", "nobody"),
                                  ("person", "--where", "nosuch=1")])
def test_a_failed_export_keeps_the_file_it_would_have_replaced(xrm, tmp_path, args):
    out = tmp_path / "people.csv"
    out.write_text("last week's export\n", encoding="utf-8")
    result = xrm("export", *args, "-o", str(out))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert out.read_text(encoding="utf-8") == "last week's export\n"
    # and nothing else is left behind (the SQLite test database lives here too)
    assert [p.name for p in tmp_path.iterdir() if p.name != "xrm.db" and not p.name.startswith("xrm.db")] \
        == ["people.csv"]


def test_a_successful_export_replaces_the_file(xrm, tmp_path):
    assert xrm("records", "create", "person", "--data", '{"name": "=Ada"}').exit_code == 0
    out = tmp_path / "people.jsonl"
    out.write_text("old\n", encoding="utf-8")
    os.chmod(out, 0o640)
    result = xrm("export", "person", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [{"name": "=Ada"}]
    assert os.stat(out).st_mode & 0o777 == 0o640  # the file keeps its permissions
    fresh = tmp_path / "new.csv"
    assert xrm("export", "person", "-o", str(fresh)).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(fresh).st_mode & 0o777 == 0o666 & ~umask  # as open() would create it
    assert fresh.read_text(encoding="utf-8").splitlines()[1].startswith('"""=Ada""",')  # not a formula


def test_an_unwritable_output_is_a_clear_error(xrm, tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "x.csv"
    result = xrm("export", "person", "-o", str(out))
    assert result.exit_code != 0
    assert f"cannot write {out}: No such file or directory" in result.stderr, result.stderr
    assert "FileNotFoundError" not in result.stderr


def test_import_of_an_excel_csv_through_the_cli(xrm, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b'\xef\xbb\xbfname,age,tags\r\n"Smith, ""J""\r\nJr.",007,a;b\r\n,,\r\n\r\nBob, 12 ,\r\n'
                     b'Cy,1e3,\r\nDee,"1,5",\r\n')
    result = xrm("import", "person", str(path), "--json", "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["total"], report["imported"]) == (4, 3)
    assert report["invalid"] == [{"line": 8, "errors": [{"pointer": "/age", "message": "'1,5' is not an integer: write it with digits only (1234)"}]}]
    listed = json.loads(xrm("records", "list", "person", "--json").stdout)
    assert sorted((r["data"] for r in listed), key=lambda d: d["name"]) == [
        {"name": "Bob", "age": 12}, {"name": "Cy", "age": 1000.0},
        {"name": 'Smith, "J"\r\nJr.', "age": 7, "tags": ["a", "b"]}]
