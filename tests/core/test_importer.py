"""Import (CSV/JSONL) and export: conversion, line numbers, all-or-nothing, hooks, scope, memory."""
from __future__ import annotations

import gc
import io
import json
import tracemalloc

import orjson
import pytest
from sqlalchemy import func, select

from conftest import PERSON, PersonPlugin
from xrm_core import PermissionDenied, PluginError, ValidationError, db, hookimpl, import_run, import_writer, importer
from xrm_core.csvcells import ABSENT, Column
from xrm_core.exporter import export

THING_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "properties": {
        "code": {"type": "string", "minLength": 1},
        "title": {"type": "string"},
        "note": {"type": ["string", "null"]},
        "qty": {"type": "integer"},
        "price": {"type": "number"},
        "active": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "nums": {"type": "array", "items": {"type": "integer"}},
        "dims": {"type": "object", "properties": {"w": {"type": "number"}, "h": {"type": "number"}}},
        "address": {"$ref": "common.json#/$defs/address"},
        "mixed": {"type": ["integer", "string"]},
        "anything": {},
        "level": {"enum": ["low", "high"]},
        "نام": {"type": "string"},
    },
    "required": ["code"],
}


class ThingPlugin:
    """``thing`` with many field types, and ``thing_copy`` with the same schema (round trips)."""

    __name__ = "testthing"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "thing", "unique": ["code"], "schema": THING_SCHEMA},
                {"name": "thing_copy", "unique": ["code"], "schema": THING_SCHEMA}]


def write(tmp_path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(text, str):
        p.write_text(text, encoding="utf-8")
    else:
        p.write_bytes(text)
    return str(p)


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def counts(platform) -> tuple[int, int]:
    with platform.connection() as conn:
        return (conn.execute(select(func.count()).select_from(db.records)).scalar_one(),
                conn.execute(select(func.count()).select_from(db.activities)).scalar_one())


def canonical(d) -> bytes:
    return orjson.dumps(d, option=orjson.OPT_SORT_KEYS)


def datas(platform, type_name: str, user: str = "admin") -> list[dict]:
    with platform.session(user) as s:
        return sorted((r.data for r in s.list(type_name, limit=10_000)), key=canonical)


def run_import(platform, type_name, path, user="admin", **kw) -> dict:
    with platform.session(user) as s:
        return importer.import_file(s, type_name, path, **kw)


def refused(platform, type_name, path, user="admin", **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        run_import(platform, type_name, path, user, **kw)
    return info.value


def lines_of(report) -> dict[int, list[tuple[str, str]]]:
    return {r["line"]: [(e["pointer"], e["message"]) for e in r["errors"]] for r in report["invalid"]}


@pytest.fixture
def things(make_platform):
    return make_platform(PersonPlugin(), ThingPlugin())


# -- valid imports ------------------------------------------------------------------------
def test_jsonl_import_creates_records_with_history(platform, tmp_path):
    path = write(tmp_path, "people.jsonl", jsonl([{"name": "Ada", "age": 36}, {"name": "رضا", "tags": ["a"]}])
                 + "\n" + jsonl([{"name": "李雷", "vip": True}]))
    report = run_import(platform, "person", path)
    assert report == {"total": 3, "valid": 3, "imported": 3, "invalid": []}
    with platform.session() as s:
        recs = {r.data["name"]: r for r in s.list("person")}
        assert recs["رضا"].data == {"name": "رضا", "tags": ["a"]}
        assert recs["Ada"].owner == "admin" and recs["Ada"].version == 1
        history = {name: s.history(r.id) for name, r in recs.items()}
    assert {n: [(a["kind"], a["summary"]) for a in h] for n, h in history.items()} == {
        "Ada": [("created", "imported from people.jsonl line 1")],
        "رضا": [("created", "imported from people.jsonl line 2")],
        "李雷": [("created", "imported from people.jsonl line 4")],  # line 3 is blank
    }
    assert history["李雷"][0]["payload"] == {"data": {"name": "李雷", "vip": True},
                                             "import": {"file": "people.jsonl", "line": 4}}


def test_csv_import_converts_cells_to_schema_types(things, tmp_path):
    path = write(tmp_path, "things.csv", (
        "code,title,qty,price,active,tags,nums,dims,address.city,address.country,mixed,anything,level,note,نام\n"
        "a1,Hello,3,2.5,yes,red;blue,1;2,\"{\"\"w\"\": 1}\",Tehran,IR,7,\"[1, null]\",low,null,سلام\n"
        "a2,,,,FALSE,\"[\"\"x;y\"\"]\",[],,,,seven,plain text,,\"\"\"\"\"\",\n"
        "a3,\"multi\nline, with comma\",-4,1e3,0,,,,,,\"\"\"7\"\"\",3.5,high,,\n"))
    report = run_import(things, "thing", path)
    assert report["invalid"] == [] and report["imported"] == 3
    got = {d["code"]: d for d in datas(things, "thing")}
    assert got["a1"] == {"code": "a1", "title": "Hello", "qty": 3, "price": 2.5, "active": True,
                         "tags": ["red", "blue"], "nums": [1, 2], "dims": {"w": 1},
                         "address": {"city": "Tehran", "country": "IR"}, "mixed": 7, "anything": [1, None],
                         "level": "low", "note": None, "نام": "سلام"}
    # empty cells are absent; a quoted "" cell (JSON escape) is the empty string
    assert got["a2"] == {"code": "a2", "active": False, "tags": ["x;y"], "nums": [], "mixed": "seven",
                         "anything": "plain text", "note": ""}
    assert got["a3"] == {"code": "a3", "title": "multi\nline, with comma", "qty": -4, "price": 1000.0,
                         "active": False, "mixed": "7", "anything": 3.5, "level": "high"}
    assert isinstance(got["a3"]["price"], float) and isinstance(got["a1"]["qty"], int)


def test_bom_and_crlf_are_accepted_in_both_formats(platform, tmp_path):
    bom = b"\xef\xbb\xbf"
    a = write(tmp_path, "a.csv", bom + "name,age\nمریم,30\n".encode())
    b = write(tmp_path, "b.jsonl", bom + '{"name": "王芳"}\n'.encode())
    c = write(tmp_path, "c.csv", bom + 'name,age\r\n"Li\r\nNa",2\r\nBad,x\r\n'.encode())
    d = write(tmp_path, "d.jsonl", '{"name": "Ali"}\r\n\r\n{"name": 1}\r\n'.encode())
    assert run_import(platform, "person", a)["imported"] == 1
    assert run_import(platform, "person", b)["imported"] == 1
    assert list(lines_of(run_import(platform, "person", c, skip_invalid=True))) == [4]
    assert list(lines_of(run_import(platform, "person", d, skip_invalid=True))) == [3]
    assert datas(platform, "person") == sorted([{"name": "مریم", "age": 30}, {"name": "王芳"},
                                                {"name": "Li\r\nNa", "age": 2}, {"name": "Ali"}], key=canonical)


@pytest.mark.parametrize("name,content,line", [
    ("latin1.csv", "name,age\nAda,1\nJos\xe9,2\n".encode("latin-1"), 3),
    ("latin1.jsonl", '{"name": "Ada"}\n{"name": "Jos\xe9"}\n'.encode("latin-1"), 2),
])
def test_non_utf8_file_is_refused_with_its_line(platform, tmp_path, name, content, line):
    path = write(tmp_path, name, content)
    before = counts(platform)
    e = refused(platform, "person", path, skip_invalid=True)
    assert f"{name} is not UTF-8 text" in e.message
    assert e.errors[0]["line"] == line and "0xe9" in e.errors[0]["message"]
    assert e.extra["report"]["imported"] == 0
    assert counts(platform) == before


# -- invalid rows -------------------------------------------------------------------------
def test_invalid_jsonl_rows_are_reported_by_line_and_pointer(platform, tmp_path):
    path = write(tmp_path, "p.jsonl", (
        '{"name": "Ada", "age": 3}\n'
        '{"name": "Bob", "age": -1, "email": "nope"}\n'
        '{"name": "Cy"\n'
        '\n'
        '[1, 2]\n'
        '"text"\n'
        '{"name": "Dee"}\n'))
    before = counts(platform)
    e = refused(platform, "person", path)
    report = e.extra["report"]
    assert report["total"] == 6 and report["valid"] == 2 and report["imported"] == 0
    got = lines_of(report)
    assert list(got) == [2, 3, 5, 6]
    assert [p for p, _ in got[2]] == ["/age", "/email"]
    assert got[3][0][0] == "" and got[3][0][1].startswith("invalid JSON")
    assert got[5] == [("", "a row must be a JSON object, not an array")]
    assert got[6] == [("", "a row must be a JSON object, not a string")]
    assert "import refused: 4 of 6 rows are invalid" in e.message
    assert {"line": 2, "pointer": "/age", "message": got[2][0][1]} in e.errors
    assert counts(platform) == before  # all-or-nothing: records and history as before


def test_invalid_csv_cells_and_rows(things, tmp_path):
    path = write(tmp_path, "t.csv", (
        "code,qty,price,active,nums\n"
        "ok1,1,1,true,1;2\n"
        "bad-qty,x,1,true,\n"
        "\"bad\nprice\",1,abc,maybe,\n"
        ",zz,1,true,\n"
        "bad-nums,1,1,true,1;two\n"
        "too-many,1,1,true,,extra\n"
        "nan,1,nan,true,\n"
        ",1,1,true,\n"
        "ok2,2.0,,,\n"
        "too-few,1\n"))
    before = counts(things)
    report = refused(things, "thing", path).extra["report"]
    assert report["total"] == 10 and report["valid"] == 2
    got = lines_of(report)
    assert "code" in got[6][0][1] and "qty" not in got[6][0][1]
    assert got == {
        3: [("/qty", "'x' is not an integer")],
        4: [("/active", "'maybe' is not a boolean (true/false)"), ("/price", "'abc' is not a number")],
        6: [("/code", got[6][0][1]), ("/qty", "'zz' is not an integer")],  # schema errors as well
        7: [("/nums", "'two' is not an integer")],
        8: [("", "the row has 6 cells but the header has 5 columns")],
        9: [("/price", "'nan' is not a number")],
        10: [("/code", got[10][0][1])],  # the required code is missing (line 4's cell spans 2 lines)
        12: [("", "the row has 2 cells but the header has 5 columns")],  # a lost comma shifts cells
    }
    assert "code" in got[10][0][1]
    assert counts(things) == before


def test_unknown_or_repeated_csv_columns_are_a_header_error_on_line_1(platform, tmp_path):
    path = write(tmp_path, "h.csv", "name,nmae,age,age,\nAda,x,1,1,\n")
    before = counts(platform)
    e = refused(platform, "person", path, skip_invalid=True)  # a bad header refuses even then
    assert "the CSV header (line 1) does not match the fields of person" in e.message
    report = e.extra["report"]
    assert report["imported"] == 0
    assert report["invalid"] == [{"line": 1, "errors": [
        {"pointer": "/nmae", "message": "column 'nmae' is not a field of person"},
        {"pointer": "", "message": "column 'age' appears twice (columns 3 and 4)"}]}]
    assert counts(platform) == before
    assert "no column has a name" in refused(platform, "person", write(tmp_path, "n.csv", ",\nAda,\n")).errors[0]["message"]


def test_unnamed_columns_must_be_empty(platform, tmp_path):
    """A spreadsheet's trailing empty columns (``name,age,,``) are ignored; a value under a
    column with no name is reported on its row, not guessed at."""
    path = write(tmp_path, "t.csv", "name,age,,\r\nAda,36,,\r\nBob,7,, \r\nCy,1,x,\r\n")
    e = refused(platform, "person", path)
    assert e.extra["report"]["invalid"] == [
        {"line": 4, "errors": [{"pointer": "", "message": "column 3 has a value but no name in the header"}]}]
    with platform.session() as s:
        report = importer.import_file(s, "person", path, skip_invalid=True)
        assert report["imported"] == 2
        assert sorted((r.data["name"], r.data["age"]) for r in s.list("person")) == [("Ada", 36), ("Bob", 7)]


def test_malformed_csv_and_empty_csv_are_refused(platform, tmp_path):
    bad = write(tmp_path, "bad.csv", 'name,age\nAda,1\n"Bob"x,2\n')
    e = refused(platform, "person", bad, skip_invalid=True)
    assert "bad.csv is not valid CSV" in e.message and e.errors[0]["line"] == 3
    open_quote = write(tmp_path, "open.csv", 'name,age\nAda,1\n"Bob,2\nCy,3\n')
    assert refused(platform, "person", open_quote).errors[0]["line"] == 3
    empty = write(tmp_path, "empty.csv", "")
    assert "empty.csv is empty" in refused(platform, "person", empty).message
    assert counts(platform)[0] == 0


def test_skip_invalid_imports_only_the_valid_rows(platform, tmp_path):
    path = write(tmp_path, "p.csv", "name,age\nAda,1\n,2\nBob,x\nCy,3\n")
    report = run_import(platform, "person", path, skip_invalid=True)
    assert report["total"] == 4 and report["valid"] == 2 and report["imported"] == 2
    assert list(lines_of(report)) == [3, 4]
    assert datas(platform, "person") == [{"name": "Ada", "age": 1}, {"name": "Cy", "age": 3}]
    # the refused report (without --skip-invalid) lists exactly the same rows
    assert refused(platform, "person", path).extra["report"]["invalid"] == report["invalid"]


def test_dry_run_writes_nothing_but_reports(platform, tmp_path):
    good = write(tmp_path, "good.jsonl", jsonl([{"name": "Ada"}, {"name": "Bob"}]))
    before = counts(platform)
    assert run_import(platform, "person", good, dry_run=True) == {"total": 2, "valid": 2, "imported": 0,
                                                                  "invalid": []}
    bad = write(tmp_path, "bad.jsonl", jsonl([{"name": "Ada"}, {"age": 1}]))
    e = refused(platform, "person", bad, dry_run=True)
    assert e.message.startswith("dry run: the import would be refused")
    report = run_import(platform, "person", bad, dry_run=True, skip_invalid=True)
    assert (report["valid"], report["imported"], list(lines_of(report))) == (1, 0, [2])
    assert counts(platform) == before


# -- unique fields --------------------------------------------------------------------------
def test_duplicate_unique_values_in_file_and_against_stored_records(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 3)  # duplicates inside one batch and across batches
    with platform.session() as s:
        existing = s.create("person", {"name": "Old", "national_id": "N0"})
    rows = [{"name": "A", "national_id": "N1"}, {"name": "B", "national_id": "N0"},
            {"name": "C", "national_id": "N1"}, {"name": "D"}, {"name": "E", "age": -1},
            {"name": "F", "national_id": "N2"}, {"name": "G", "national_id": "N1"},
            {"name": "H", "national_id": "N2"}]
    path = write(tmp_path, "dups.jsonl", jsonl(rows))
    before = counts(platform)
    e = refused(platform, "person", path)
    expected = {
        2: [("/national_id", f'national_id "N0" is already used by record {existing.id}')],
        3: [("/national_id", 'national_id "N1" is already used by line 1 of this file')],
        5: [("/age", "-1 is less than the minimum of 0")],
        7: [("/national_id", 'national_id "N1" is already used by line 1 of this file')],
        8: [("/national_id", 'national_id "N2" is already used by line 6 of this file')],
    }
    assert lines_of(e.extra["report"]) == expected
    assert e.extra["report"]["valid"] == 3
    assert counts(platform) == before
    report = run_import(platform, "person", path, skip_invalid=True)
    assert lines_of(report) == expected and report["imported"] == 3
    assert sorted(d["name"] for d in datas(platform, "person")) == ["A", "D", "F", "Old"]


def test_duplicate_of_a_record_outside_the_callers_scope_is_not_named(org, tmp_path):
    with org.session("manager_b") as s:
        s.create("person", {"name": "Hidden", "national_id": "X1"})
    path = write(tmp_path, "x.csv", "name,national_id\nMine,X1\n")
    e = refused(org, "person", path, user="agent_a")
    assert e.errors == [{"line": 2, "pointer": "/national_id",
                         "message": 'national_id "X1" is already used by another record'}]


# -- scope --------------------------------------------------------------------------------
def test_import_and_export_respect_scope(org, tmp_path):
    path = write(tmp_path, "p.jsonl", jsonl([{"name": "A1"}, {"name": "A2"}]))
    assert run_import(org, "person", path, user="agent_a")["imported"] == 2
    with org.session("agent_a2") as s:
        s.create("person", {"name": "Other agent"})
    with org.session("manager_b") as s:
        s.create("person", {"name": "South"})
    with org.session("agent_a") as s:
        recs = s.list("person")
    assert {(r.owner, r.unit) for r in recs} == {("agent_a", "dealer_a")}
    with pytest.raises(PermissionDenied, match="'nobody' may not create person"):
        run_import(org, "person", path, user="nobody")

    def exported(user, fmt="jsonl"):
        out = io.StringIO()
        with org.session(user, write=False) as s:
            n = export(s, "person", out, fmt)
        return n, out.getvalue()

    n, text = exported("agent_a")
    assert n == 2 and sorted(json.loads(x)["name"] for x in text.splitlines()) == ["A1", "A2"]
    n, text = exported("manager_a", "csv")
    assert n == 3 and set(text.splitlines()[0].split(",")) == set(PERSON["schema"]["properties"])
    assert exported("north_lead")[0] == 3 and exported("analyst")[0] == 4
    with pytest.raises(PermissionDenied):
        exported("nobody")


# -- plugin hooks -------------------------------------------------------------------------
class HookPlugin:
    """before_create stamps or refuses rows; after_create counts or refuses; one may crash."""

    __name__ = "testhooks"

    def __init__(self):
        self.after = []

    @hookimpl
    def xrm_record_event(self, event, record, changes, session):
        if record.type != "person":
            return
        name = record.data.get("name")
        if event == "before_create":
            if name == "Mallory":
                raise ValidationError("Mallory is not welcome", [{"pointer": "/data/name", "message": "banned"}])
            if name == "Crash":
                raise ZeroDivisionError("boom")
            record.data["name"] = name.upper()
            if name == "Empty":
                record.data["age"] = -5  # the hook's change is validated again
            if name == "Nul":
                record.data["name"] = "N\x00L"  # valid for the schema, but no engine stores it alike
        elif event == "after_create":
            if name == "LATE":
                session.create("note", {"text": "written before refusing"})
                raise ValidationError("refused after create")
            self.after.append(record.id)


@pytest.fixture
def hooked(make_platform):
    plugin = HookPlugin()
    return make_platform(PersonPlugin(), plugin), plugin


def test_hooks_run_for_imported_rows_and_their_refusals_mark_rows_invalid(hooked, tmp_path):
    platform, plugin = hooked
    path = write(tmp_path, "h.csv", "name,age\nada,1\nMallory,2\nbob,3\nEmpty,4\nlate,5\nNul,6\n")
    before = counts(platform)
    e = refused(platform, "person", path)
    assert lines_of(e.extra["report"]) == {
        3: [("/name", "banned")],
        5: [("/age", "-5 is less than the minimum of 0 (set by the before_create hook of plugin 'testhooks')")],
        6: [("", "refused after create")],
        7: [("/name", "the NUL character (\\u0000) cannot be stored (set by the before_create hook of plugin 'testhooks')")]}
    assert counts(platform) == before

    plugin.after.clear()
    report = run_import(platform, "person", path, skip_invalid=True)
    assert report["imported"] == 2 and list(lines_of(report)) == [3, 5, 6, 7]
    assert datas(platform, "person") == [{"name": "ADA", "age": 1}, {"name": "BOB", "age": 3}]
    with platform.session() as s:
        ids = sorted(r.id for r in s.list("person"))
        assert s.count("note") == 0  # the refused row's hook writes were rolled back
        assert sorted(a["payload"]["data"]["name"] for i in ids for a in s.history(i)) == ["ADA", "BOB"]
    assert sorted(plugin.after) == ids


def test_a_crashing_hook_aborts_the_import_naming_the_line(hooked, tmp_path):
    platform, _ = hooked
    path = write(tmp_path, "c.jsonl", jsonl([{"name": "ok"}, {"name": "Crash"}]))
    before = counts(platform)
    with pytest.raises(PluginError, match=r"on line 2 of c.jsonl: ZeroDivisionError: boom"):
        run_import(platform, "person", path, skip_invalid=True)
    assert counts(platform) == before


# -- batches ---------------------------------------------------------------------------------
class WatchPlugin:
    """Looks, from every person's before_create, at what the earlier rows left behind."""

    __name__ = "testwatch"

    def __init__(self):
        self.created: list[str] = []  # ids, in after_create order
        self.seen: list[tuple] = []   # per before_create: (after_create calls, stored, last's history)

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if record.type != "person":
            return
        if event == "after_create":
            self.created.append(record.id)
        elif event == "before_create":
            last = self.created[-1] if self.created else None
            self.seen.append((len(self.created), session.count("person"),
                              [a["kind"] for a in session.history(last)] if last else []))


def test_hooks_see_every_earlier_batch_stored_with_its_history(make_platform, tmp_path, monkeypatch):
    """A batch goes through each step at once (before_create for all its rows, records,
    after_create, history): a hook sees every earlier batch done, none of its own batch."""
    monkeypatch.setattr(importer, "BATCH", 3)
    watch = WatchPlugin()
    platform = make_platform(PersonPlugin(), watch)
    path = write(tmp_path, "w.jsonl", jsonl([{"name": f"p{i}"} for i in range(10)]))
    assert run_import(platform, "person", path)["imported"] == 10
    done = [3 * (i // 3) for i in range(10)]  # rows of the batches before row i's
    assert watch.seen == [(n, n, ["created"] if n else []) for n in done]
    assert counts(platform) == (10, 10)


@pytest.mark.parametrize("hooks", [False, True])
def test_a_failed_batch_write_changes_nothing(make_platform, tmp_path, monkeypatch, hooks):
    """An error while writing a batch (here: the second batch's history) reaches the
    caller, and the import leaves the database as it was; the session stays usable."""
    monkeypatch.setattr(importer, "BATCH", 3)
    watch = [WatchPlugin()] if hooks else []
    platform = make_platform(PersonPlugin(), *watch)
    calls = []
    orig = import_writer.Writer._insert_history

    def failing(self, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise OSError("disk full")
        return orig(self, batch)

    monkeypatch.setattr(import_writer.Writer, "_insert_history", failing)
    path = write(tmp_path, "f.jsonl", jsonl([{"name": f"p{i}"} for i in range(8)]))
    before = counts(platform)
    with platform.session() as s:
        with pytest.raises(OSError, match="disk full"):
            importer.import_file(s, "person", path)
        s.create("note", {"text": "the session goes on"})
    assert counts(platform) == (before[0] + 1, before[1] + 1)
    with pytest.raises(OSError, match="disk full"):
        with platform.session() as s:
            calls.clear()
            for w in watch:
                w.created.clear()  # the rolled-back import's records are gone
            s.create_many("person", [{"name": f"q{i}"} for i in range(8)])
    assert counts(platform) == (before[0] + 1, before[1] + 1)


# -- round trip -----------------------------------------------------------------------------
ROUND_TRIP = [
    {"code": "A1", "title": "سلام دنیا، «نقل‌قول» و \"quotes\"", "qty": 3, "price": 19.5, "active": True,
     "tags": ["红", "蓝, 绿", "a;b"], "nums": [1, -2], "dims": {"w": 1.5, "h": 2},
     "address": {"city": "تهران", "line1": "No. 5, \"Main\" St.\nFloor 2"}, "mixed": 7,
     "anything": {"k": [1, None]}, "level": "low", "note": None, "نام": "مریم"},
    {"code": "A2", "title": "", "note": "null", "mixed": "7", "anything": "text", "price": 3, "qty": 0,
     "active": False, "tags": [], "nums": []},
    {"code": "A3", "title": "\"quoted\"", "note": "", "mixed": "", "anything": "\"\"", "price": 1e16,
     "qty": -5, "tags": [""]},
    {"code": "A4", "title": "line1\r\nline2\rline3", "anything": 3.25, "price": 0.1, "mixed": "true"},
    {"code": "中文-5", "title": "  spaces around  ", "anything": True, "note": "\"null\"", "price": -0.5},
    {"code": "A6"},
    {"code": "A7", "title": "=1+2", "anything": None, "note": "x", "mixed": "[1]", "price": 2.0},
    {"code": "A8", "title": "null", "anything": "3", "mixed": "\"7\"", "tags": ["null", "1"]},
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_round_trips(things, tmp_path, fmt):
    path = write(tmp_path, "src.jsonl", jsonl(ROUND_TRIP))
    assert run_import(things, "thing", path)["imported"] == len(ROUND_TRIP)
    stored = datas(things, "thing")
    assert len(stored) == len(ROUND_TRIP)
    out = tmp_path / f"out.{fmt}"
    warnings = []
    with things.session(write=False) as s, open(out, "w", encoding="utf-8", newline="") as f:
        assert export(s, "thing", f, fmt, warn=warnings.append) == len(ROUND_TRIP)
    assert warnings == []
    report = run_import(things, "thing_copy", str(out))
    assert report["invalid"] == [] and report["imported"] == len(ROUND_TRIP)
    # identical, types included (1 vs 1.0, True vs 1): compare the canonical JSON
    assert [canonical(d) for d in datas(things, "thing_copy")] == [canonical(d) for d in stored]


def test_csv_export_warns_about_what_csv_cannot_hold(platform, tmp_path):
    with platform.session() as s:
        s.create("person", {"name": "Ada", "extra": 1})
        s.create("note", {"text": "x", "more": [1]})
    warnings = []
    with platform.session(write=False) as s:
        export(s, "person", io.StringIO(), "csv", warn=warnings.append)
    assert len(warnings) == 1 and "extra (1)" in warnings[0] and "--format jsonl" in warnings[0]


def test_cell_reading_and_writing_are_inverse():
    text = Column("t", ["t"], frozenset({"string"}))
    nullable = Column("n", ["n"], frozenset({"string", "null"}))
    anything = Column("a", ["a"], None)
    for col, values in [(text, ["", '""', '"x"', "x", "null", " ", '"', '"\\"']),
                        (nullable, ["", "null", '"null"', "x", None, "3"]),
                        (anything, ["", "3", 3, 3.0, True, "true", None, [], {}, '"3"', "x y"])]:
        for v in values:
            cell = col.write(v)
            assert (type(col.read(cell)), col.read(cell)) == (type(v), v), (col.name, v, cell)
    assert text.read("") is ABSENT and anything.read("") is ABSENT
    assert Column("i", ["i"], frozenset({"integer"})).read(" ") is ABSENT
    with pytest.raises(ValueError, match="out of the 64-bit integer range"):
        Column("i", ["i"], frozenset({"integer"})).read("1" * 30)


def test_number_cells_in_persian_or_arabic_indic_digits_read_as_their_digits():
    """A spreadsheet kept in Persian writes ۱۲ for 12: read on purpose, as the UI reads such
    numbers; what is no number in any script stays refused."""
    integer, number = Column("i", ["i"], frozenset({"integer"})), Column("n", ["n"], frozenset({"number"}))
    assert (integer.read("۱۲"), integer.read("٣٠"), number.read("۱۲.۵"), number.read("-٢.٥")) == (12, 30, 12.5, -2.5)
    assert type(integer.read("۱۲")) is int
    for cell in ("1_000", "١_٠٠٠", "nan", "infinity", "۱۲a", "½"):
        with pytest.raises(ValueError, match="is not"):
            (number if cell != "١_٠٠٠" else integer).read(cell)


# -- progress and memory ----------------------------------------------------------------------
def test_progress_bar_on_stderr_for_long_files(platform, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(import_run, "PROGRESS_BYTES", 100)
    monkeypatch.setattr(importer, "BATCH", 5)
    path = write(tmp_path, "p.jsonl", jsonl([{"name": f"P{i}"} for i in range(30)]))
    assert run_import(platform, "person", path, progress=True)["imported"] == 30
    captured = capsys.readouterr()
    assert "importing" in captured.err and captured.out == ""


def _peak_import(platform, path) -> int:
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    report = run_import(platform, "note", path)
    peak = tracemalloc.get_traced_memory()[1] - base
    assert report["imported"] == report["total"]
    return peak


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_import_memory_stays_flat(platform, tmp_path, monkeypatch, fmt):
    """Peak memory (Python allocations) of importing 4k and 12k rows is the same: it depends on
    the batch size, not on the file. A leak of even one small object per row would show."""
    monkeypatch.setattr(importer, "BATCH", 250)

    def make(n, name):
        if fmt == "jsonl":
            return write(tmp_path, name, "".join(f'{{"text": "row {i} of {name} padded"}}\n' for i in range(n)))
        return write(tmp_path, name, "text\n" + "".join(f"row {i} of {name} padded\n" for i in range(n)))
    small, large = make(4_000, f"small.{fmt}"), make(12_000, f"large.{fmt}")
    tracemalloc.start()
    try:
        run_import(platform, "note", make(1_000, f"warmup.{fmt}"))  # caches, compiled statements
        peak_small = _peak_import(platform, small)
        peak_large = _peak_import(platform, large)
    finally:
        tracemalloc.stop()
    # Proportional growth would triple the per-row part; allow a quarter of noise.
    assert peak_large - peak_small < max(peak_small // 4, 300_000), (peak_small, peak_large)
