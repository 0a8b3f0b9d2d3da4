"""cli15: every refusal of `xrm import` / `xrm import-relationships` with --json prints the
import report on stdout (exactly the shape DESIGN §5 gives it), the message on stderr.

Refusals before the file is read (unknown type, no such file, a directory, an unknown
extension, an unknown user) printed nothing on stdout: a script reading the report got an
empty document and had to parse stderr.
"""
from __future__ import annotations

import json

import pytest

from conftest import PersonPlugin

REPORT_KEYS = ["total", "valid", "imported", "invalid"]


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=[PersonPlugin()], input=input)
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


def _refused(result, words: str) -> dict:
    assert result.exit_code != 0, result.stdout
    assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)  # exactly one JSON document
    assert list(doc) == REPORT_KEYS, doc
    assert doc["imported"] == 0
    return doc


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("name\nAda\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", ["unknown type", "no such file", "directory", "extension", "unknown user",
                                  "update-by"])
def test_import_refused_before_reading_prints_the_report(xrm, tmp_path, good, case):
    args = {
        "unknown type": ["nosuchtype", good],
        "no such file": ["person", tmp_path / "missing.csv"],
        "directory": ["person", tmp_path],
        "extension": ["person", tmp_path / "p.txt"],
        "unknown user": ["person", good, "--as", "ghost"],
        "update-by": ["person", good, "--update-by", "nope"],
    }[case]
    (tmp_path / "p.txt").write_text("name\nAda\n", encoding="utf-8")
    words = {"unknown type": "nosuchtype", "no such file": "missing.csv", "directory": str(tmp_path),
             "extension": "give --format", "unknown user": "ghost", "update-by": "nope"}[case]
    doc = _refused(xrm("import", *args, "--json"), words)
    assert (doc["total"], doc["valid"], doc["invalid"]) == (0, 0, [])
    assert json.loads(xrm("records", "list", "person", "--json").stdout) == []


def test_import_refused_after_reading_keeps_its_report_and_says_why(xrm, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"name": "Ada"}\n{"name": "Bob", "age": "old"}\n', encoding="utf-8")
    doc = _refused(xrm("import", "person", path, "--json"), "import refused")
    assert (doc["total"], doc["valid"]) == (2, 1)
    assert [r["line"] for r in doc["invalid"]] == [2]


def test_a_successful_import_prints_the_same_report(xrm, good):
    result = xrm("import", "person", good, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 1, "valid": 1, "imported": 1, "invalid": []}


@pytest.mark.parametrize("case", ["unknown rel", "no such file"])
def test_import_relationships_refused_before_reading_prints_the_report(xrm, tmp_path, case):
    links = tmp_path / "links.csv"
    links.write_text("source,target\n", encoding="utf-8")
    args = {"unknown rel": ["nosuchrel", links], "no such file": ["knows", tmp_path / "gone.csv"]}[case]
    words = {"unknown rel": "nosuchrel", "no such file": "gone.csv"}[case]
    doc = _refused(xrm("import-relationships", *args, "--json"), words)
    assert (doc["total"], doc["valid"], doc["invalid"]) == (0, 0, [])


def test_without_json_nothing_is_printed_on_stdout(xrm, tmp_path):
    result = xrm("import", "nosuchtype", tmp_path / "p.csv")
    assert result.exit_code != 0 and result.stdout == "" and "nosuchtype" in result.stderr
