"""Import/export audit 2: data sets nobody has seen — generated round trips, odd headers and files."""
from __future__ import annotations

import io
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import PersonPlugin
from xrm_core import ValidationError, hookimpl, import_files, importer
from xrm_core.exporter import export

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "tag": {"type": "string"}}}},
    "properties": {
        "run": {"type": "integer"},
        "text": {"type": "string"},
        "int": {"type": "integer"},
        "num": {"type": "number"},
        "flag": {"type": "boolean"},
        "maybe_text": {"type": ["string", "null"]},
        "maybe_int": {"type": ["integer", "null"]},
        "maybe_obj": {"type": ["object", "null"]},
        "texts": {"type": "array", "items": {"type": "string"}},
        "ints": {"type": "array", "items": {"type": "integer"}},
        "objs": {"type": "array", "items": {"type": "object"}},
        "maybe_texts": {"type": ["array", "null"], "items": {"type": "string"}},
        "obj": {"type": "object"},
        "point": {"$ref": "#/$defs/point"},
        "anything": {},
        "choice": {"enum": ["a", "1", 1, True, None, "null"]},
        "text_or_int": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        " padded ": {"type": "number"},
        "kind": {"enum": ["text", "count"]},
    },
    "required": ["run"],
    # "value" is text for one kind, an integer for the other
    "anyOf": [{"properties": {"kind": {"const": "text"}, "value": {"type": "string"}}},
              {"properties": {"kind": {"const": "count"}, "value": {"type": "integer"}}}],
}


class GenPlugin:
    __name__ = "testgen"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "gen", "schema": SCHEMA}, {"name": "gen_copy", "schema": SCHEMA}]


@pytest.fixture
def gen(make_platform):
    return make_platform(PersonPlugin(), GenPlugin())


def write(tmp_path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(p)


def run_import(platform, type_name, path, user="admin", **kw) -> dict:
    with platform.session(user) as s:
        return importer.import_file(s, type_name, path, **kw)


def refused(platform, type_name, path, user="admin", **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        run_import(platform, type_name, path, user, **kw)
    return info.value


def typed(v):
    """``v`` with the type of every value: 1 and 1.0 differ, as do 0.0 and -0.0, "1" and 1."""
    if isinstance(v, dict):
        return tuple(sorted((k, typed(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(typed(x) for x in v)
    return (type(v).__name__, repr(v))


def stored(platform, type_name, where=None) -> list:
    with platform.session() as s:
        return sorted((typed(r.data) for r in s.list(type_name, where=where, limit=1000)), key=repr)


# -- generated data ------------------------------------------------------------------------
# Text as users type it, and text that looks like something else: numbers, booleans, JSON,
# formulas, padded, quoted, with line breaks of every kind. No NUL (neither engine stores it)
# and no lone surrogates (not UTF-8).
TRICKY = ["", " ", "0", "007", "-0", "1.0", "1e3", "true", "no", "null", "[]", "{}", "[1]", '"x"', '""',
          '"', "=1+2", "+1", "-x", "@a", "\tt", "\r", "\n", "a\r\nb", "a;b", " a ", "\ufeff", "é中",
          "\\", '"=1"', "NaN", "Infinity", "-", "+", "1,5", " null", "null "]
text = st.one_of(st.sampled_from(TRICKY),
                 st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12))
big = st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(-3, 3))
integral_float = st.sampled_from([0.0, -0.0, 1.0, -7.0, 1e20, 2.5e20, 1e16, 1.7976931348623157e308])
number = st.one_of(big, integral_float, st.floats(allow_nan=False, allow_infinity=False))
json_value = st.recursive(st.one_of(st.none(), st.booleans(), big, number, text),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(text, inner, max_size=3)),
                          max_leaves=8)
obj = st.dictionaries(text, json_value, max_size=3)
FIELDS = {
    "text": text, "int": st.one_of(big, integral_float), "num": number, "flag": st.booleans(),
    "maybe_text": st.one_of(st.none(), text), "maybe_int": st.one_of(st.none(), big, integral_float),
    "maybe_obj": st.one_of(st.none(), obj), "texts": st.lists(text, max_size=3),
    "ints": st.lists(st.one_of(big, integral_float), max_size=3), "objs": st.lists(obj, max_size=2),
    "maybe_texts": st.one_of(st.none(), st.lists(text, max_size=3)), "obj": obj,
    "point": st.fixed_dictionaries({}, optional={"x": number, "tag": text}), "anything": json_value,
    "choice": st.sampled_from(SCHEMA["properties"]["choice"]["enum"]),
    "text_or_int": st.one_of(text, big), " padded ": number,
}
kind_and_value = st.one_of(st.just({}), st.builds(lambda v: {"kind": "text", "value": v}, text),
                           st.builds(lambda v: {"kind": "count", "value": v}, st.one_of(big, integral_float)))
record = st.builds(lambda fields, kv: {**fields, **kv}, st.fixed_dictionaries({}, optional=FIELDS), kind_and_value)
RUNS = itertools.count(1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_generated_records_round_trip_through_export_and_import(gen, tmp_path, fmt):
    """Any schema-valid data: export, import into a copy of the type, and the data is the same
    value for value and type for type."""

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(record, min_size=1, max_size=4))
    def check(rows):
        run = next(RUNS)
        rows = [{"run": run, **r} for r in rows]
        src = write(tmp_path, "src.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        assert run_import(gen, "gen", src)["imported"] == len(rows)
        if gen.engine.dialect.name == "sqlite":  # PostgreSQL's JSONB stores -0.0 as 0, 1e16 as 10000000000000000
            assert stored(gen, "gen", {"run": run}) == sorted((typed(r) for r in rows), key=repr)
        out = io.StringIO()
        warnings = []
        with gen.session(write=False) as s:
            assert export(s, "gen", out, fmt, where={"run": run}, warn=warnings.append) == len(rows)
        assert warnings == []
        path = write(tmp_path, f"out.{fmt}", out.getvalue())
        report = run_import(gen, "gen_copy", path)
        assert (report["invalid"], report["imported"]) == ([], len(rows))
        assert stored(gen, "gen_copy", {"run": run}) == stored(gen, "gen", {"run": run})

    check()


# -- line breaks, headers, blank lines ------------------------------------------------------
CR_TEXTS = ["a\rb", "ends in CR\r", "\r", "a\r\nb\n\rc", "tab\tand CR\r "]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_with_lone_carriage_returns_round_trips(gen, tmp_path, fmt):
    # Python's csv writer (before 3.12) left a cell holding a lone CR unquoted: import then
    # refused the file ("line break (CR) inside an unquoted cell") or lost a trailing CR.
    rows = [{"run": 0, "text": t, "texts": [t], "maybe_text": t} for t in CR_TEXTS]
    src = write(tmp_path, "cr.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert run_import(gen, "gen", src)["imported"] == len(rows)
    out = io.StringIO()
    with gen.session(write=False) as s:
        export(s, "gen", out, fmt, where={"run": 0})
    report = run_import(gen, "gen_copy", write(tmp_path, f"cr.{fmt}", out.getvalue()))
    assert (report["invalid"], report["imported"]) == ([], len(rows))
    assert stored(gen, "gen_copy") == stored(gen, "gen") == sorted((typed(r) for r in rows), key=repr)


POLY = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "properties": {"kind": {"enum": ["text", "count"]}, " padded ": {"type": "integer"}},
    "required": ["kind"],
    "oneOf": [
        {"properties": {"kind": {"const": "text"}, "value": {"type": "string"}}},
        {"properties": {"kind": {"const": "count"}, "value": {"type": "integer", "minimum": 0}}},
    ],
}


class PolyPlugin:
    __name__ = "testpoly"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "poly", "schema": POLY}, {"name": "poly_copy", "schema": POLY}]


@pytest.fixture
def poly(make_platform):
    return make_platform(PolyPlugin())


def test_a_field_typed_differently_in_oneof_branches_reads_either_type(poly, tmp_path):
    # The CSV column took the first declaration only (a string): a "count" row's 3 became
    # "3" and the row failed the schema — also when importing a CSV export.
    path = write(tmp_path, "p.csv", 'kind,value\ntext,abc\ncount,3\ntext,"""3"""\n')
    assert run_import(poly, "poly", path)["imported"] == 3
    expected = [{"kind": "count", "value": 3}, {"kind": "text", "value": "3"}, {"kind": "text", "value": "abc"}]
    assert stored(poly, "poly") == sorted((typed(r) for r in expected), key=repr)
    out = io.StringIO()
    with poly.session(write=False) as s:
        export(s, "poly", out, "csv")
    report = run_import(poly, "poly_copy", write(tmp_path, "out.csv", out.getvalue()))
    assert (report["invalid"], report["imported"]) == ([], 3)
    assert stored(poly, "poly_copy") == stored(poly, "poly")


@pytest.mark.parametrize("schema,types", [
    # alternatives widen: each branch's type may come
    ({"oneOf": [{"properties": {"v": {"type": "string"}}}, {"properties": {"v": {"type": "integer"}}}]},
     {"string", "integer"}),
    # a branch that does not declare the field allows any type: every cell reads as JSON or text
    ({"properties": {"v": True}, "anyOf": [{"properties": {"v": {"type": "array"}}}, {"required": ["w"]}]}, None),
    # constraints that all apply narrow: a keyword without a type adds nothing
    ({"properties": {"v": {"type": "integer"}}, "allOf": [{"properties": {"v": {"minimum": 0}}}]}, {"integer"}),
    ({"properties": {"v": {"type": "number"}}, "allOf": [{"properties": {"v": {"type": "integer"}}}]}, {"integer"}),
    ({"properties": {"v": {"type": ["string", "null"]}}, "if": {"required": ["w"]},
      "then": {"properties": {"v": {"type": "string"}}}}, {"string", "null"}),
    # a recursive $ref ends
    ({"$defs": {"n": {"anyOf": [{"$ref": "#/$defs/n"}, {"properties": {"v": {"type": "string"}}}]}},
      "$ref": "#/$defs/n", "properties": {"v": {"type": "string"}}}, {"string"}),
])
def test_the_types_of_a_csv_column_come_from_every_declaration_of_its_field(schema, types):
    from xrm_core.csvcells import column_for

    class Et:
        def __init__(self):
            self.schema = schema

        def properties(self):
            return {"v": schema.get("properties", {}).get("v", {})}

    assert column_for(Et(), "v").types == (None if types is None else frozenset(types))


def test_a_property_named_with_spaces_around_it_round_trips_through_csv(poly, tmp_path):
    # Header names are trimmed (" name " finds "name"), but a property really named " padded "
    # is found as written: the header export writes for it is read back.
    path = write(tmp_path, "src.jsonl", '{"kind": "text", " padded ": 7}\n')
    assert run_import(poly, "poly", path)["imported"] == 1
    out = io.StringIO()
    with poly.session(write=False) as s:
        export(s, "poly", out, "csv")
    assert out.getvalue().splitlines()[0].split(",")[1] == " padded "
    report = run_import(poly, "poly_copy", write(tmp_path, "out.csv", out.getvalue()))
    assert (report["invalid"], report["imported"]) == ([], 1)
    assert stored(poly, "poly_copy") == stored(poly, "poly")


def test_a_header_in_the_wrong_case_is_named_with_the_field_it_means(platform, tmp_path):
    e = refused(platform, "person", write(tmp_path, "c.csv", "Name,age\nAda,3\n"))
    assert e.errors == [{"line": 1, "pointer": "/Name",
                         "message": "column 'Name' is not a field of person (did you mean 'name'? names are "
                                    "case-sensitive)"}]


def test_a_dotted_column_into_an_array_says_the_array_is_one_cell(platform, tmp_path):
    e = refused(platform, "person", write(tmp_path, "c.csv", "name,tags.0,address.city.x\nAda,a,b\n"))
    assert e.errors == [
        {"line": 1, "pointer": "/tags/0", "message": "column 'tags.0' is not a field of person ('tags' is an "
                                                     "array: give it whole in a column 'tags', as a JSON array)"},
        {"line": 1, "pointer": "/address/city/x", "message": "column 'address.city.x' is not a field of person"}]


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_lines_of_only_spaces_or_tabs_are_blank_lines(platform, tmp_path, eol):
    # An editor's trailing whitespace: was "the row has 1 cells but the header has 2 columns".
    text = eol.join(["name,age", "Ada,1", "   ", '"Multi', 'line",2', "\t", "Bob,x", " \t ", ""])
    e = refused(platform, "person", write(tmp_path, "w.csv", text))
    report = e.extra["report"]
    assert report["total"] == 3
    assert report["invalid"] == [{"line": 7, "errors": [{"pointer": "/age", "message": "'x' is not an integer"}]}]


def test_leading_spaces_do_not_matter_where_no_text_is_allowed(gen, tmp_path):
    # "null " and "3 " were read, " null" and " {}" refused: JSON skips trailing spaces only.
    path = write(tmp_path, "s.csv", 'run,maybe_int,ints,maybe_obj\n1, null , 1 ; 2 , {} \n2, 3,[1] , null\n')
    assert run_import(gen, "gen", path)["imported"] == 2
    expected = [{"run": 1, "maybe_int": None, "ints": [1, 2], "maybe_obj": {}},
                {"run": 2, "maybe_int": 3, "ints": [1], "maybe_obj": None}]
    assert stored(gen, "gen") == sorted((typed(r) for r in expected), key=repr)


# -- files that are not what they claim -------------------------------------------------------
def _xlsx() -> bytes:
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>" * 50)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["f.csv", "f.jsonl"])
@pytest.mark.parametrize("content,words", [
    (_xlsx(), "is a ZIP file (an Excel .xlsx workbook?)"),
    ("name,age\nAda,3\n".encode("utf-16-le"), "NUL bytes"),
    ('{"name": "Ada"}\n'.encode("utf-16-be"), "NUL bytes"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\n\x03\x00>\x00", "NUL bytes"),
])
def test_a_binary_or_bomless_utf16_file_is_refused_as_such(platform, tmp_path, name, content, words):
    e = refused(platform, "person", write(tmp_path, name, content), skip_invalid=True)
    assert words in e.message + e.errors[0]["message"], e
    assert e.errors[0]["line"] == 1 and len(e.errors) == 1  # not one error per column or per line
    assert "Save As, CSV UTF-8" in e.errors[0]["message"] or "save the sheet as CSV UTF-8" in e.errors[0]["message"]
    with platform.session() as s:
        assert s.count("person") == 0


def test_a_utf16_file_with_its_bom_is_still_named_utf16(platform, tmp_path):
    e = refused(platform, "person", write(tmp_path, "u.csv", "\ufeffname\nAda\n".encode("utf-16-le")))
    assert "is UTF-16 text" in e.message


# -- hooks with --skip-invalid ------------------------------------------------------------------
class SideEffectPlugin:
    """before_create writes a note for every person, then sometimes leaves the row invalid
    or routes it to a unit that does not exist; after_create refuses one row."""

    __name__ = "testsideeffect"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record, session):
        if record.type != "person":
            return
        if event == "after_create" and record.data.get("name") == "Late":
            raise ValidationError("refused after it was stored")
        if event != "before_create":
            return
        session.create("note", {"text": f"seen {record.data.get('name')}"})
        if record.data.get("name") == "Spoil":
            record.data["age"] = -1
        if record.data.get("name") == "Lost":
            record.unit = "no such unit"


def test_a_row_refused_after_its_before_create_hooks_leaves_nothing_with_skip_invalid(make_platform, tmp_path):
    platform = make_platform(PersonPlugin(), SideEffectPlugin())
    path = write(tmp_path, "h.csv", "name,age,national_id\nAda,1,N1\nSpoil,2,\nLost,3,\nBob,4,\n"
                                    "Twin,5,N1\nLate,6,\n")
    report = run_import(platform, "person", path, skip_invalid=True)
    assert report["imported"] == 2 and [r["line"] for r in report["invalid"]] == [3, 4, 6, 7]
    assert report["invalid"][2]["errors"] == [{"pointer": "/national_id",
                                               "message": 'national_id "N1" is already used by line 2 of this file'}]
    with platform.session() as s:
        assert sorted(r.data["text"] for r in s.list("note")) == ["seen Ada", "seen Bob"]
        assert sorted(r.data["name"] for r in s.list("person")) == ["Ada", "Bob"]
        assert len(s.history(s.list("person")[0].id)) == 1  # its created activity, once


# -- the CLI --------------------------------------------------------------------------------------
@pytest.fixture
def xrm(cli):
    def run(*args):
        return cli(*args, plugins=(PersonPlugin(),))
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


def test_the_wrong_format_for_the_content_gets_a_hint(xrm, tmp_path):
    jsonl_as_csv = write(tmp_path, "a.csv", '{"name": "Ada"}\n{"name": "Bob"}\n')
    result = xrm("import", "person", jsonl_as_csv)
    assert result.exit_code != 0 and "is this a JSONL file? give --format jsonl" in result.stderr
    assert xrm("import", "person", jsonl_as_csv, "--format", "jsonl").exit_code == 0
    csv_as_jsonl = write(tmp_path, "b.jsonl", "name,age\nCy,3\n")
    result = xrm("import", "person", csv_as_jsonl, "--json")
    assert result.exit_code != 0
    [first, second] = json.loads(result.stdout)["invalid"]
    assert first["line"] == 1 and first["errors"][0]["message"].endswith("(is this a CSV file? give --format csv)")
    assert second["line"] == 2 and "CSV" not in second["errors"][0]["message"]
    assert xrm("import", "person", csv_as_jsonl, "--format", "csv").exit_code == 0
    names = sorted(r["data"]["name"] for r in json.loads(xrm("records", "list", "person", "--json").stdout))
    assert names == ["Ada", "Bob", "Cy"]


def test_a_json_document_is_not_read_as_json_lines(xrm, tmp_path):
    pretty = write(tmp_path, "rows.json", json.dumps([{"name": "Ada"}, {"name": "Bob"}], indent=2) + "\n")
    result = xrm("import", "person", pretty, "--skip-invalid", "--json")
    assert result.exit_code != 0
    assert json.loads(result.stdout)["invalid"] == [{"line": 1, "errors": [{"pointer": "", "message": (
        "import reads one JSON object per line: write the rows one per line (for a JSON array: jq -c '.[]')")}]}]
    assert "rows.json is one JSON document over many lines, not JSON Lines" in result.stderr
    one_line = write(tmp_path, "rows2.json", json.dumps([{"name": "Ada"}]) + "\n")
    result = xrm("import", "person", one_line)
    assert result.exit_code != 0 and "(the rows as one JSON array? write one object per line)" in result.stderr
    assert json.loads(xrm("records", "list", "person", "--json").stdout) == []


def test_the_progress_bar_moves_while_only_invalid_rows_are_read(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 5)
    ticks = []
    monkeypatch.setattr(importer.Progress, "tick", lambda self: ticks.append(self.f.tell()))
    path = write(tmp_path, "bad.jsonl", '{"name": ""}\n' * 20)
    assert run_import(platform, "person", path, skip_invalid=True)["imported"] == 0
    assert len(ticks) == 4 and ticks == sorted(ticks) and ticks[-1] > 0


@pytest.mark.parametrize("name,content,line", [
    ("one.jsonl", '{"name": "Ada"}\n[' + '{"name": "x"}, ' * 20 + "{}]\n", 2),
    ("one.csv", "name,age\nAda,1\nBob,2\n" + "x" * 400 + "\n", 4),
    ("one.csv", "x" * 400, 1),
])
def test_a_line_too_long_to_be_a_row_is_refused_not_read_whole(platform, tmp_path, monkeypatch, name, content, line):
    # Lines were read whole: a JSON array on one line, or a binary file without line breaks,
    # went into memory entire before anything was said.
    monkeypatch.setattr(import_files, "MAX_LINE", 300)
    e = refused(platform, "person", write(tmp_path, name, content), skip_invalid=True)
    assert f"{name} has a line longer than 300 bytes" in e.message
    assert e.errors == [{"line": line, "pointer": "", "message": "the line is longer than 300 bytes: is this a CSV "
                                                                 "or JSONL file (one record per line)?"}]
    with platform.session() as s:
        assert s.count("person") == 0


def test_a_space_after_a_closing_quote_is_explained(platform, tmp_path):
    e = refused(platform, "person", write(tmp_path, "q.csv", 'name,age\n"Ada" ,1\n'))
    assert e.errors[0]["line"] == 2
    assert "not even a space — comes between a cell's closing quote and the next comma" in e.errors[0]["message"]


# -- repeated keys ------------------------------------------------------------------------------
def test_a_jsonl_row_naming_a_key_twice_is_invalid_with_the_keys_pointer(platform, tmp_path):
    """JSON parsers keep the last of repeated keys silently; `records create --data` and the
    API refuse such a document, and so does import — row by row, with the key's pointer."""
    path = write(tmp_path, "rep.jsonl", '{"name": "Ada", "age": 1}\n'
                                        '{"name": "Bob", "age": 2, "age" : 3}\n'
                                        '{"name": "Cy", "tags": [{"k": 1, "k": 2}]}\n'
                                        '{"name": "Dee \\": quoted", "age": 4}\n')
    e = refused(platform, "person", path)
    assert [(r["line"], r["errors"]) for r in e.extra["report"]["invalid"]] == [
        (2, [{"pointer": "/age", "message": "the key 'age' is repeated in its object (JSON would keep only the "
                                            "last value)"}]),
        (3, [{"pointer": "/tags/0/k", "message": "the key 'k' is repeated in its object (JSON would keep only "
                                                 "the last value)"}])]
    report = run_import(platform, "person", path, skip_invalid=True)
    assert report["imported"] == 2
    with platform.session() as s:
        assert sorted(r.data["name"] for r in s.list("person")) == ["Ada", 'Dee ": quoted']


def test_a_header_spelling_a_property_with_decomposed_letters_names_it(make_platform, tmp_path):
    """"Café" typed on one system is "Cafe" + a combining accent on another: one property."""
    import unicodedata
    from xrm_core.plugins import hookimpl as impl

    class Accents:
        __name__ = "accents"

        @staticmethod
        @impl
        def xrm_entity_types():
            return [{"name": "place", "schema": {"type": "object", "properties": {"Café": {"type": "integer"}}}}]

    platform = make_platform(Accents())
    header = unicodedata.normalize("NFD", "Café")
    assert header != "Café"
    report = run_import(platform, "place", write(tmp_path, "p.csv", f"{header}\n3\n"))
    assert report["imported"] == 1
    with platform.session() as s:
        assert [r.data for r in s.list("place")] == [{"Café": 3}]
