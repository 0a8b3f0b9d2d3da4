"""Import/export audit 3: files an organisation migrating from another CRM brings — sheets
joined with ``cat``, whole records instead of their data, nullable array columns."""
from __future__ import annotations

import io

import orjson
import pytest

from xrm_core import ValidationError, hookimpl, importer
from xrm_core.exporter import export

NAMES = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
         "properties": {"name": {"type": "string"}, "code": {"type": "string"}}}
LISTS = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
         "properties": {"tags": {"type": ["array", "null"], "items": {"type": "string"}},
                        "nums": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
                        "flags": {"type": ["array", "boolean"], "items": {"type": "boolean"}},
                        "label": {"type": "string"}}}
KEYS = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"n": {"type": "number"}, "a": {"type": "string"}, "b": {"type": "integer"},
                       "addr": {"type": "object", "properties": {"zip": {"type": "string"}}}}}
# A type whose data has the keys of a whole record: such rows are its data, not records.
RECORDISH = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "data": {"type": "object"},
                            "version": {"type": "integer"}}}


class IoPlugin:
    __name__ = "testaudit3io"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "named", "unique": ["code"], "schema": NAMES},
                {"name": "named_copy", "unique": ["code"], "schema": NAMES},
                {"name": "lists", "schema": LISTS}, {"name": "lists_copy", "schema": LISTS},
                {"name": "recordish", "schema": RECORDISH},
                {"name": "keyed", "unique": ["n", ["a", "b"], "addr.zip"], "schema": KEYS}]


@pytest.fixture
def p(make_platform):
    return make_platform(IoPlugin())


def write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def run_import(platform, type_name, path, **kw) -> dict:
    with platform.session() as s:
        return importer.import_file(s, type_name, path, **kw)


def refused(platform, type_name, path, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        run_import(platform, type_name, path, **kw)
    return info.value


def stored(platform, type_name) -> list[dict]:
    with platform.session() as s:
        return sorted((r.data for r in s.list(type_name, limit=1000)), key=_key)


def _key(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def history_count(platform) -> int:
    from sqlalchemy import func, select

    from xrm_core import db
    with platform.connection() as conn:
        return conn.execute(select(func.count()).select_from(db.activities)).scalar_one()


EXCEL = b"\xef\xbb\xbfname,code\r\nAda,A1\r\nBob,B1\r\n"


def test_two_excel_sheets_joined_with_cat_do_not_import_the_second_header_as_a_record(p, tmp_path):
    # `cat a.csv b.csv`: the second file's byte-order mark and header land on line 4.
    path = write(tmp_path, "joined.csv", EXCEL + b"\xef\xbb\xbfname,code\r\nCy,C1\r\n")
    before = history_count(p)
    err = refused(p, "named", path)
    assert err.extra["report"]["invalid"] == [{"line": 4, "errors": [{"pointer": "", "message": (
        "the row repeats the header, after a byte-order mark: a second file joined to this one? delete the line")}]}]
    assert stored(p, "named") == [] and history_count(p) == before
    report = run_import(p, "named", path, skip_invalid=True)
    assert (report["total"], report["imported"], [r["line"] for r in report["invalid"]]) == (4, 3, [4])
    assert stored(p, "named") == [{"name": "Ada", "code": "A1"}, {"name": "Bob", "code": "B1"},
                                  {"name": "Cy", "code": "C1"}]


def test_a_repeated_header_and_a_byte_order_mark_before_a_row_are_reported_by_line(p, tmp_path):
    path = write(tmp_path, "joined.csv", b"name,code\nAda,A1\nname,code\r\n\xef\xbb\xbfBob,B1\n"
                                         b'"name","code"\n')
    report = refused(p, "named", path, dry_run=True).extra["report"]
    assert report["invalid"] == [
        {"line": 3, "errors": [{"pointer": "", "message": "the row repeats the header: a second file joined to "
                                                          "this one? delete the line"}]},
        {"line": 4, "errors": [{"pointer": "", "message": (
            "the line starts with a byte-order mark (U+FEFF) as a file does: a second file joined to this one? "
            "delete the mark, and the file's header line if it is there")}]}]
    # Line 5 is not the header as written: quoted cells that happen to be the field names are data.
    assert report["valid"] == 2


def test_a_record_whose_cells_look_like_a_joined_file_still_round_trips_through_csv(p, tmp_path):
    rows = [{"name": "name", "code": "code"}, {"name": "\ufeffname", "code": "code2"},
            {"name": "\ufeffx", "code": "y"}, {"name": "a", "code": "b"}]
    with p.session() as s:
        for data in rows:
            s.create("named", data)
        out = io.StringIO()
        assert export(s, "named", out, "csv") == 4
    text = out.getvalue()
    assert text.splitlines()[0] == "name,code"
    path = write(tmp_path, "named.csv", text.encode("utf-8"))
    assert run_import(p, "named_copy", path)["imported"] == 4
    assert stored(p, "named_copy") == stored(p, "named")


def test_jsonl_files_joined_with_cat_keep_every_row(p, tmp_path):
    path = write(tmp_path, "joined.jsonl", b'\xef\xbb\xbf{"name": "Ada"}\r\n\xef\xbb\xbf{"name": "Bob"}\r\n')
    report = run_import(p, "named", path)
    assert (report["total"], report["imported"], report["invalid"]) == (2, 2, [])
    assert stored(p, "named") == [{"name": "Ada"}, {"name": "Bob"}]


def test_whole_records_are_refused_as_rows_with_a_hint(p, tmp_path):
    # What `xrm records list --json | jq -c '.[]'` gives: a permissive schema would take each
    # record's id, type, owner… as attributes of a new record.
    whole = {"id": "01a2179243d000009351", "type": "named", "data": {"name": "Ada"}, "version": 1,
             "owner": "admin", "unit": "root", "created_at": "2026-11-26T11:16:31Z",
             "updated_at": "2026-11-26T11:16:31Z"}
    path = write(tmp_path, "records.jsonl", orjson.dumps(whole) + b"\n" + b'{"name": "Bob", "data": {}}\n')
    report = refused(p, "named_copy", path).extra["report"]
    assert report["invalid"] == [{"line": 1, "errors": [{"pointer": "", "message": (
        "the row is a whole record (id, type, data, version…), not a record's data: import reads one data "
        "object per line (for records list --json: jq -c '.[].data')")}]}]
    assert report["valid"] == 1 and stored(p, "named_copy") == []
    # A page of the REST API's list, as curl saves it (one line).
    page = orjson.dumps({"items": [whole], "next": None})
    report = refused(p, "named_copy", write(tmp_path, "page.json", page + b"\n")).extra["report"]
    assert report["invalid"] == [{"line": 1, "errors": [{"pointer": "", "message": (
        "the row is a page of the REST API's records ({\"items\", \"next\"}), not a record's data: import "
        "reads one data object per line (jq -c '.items[].data')")}]}]
    # Data that has such keys besides the type's fields is data (an export reads back).
    data = {"name": "Cy", "id": "x1", "type": "t", "data": {"k": 1}, "version": 3}
    assert run_import(p, "named_copy", write(tmp_path, "d.jsonl", orjson.dumps(data) + b"\n"))["imported"] == 1
    assert stored(p, "named_copy") == [data]
    # A type whose fields are called so takes such rows as its data.
    data = {"id": "x1", "type": "t", "data": {"k": 1}, "version": 3}
    assert run_import(p, "recordish", write(tmp_path, "r.jsonl", orjson.dumps(data) + b"\n"))["imported"] == 1
    assert stored(p, "recordish") == [data]


def test_nullable_array_columns_read_semicolon_separated_items(p, tmp_path):
    path = write(tmp_path, "lists.csv", b'tags,nums,flags,label\na;b,1; 2,yes;no,x\nnull,null,yes,y\n'
                                        b'"[""c""]",[3],true,z\nd,4,,w\n')
    assert run_import(p, "lists", path)["imported"] == 4
    expected = [{"tags": ["a", "b"], "nums": [1, 2], "flags": [True, False], "label": "x"},
                {"tags": None, "nums": None, "flags": True, "label": "y"},
                {"tags": ["c"], "nums": [3], "flags": True, "label": "z"},
                {"tags": ["d"], "nums": [4], "label": "w"}]
    assert stored(p, "lists") == sorted(expected, key=_key)
    with p.session() as s:
        out = io.StringIO()
        export(s, "lists", out, "csv")
    assert run_import(p, "lists_copy", write(tmp_path, "out.csv", out.getvalue().encode()))["imported"] == 4
    assert stored(p, "lists_copy") == stored(p, "lists")


def test_a_bad_item_of_a_nullable_array_names_the_item(p, tmp_path):
    path = write(tmp_path, "lists.csv", b"tags,nums,label\n[x,,a\n,1;x,b\n,99999999999999999999,c\n")
    errors = {r["line"]: r["errors"] for r in refused(p, "lists", path).extra["report"]["invalid"]}
    assert errors[2] == [{"pointer": "/tags", "message": "'[x' is not array or null: invalid JSON array: "
                                                         "unexpected character, expected a JSON value"}]
    assert errors[3] == [{"pointer": "/nums", "message": "'1;x' is not array or null: 'x' is not an integer"}]
    assert errors[4] == [{"pointer": "/nums", "message": (
        "'99999999999999999999' is not array or null: '99999999999999999999' is out of the 64-bit integer range")}]


def test_a_file_imported_twice_is_reported_row_for_row_without_a_query_per_row(p, tmp_path, monkeypatch):
    from sqlalchemy import event

    from xrm_core import accounts
    monkeypatch.setattr(importer, "BATCH", 20)
    with p.connection() as conn:
        accounts.create_unit(conn, "branch")
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "named", "actions": ["read", "create"], "depth": "own"}]})
        accounts.create_user(conn, "clerk", "branch", ["clerk"], "pw")
    first = "".join(f"n{i},C{i}\n" for i in range(60))
    assert run_import(p, "named", write(tmp_path, "a.csv", ("name,code\n" + first).encode()))["imported"] == 60
    with p.session("clerk") as s:
        mine = s.create("named", {"name": "mine", "code": "M1"})
    ids = {d["code"]: rid for rid, d in _ids(p)}
    # The same file again, then a row clashing with an earlier row of this file two batches
    # back, one with a row of its own batch, and the clerk's record.
    again = write(tmp_path, "a.csv", ("name,code\n" + first + "x,N1\ny,N2\n" + "z,N1\n" * 30
                                      + "w,N2\nv,M1\n").encode())
    statements = []

    def count(*args):
        statements.append(1)
    event.listen(p.engine, "before_cursor_execute", count)
    try:
        report = run_import(p, "named", again, skip_invalid=True)
    finally:
        event.remove(p.engine, "before_cursor_execute", count)
    # Rows clashing with stored records or with rows of their batch cost a query per batch
    # and key, not several per row.
    assert len(statements) < 60  # 5 batches; row by row, that was over 300
    assert (report["total"], report["imported"]) == (94, 2)
    messages = {r["line"]: [(e["pointer"], e["message"]) for e in r["errors"]] for r in report["invalid"]}
    assert len(messages) == 92
    assert messages[2] == [("/code", f'code "C0" is already used by record {ids["C0"]}')]
    assert messages[61] == [("/code", f'code "C59" is already used by record {ids["C59"]}')]
    for line in range(64, 94):
        assert messages[line] == [("/code", 'code "N1" is already used by line 62 of this file')]
    assert messages[94] == [("/code", 'code "N2" is already used by line 63 of this file')]
    assert messages[95] == [("/code", f'code "M1" is already used by record {mine.id}')]
    statements.clear()
    event.listen(p.engine, "before_cursor_execute", count)
    try:
        report = run_import(p, "named", write(tmp_path, "b.csv", ("name,code\n" + first).encode()),
                            skip_invalid=True)
    finally:
        event.remove(p.engine, "before_cursor_execute", count)
    assert (report["total"], report["imported"], len(report["invalid"])) == (60, 0, 60)
    assert report["invalid"][0]["errors"][0]["message"] == f'code "C0" is already used by record {ids["C0"]}'
    assert len(statements) < 40  # 3 batches; row by row, that was over 300
    # The clerk sees only their own record: others are "another record", never named.
    with p.session("clerk") as s:
        report = importer.import_file(s, "named", again, skip_invalid=True, dry_run=True)
    messages = {r["line"]: r["errors"][0]["message"] for r in report["invalid"]}
    assert messages[2] == 'code "C0" is already used by another record'
    assert messages[95] == f'code "M1" is already used by record {mine.id}'


def _ids(platform) -> list[tuple[str, dict]]:
    with platform.session() as s:
        return [(r.id, r.data) for r in s.list("named", limit=1000)]


@pytest.mark.parametrize("content, hint", [
    (b"sep=;\r\nname;code\r\nAda;A1\r\n", "'sep=;' is a spreadsheet's separator line, not a header: delete it, so "
                                          "that the header is line 1, and save the file with commas between the cells"),
    (b"\xef\xbb\xbfsep=,\nname,code\nAda,A1\n", "'sep=,' is a spreadsheet's separator line, not a header: delete "
                                                "it, so that the header is line 1"),
])
def test_a_spreadsheets_separator_line_before_the_header_is_named(p, tmp_path, content, hint):
    err = refused(p, "named", write(tmp_path, "sep.csv", content), skip_invalid=True)
    [row] = err.extra["report"]["invalid"]
    assert row["line"] == 1 and {"pointer": "", "message": hint} in row["errors"]
    assert stored(p, "named") == []


def test_clashes_with_rows_of_earlier_batches_are_found_for_every_kind_of_unique_key(p, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    with p.session() as s:
        stored_rec = s.create("keyed", {"n": 7.0, "a": "s", "b": 1})
    rows = [{"n": 1}, {"a": "x", "b": 1}, {"addr": {"zip": "Z"}}, {"n": 2.5},
            {"n": 1.0}, {"a": "x", "b": 1.0}, {"addr": {"zip": "Z"}, "n": 2.5}, {"n": 7}, {"a": "s", "b": 1},
            {"a": "x", "b": 2}, {"addr": {"zip": "z"}}]
    path = write(tmp_path, "keyed.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in rows))
    report = run_import(p, "keyed", path, skip_invalid=True)
    errors = {r["line"]: [(e["pointer"], e["message"]) for e in r["errors"]] for r in report["invalid"]}
    assert errors == {
        5: [("/n", "n 1.0 is already used by line 1 of this file")],
        6: [("/a", 'a "x", b 1.0 is already used by line 2 of this file'),
            ("/b", 'a "x", b 1.0 is already used by line 2 of this file')],
        7: [("/n", "n 2.5 is already used by line 4 of this file")],
        8: [("/n", f"n 7 is already used by record {stored_rec.id}")],
        9: [("/a", f'a "s", b 1 is already used by record {stored_rec.id}'),
            ("/b", f'a "s", b 1 is already used by record {stored_rec.id}')],
    }
    assert report["imported"] == 6 and len(stored(p, "keyed")) == 7


@pytest.mark.parametrize("name, content, line", [("legacy.csv", b"name\nAda\ncaf\xe9\n", 3),
                                                 ("legacy.jsonl", b'{"name": "caf\xe9"}\n', 1)])
def test_a_legacy_encoding_is_named_with_its_line_and_a_way_out(p, tmp_path, name, content, line):
    err = refused(p, "named", write(tmp_path, name, content), skip_invalid=True)
    assert err.message.startswith(f"import refused: {name} is not UTF-8 text; save it as UTF-8")
    position = content.splitlines()[line - 1].index(0xE9) + 1
    assert err.extra["report"]["invalid"] == [{"line": line, "errors": [{"pointer": "", "message": (
        f"byte 0xe9 at position {position} of the line is not UTF-8 "
        "(invalid continuation byte): is the file in a legacy encoding (Windows-1252, Windows-1256, GBK…)? "
        "save it as UTF-8 (in Excel: CSV UTF-8), or convert it (iconv -f ENCODING -t utf-8)")}]}]
    assert stored(p, "named") == []


def test_a_comment_line_in_json_lines_is_named_as_such(p, tmp_path):
    path = write(tmp_path, "c.jsonl", b'# exported 2026-11-26, by name\n{"name": "Ada"}\n  // the rest\n')
    report = refused(p, "named", path).extra["report"]
    assert report["invalid"] == [
        {"line": 1, "errors": [{"pointer": "", "message": "invalid JSON at column 1: unexpected character, expected "
                                                          "a JSON value (JSON has no comments: delete the line)"}]},
        {"line": 3, "errors": [{"pointer": "", "message": "invalid JSON at column 3: unexpected character, expected "
                                                          "a JSON value (JSON has no comments: delete the line)"}]}]
    assert report["valid"] == 1 and stored(p, "named") == []
