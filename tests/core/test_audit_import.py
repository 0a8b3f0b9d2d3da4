"""Import/export audit: files a migrating organisation brings (Excel CSV, odd numbers, formulas)."""
from __future__ import annotations

import io

import pytest

from conftest import PersonPlugin
from xrm_core import ValidationError, hookimpl, import_files, importer
from xrm_core.csvcells import Column
from xrm_core.exporter import export

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "properties": {
        "code": {"type": "string"},
        "text": {"type": "string"},
        "qty": {"type": "integer"},
        "maybe": {"type": ["integer", "null"]},
        "mixed": {"type": ["integer", "string"]},
        "anything": {},
        "nums": {"type": "array", "items": {"type": "integer"}},
        "obj": {"type": "object"},
    },
    "required": ["code"],
}


class AuditPlugin:
    __name__ = "testaudit"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "rec", "unique": ["code"], "schema": SCHEMA},
                {"name": "rec_copy", "unique": ["code"], "schema": SCHEMA}]


@pytest.fixture
def recs(make_platform):
    return make_platform(PersonPlugin(), AuditPlugin())


def write(tmp_path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(p)


def run_import(platform, type_name, path, **kw) -> dict:
    with platform.session() as s:
        return importer.import_file(s, type_name, path, **kw)


def refused(platform, type_name, path, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        run_import(platform, type_name, path, **kw)
    return info.value


def stored(platform, type_name) -> list[tuple]:
    """The records' data with the type of every value: 1 and 1.0 differ, as do 0.0 and -0.0."""
    def typed(v):
        if isinstance(v, dict):
            return tuple(sorted((k, typed(x)) for k, x in v.items()))
        if isinstance(v, list):
            return tuple(typed(x) for x in v)
        return (type(v).__name__, repr(v))
    with platform.session() as s:
        return sorted(typed(r.data) for r in s.list(type_name, limit=1000))


def exported(platform, type_name, fmt) -> str:
    out = io.StringIO()
    with platform.session(write=False) as s:
        export(s, type_name, out, fmt)
    return out.getvalue()


def test_float_valued_integers_round_trip_through_csv(recs, tmp_path):
    # 1.0, 1e16 and 2.5e20 are integers for JSON Schema, and JSONL import keeps them floats.
    src = write(tmp_path, "src.jsonl", '{"code": "a", "qty": 1.0}\n{"code": "b", "qty": 1e16}\n'
                                       '{"code": "c", "qty": 2.5e20, "nums": [2.0, 3]}\n{"code": "d", "qty": 7}\n')
    assert run_import(recs, "rec", src)["imported"] == 4
    path = write(tmp_path, "out.csv", exported(recs, "rec", "csv"))
    report = run_import(recs, "rec_copy", path)
    assert report["invalid"] == [] and report["imported"] == 4
    assert stored(recs, "rec_copy") == stored(recs, "rec")
    col = Column("i", ["i"], frozenset({"integer"}))
    for v in (1.0, 1e16, 2.5e20, -3, 0):
        assert (type(col.read(col.write(v))), col.read(col.write(v))) == (type(v), v)
    assert col.read("007") == 7 and col.read(" 12 ") == 12 and col.read("1e3") == 1000


@pytest.mark.parametrize("column,cell", [
    ("anything", "123456789012345678901234567890"),
    ("mixed", "123456789012345678901234567890"),
    ("maybe", "-9223372036854775809"),
    ("nums", "\"[1, 123456789012345678901234567890]\""),
    ("obj", '"{""n"": -12345678901234567890}"'),
])
def test_csv_json_cells_do_not_turn_big_integers_into_floats(recs, tmp_path, column, cell):
    path = write(tmp_path, "big.csv", f"code,{column}\nx,{cell}\n")
    e = refused(recs, "rec", path)
    [row] = e.extra["report"]["invalid"]
    assert row["line"] == 2
    assert row["errors"][0]["pointer"].startswith(f"/{column}")
    assert "64-bit" in row["errors"][0]["message"]
    assert stored(recs, "rec") == []


FORMULAS = ["=SUM(A1:A2)", "=1+2", "+A1", "-x", "@SUM(A1)", "\tTab", "\rCR", "-2+3", "+1!A0",
            "=HYPERLINK(\"http://x\")"]
PLAIN = ["-2", "+98 912 553 9541", "-0.5", "a=b", "plain", '"=quoted"', "", " =lead"]


def test_csv_export_neutralises_formulas_and_still_round_trips(recs, tmp_path):
    rows = [{"code": f"c{i}", "text": t, "mixed": t, "anything": t} for i, t in enumerate(FORMULAS + PLAIN)]
    rows.append({"code": "=code", "nums": [1], "qty": -5})
    src = write(tmp_path, "src.jsonl", "".join(__import__("json").dumps(r) + "\n" for r in rows))
    assert run_import(recs, "rec", src)["imported"] == len(rows)
    text = exported(recs, "rec", "csv")
    import csv
    header, *cells = csv.reader(io.StringIO(text, newline=""))
    for row in cells:
        for cell in row:
            # no cell starts like a formula, apart from plain signed numbers (they call nothing)
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell in PLAIN + ["-5"], cell
    by_text = {row[header.index("code")]: row[header.index("text")] for row in cells}
    assert by_text["c0"] == '"=SUM(A1:A2)"' and by_text[f"c{len(FORMULAS)}"] == "-2"
    path = write(tmp_path, "out.csv", text)
    report = run_import(recs, "rec_copy", path)
    assert report["invalid"] == [] and report["imported"] == len(rows)
    assert stored(recs, "rec_copy") == stored(recs, "rec")


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\nname\nAda\n", b"\r\nname\r\nAda\r\n", b"\xef\xbb\xbf\n"])
def test_a_csv_whose_first_line_is_blank_has_no_header(platform, tmp_path, content):
    path = write(tmp_path, "blank.csv", content)
    e = refused(platform, "person", path, skip_invalid=True)
    assert e.errors[0]["line"] == 1 and "line 1 must be a header of field names" in e.errors[0]["message"]
    assert "0 columns" not in str(e.extra["report"])


@pytest.mark.parametrize("content,line,words", [
    ('name,age\nAda,1\n"Bob,2\nCy,3\n', 3, "in the row that starts on line 3 is never closed"),
    # A file of CR-only lines (old Excel for Mac) is read, not refused: test_cli15_cr_only_csv.
    ("name,age\nAda,1\nB\rob,2\n", 3, "line break (CR)"),
])
def test_malformed_csv_errors_speak_the_users_language(platform, tmp_path, content, line, words):
    e = refused(platform, "person", write(tmp_path, "m.csv", content))
    assert e.errors[0]["line"] == line and words in e.errors[0]["message"], e.errors
    assert "universal-newline" not in e.errors[0]["message"]


def test_a_cell_larger_than_the_limit_is_named(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(import_files, "MAX_CELL", 1000)
    import csv
    old = csv.field_size_limit()
    try:
        csv.field_size_limit(1000)
        e = refused(platform, "person", write(tmp_path, "l.csv", "name\nAda\n\"" + "x" * 2000 + "\"\n"))
    finally:
        csv.field_size_limit(old)
    assert e.errors[0]["line"] == 3 and "larger than" in e.errors[0]["message"]
    assert "1000 characters" in e.errors[0]["message"]


@pytest.mark.parametrize("bom,codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
@pytest.mark.parametrize("name", ["u.csv", "u.jsonl"])
def test_a_utf16_file_is_named_as_such(platform, tmp_path, bom, codec, name):
    body = "name\nAda\n" if name.endswith(".csv") else '{"name": "Ada"}\n'
    e = refused(platform, "person", write(tmp_path, name, bom + body.encode(codec)), skip_invalid=True)
    assert "UTF-16" in e.message and "save it as UTF-8" in e.message
    assert e.errors[0]["line"] == 1


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_csv_separated_by_something_else_than_commas_gets_a_hint(platform, tmp_path, sep):
    e = refused(platform, "person", write(tmp_path, "s.csv", f"name{sep}age\nAda{sep}1\n"))
    assert e.errors[-1] == {"line": 1, "pointer": "",
                            "message": f"the header is one column holding {sep!r}: save the file with commas "
                                       "between the cells"}


@pytest.mark.parametrize("kind", ["integer", "number"])
def test_digit_group_underscores_are_not_numbers(kind):
    # Python's int() and float() read "12_34" as 1234: a code or a typo silently became a number
    col = Column("n", ["n"], frozenset({kind}))
    for cell in ("12_34", "1_000", "1_0.5", "1e1_0"):
        with pytest.raises(ValueError, match=f"is not an? {kind}"):
            col.read(cell)
    assert col.read("1000") == 1000


def test_a_type_beside_a_ref_decides_how_a_cell_is_read():
    """2020-12 allows keywords beside ``$ref``: ``{"$ref": "#/$defs/code", "type": "integer"}``
    reads "7" as the integer 7, not as the referenced schema's text."""
    from xrm_core.csvcells import schema_types
    root = {"$defs": {"code": {"type": ["integer", "string"]}, "plain": {"type": "string"}}}
    assert schema_types(root, {"$ref": "#/$defs/code", "type": "integer"}) == frozenset({"integer"})
    assert schema_types(root, {"$ref": "#/$defs/plain"}) == frozenset({"string"})
    assert schema_types(root, {"$ref": "#/$defs/code"}) == frozenset({"integer", "string"})
