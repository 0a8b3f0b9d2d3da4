"""cli15: CSV files with classic Mac line endings (a lone CR ends each line, as old Excel
for Mac saves "CSV (Macintosh)") are read, with the file's own line numbers.

They were refused ("a line break (CR) inside an unquoted cell"). A CR inside a quoted cell
is kept as written; the byte-order mark of line 1 is dropped; a lone CR in a file of LF or
CRLF lines is still no line end (and still refused in an unquoted cell).

JSON Lines files with CR line ends were read as one line, refused as "unexpected content
after document": they are read alike.
"""
from __future__ import annotations

import pytest

from conftest import PersonPlugin
from xrm_core import ValidationError, importer


@pytest.fixture
def platform(make_platform):
    return make_platform(PersonPlugin())


def run(platform, tmp_path, content: bytes, name: str = "mac.csv", **kw) -> dict:
    path = tmp_path / name
    path.write_bytes(content)
    with platform.session() as s:
        return importer.import_file(s, "person", str(path), **kw)


def refusal(platform, tmp_path, content: bytes, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        run(platform, tmp_path, content, **kw)
    return info.value


def people(platform) -> list[dict]:
    with platform.session(write=False) as s:
        return sorted((r.data for r in s.list("person")), key=lambda d: d["name"])


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("last", [b"\r", b""])
def test_cr_only_lines_are_read(platform, tmp_path, bom, last):
    report = run(platform, tmp_path, bom + b"name,age\rAda,36\rBob,41" + last)
    assert report == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    assert people(platform) == [{"name": "Ada", "age": 36}, {"name": "Bob", "age": 41}]


def test_cr_only_errors_name_the_files_lines(platform, tmp_path):
    # line 3 starts a quoted cell over two lines (its CR kept); line 6 is blank; 7 and 8 are invalid
    content = b'name,age,email\rAda,1,\r"Bob\rthe second",2,\rCy,3,\r\rDi,x,\rEd,4,nope\rFay,5,\r'
    e = refusal(platform, tmp_path, content)
    assert e.extra["report"]["total"] == 6
    assert [r["line"] for r in e.extra["report"]["invalid"]] == [7, 8]
    report = run(platform, tmp_path, content, skip_invalid=True)
    assert report["imported"] == 4
    assert [p["name"] for p in people(platform)] == ["Ada", "Bob\rthe second", "Cy", "Fay"]


def test_cr_only_file_keeps_lf_and_crlf_inside_quoted_cells(platform, tmp_path):
    run(platform, tmp_path, b'name,age\r"one\ntwo",1\r"three\r\nfour",2\r')
    assert [p["name"] for p in people(platform)] == ["one\ntwo", "three\r\nfour"]


def test_cr_only_file_reports_a_quote_left_open_at_its_line(platform, tmp_path):
    e = refusal(platform, tmp_path, b'name,age\rAda,1\r"Bob,2\rCy,3\r')
    assert e.errors[0]["line"] == 3 and "never closed" in e.errors[0]["message"]


def test_cr_only_file_second_header_is_found(platform, tmp_path):
    e = refusal(platform, tmp_path, b"name,age\rAda,1\rname,age\rBob,2\r")
    assert [r["line"] for r in e.extra["report"]["invalid"]] == [3]
    assert "repeats the header" in e.extra["report"]["invalid"][0]["errors"][0]["message"]


def test_a_lone_cr_in_an_lf_file_is_still_no_line_end(platform, tmp_path):
    e = refusal(platform, tmp_path, b"name,age\nAda,1\nB\rob,2\n")
    assert e.errors[0]["line"] == 3 and "line break (CR)" in e.errors[0]["message"]
    run(platform, tmp_path, b'name,age\n"B\rob",2\r\nCy,3\n')
    assert [p["name"] for p in people(platform)] == ["B\rob", "Cy"]


def test_a_lone_lf_in_an_unquoted_cell_of_a_cr_file_is_named(platform, tmp_path):
    e = refusal(platform, tmp_path, b"name,age\rAda,1\rB\nob,2\r")
    assert e.errors[0]["line"] == 3 and "line break (LF)" in e.errors[0]["message"], e.errors


@pytest.mark.parametrize("chunk", [3, 7, 64 * 1024])
def test_cr_lines_across_read_boundaries(monkeypatch, chunk):
    """Lines split alike wherever the reads of the file end (a CRLF cut between two reads too)."""
    import io

    from xrm_core import import_files
    monkeypatch.setattr(import_files, "CR_CHUNK", chunk)
    text = b'\xef\xbb\xbfname,age\rAda,1\r\n"B\r\nob",2\r\r"x\ny",3\rlast,4'
    got = [raw for _, raw in import_files._lines(io.BytesIO(text), "t.csv", [])]
    assert got == [b"name,age\r", b"Ada,1\r\n", b'"B\r\n', b'ob",2\r', b"\r", b'"x\ny",3\r', b"last,4"]
    lf = b"name,age\nAda,1\r\n"
    assert [raw for _, raw in import_files._lines(io.BytesIO(lf), "t.csv", [])] == [b"name,age\n", b"Ada,1\r\n"]


def test_a_cr_file_of_one_endless_line_is_refused_as_too_long(platform, tmp_path, monkeypatch):
    from xrm_core import import_files
    monkeypatch.setattr(import_files, "MAX_LINE", 100)
    e = refusal(platform, tmp_path, b"name,age\rAda,1\r" + b"x" * 300 + b"\r")
    assert e.errors[0]["line"] == 3 and "longer than 100 bytes" in e.errors[0]["message"], e.errors


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("last", [b"\r", b"\r\n", b""])
def test_cr_only_jsonl_lines_are_read(platform, tmp_path, bom, last):
    content = bom + b'{"name": "Ada", "age": 36}\r{"name": "Bob\\rBee",\n "age": 41}' + last
    report = run(platform, tmp_path, content, name="mac.jsonl")
    assert report == {"total": 2, "valid": 2, "imported": 2, "invalid": []}
    assert people(platform) == [{"name": "Ada", "age": 36}, {"name": "Bob\rBee", "age": 41}]


def test_cr_only_jsonl_errors_name_the_files_lines(platform, tmp_path):
    # line 2 is blank, 3 no object, 5 invalid, 6 repeats line 1's unique key
    content = (b'{"name": "Ada", "national_id": "1"}\r\r[1]\r{"name": "Cy"}\r{"name": 5}\r'
               b'{"name": "Di", "national_id": "1"}')
    e = refusal(platform, tmp_path, content, name="mac.jsonl")
    report = e.extra["report"]
    assert report["total"] == 5 and report["imported"] == 0
    assert [(r["line"], r["errors"][0]["pointer"]) for r in report["invalid"]] == [
        (3, ""), (5, "/name"), (6, "/national_id")]
    assert people(platform) == []
