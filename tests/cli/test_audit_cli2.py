"""The CLI with an entity type it was not written for: nested objects, arrays, ``anyOf``,
nullable fields, enums of mixed types, a ``$ref`` into common.json, unicode labels and
property names, a two-field unique key — ``--json`` stays one document, ``--where`` works
on nested and mixed fields, and text output stays one line per row."""
from __future__ import annotations

import json
from unicodedata import east_asian_width

import pytest

SCHEMA = "https://json-schema.org/draft/2020-12/schema"
GADGET = {
    "name": "gadget", "label": {"en": "Gadget", "fa": "ابزار", "zh": "小工具"}, "title_field": "title",
    "indexes": ["spec.size", "spec.color"], "unique": [["code", "region"]],
    "schema": {"$schema": SCHEMA, "type": "object", "required": ["title"], "properties": {
        "title": {"type": "string"}, "code": {"type": "string"}, "region": {"type": "string"},
        "spec": {"type": "object", "properties": {"size": {"type": "number"},
                                                  "color": {"type": ["string", "null"]}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "mixed": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "level": {"enum": [1, "two", True, None]},
        "with space": {"type": "string"}, "名前": {"type": "string"},
        "mail": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/email"}}},
}
ROWS = [
    {"title": "مرحبا بالعالم", "code": "A", "region": "r1", "spec": {"size": 3, "color": "red"},
     "tags": ["a"], "mixed": 5, "level": 1, "with space": "s p", "名前": "中文", "mail": "a@b.co"},
    {"title": "小工具一号", "code": "B", "region": "r1", "spec": {"size": 10, "color": None}, "mixed": "5",
     "level": "two"},
    {"title": "line one\nline two", "code": "C", "region": "r2", "spec": {"size": 2.5}, "mixed": "abc",
     "level": True},
    {"title": "plain", "code": "D", "region": "r2", "level": None, "mixed": 12},
]


def _width(text: str) -> int:
    return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)


@pytest.fixture
def odd(cli, tmp_path):
    """``run(*args)`` on a database holding the gadget type and ROWS; ``run.ids`` by code."""
    def run(*args, ok=True):
        r = cli(*args)
        if ok:
            assert r.exit_code == 0, r.stderr
            assert "Traceback" not in r.stderr
        return r
    run("init", "--admin-password", "pw")
    f = tmp_path / "gadget.json"
    f.write_text(json.dumps(GADGET, ensure_ascii=False), encoding="utf-8")
    run("types", "add", f)
    run.ids = {row["code"]: run("records", "create", "gadget", "--data", json.dumps(row, ensure_ascii=False)
                                ).stdout.strip() for row in ROWS}
    return run


def _codes(run, *wheres):
    r = run("records", "list", "gadget", *[a for w in wheres for a in ("--where", w)], "--json")
    return sorted(x["data"]["code"] for x in json.loads(r.stdout))


@pytest.mark.parametrize("wheres, expected", [
    (["spec.size>2.5"], ["A", "B"]),              # nested number, strict
    (["spec.size<=2.5"], ["C"]),
    (["spec.size>=3", "spec.size<10"], ["A"]),    # two conditions on one nested field
    (["spec.color=red"], ["A"]),
    (["spec.color!=red"], ["B", "C", "D"]),       # null and absent are not "red"
    (["mixed=5"], ["A"]),                         # anyOf integer|string: 5 is the number …
    (['mixed="5"'], ["B"]),                       # … "5" the string
    (["mixed>4"], ["A", "D"]),                    # a number compares with the numbers only
    (["level=true"], ["C"]),                      # enum of mixed types
    (["level=two"], ["B"]),
    (["level=null"], ["D"]),
    (["title=小工具一号"], ["B"]),
])
def test_where_on_nested_and_mixed_type_fields(odd, wheres, expected):
    assert _codes(odd, *wheres) == expected


def test_where_on_a_nested_number_refuses_text_with_its_pointer(odd):
    r = odd("records", "list", "gadget", "--where", "spec.size>abc", "--json", ok=False)
    assert r.exit_code == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "/where/spec.size/gt" in r.stderr and "'abc' is not a number" in r.stderr


def test_json_outputs_of_odd_data_are_one_document_each(odd, tmp_path):
    a, b = odd.ids["A"], odd.ids["B"]
    f = tmp_path / "rel.json"
    f.write_text(json.dumps({"name": "gadget_link", "label": {"en": "links", "zh": "链接"}, "source": "gadget",
                             "target": "gadget", "cardinality": "many-to-many"}, ensure_ascii=False), encoding="utf-8")
    odd("reltypes", "add", f)
    odd("relate", "gadget_link", a, b, "--data", '{"權重": 1.5}')
    for args in (("plugins", "list"), ("types", "list"), ("types", "show", "gadget"), ("reltypes", "list"),
                 ("records", "list", "gadget"), ("records", "get", a), ("related", a), ("history", a),
                 ("kpi", "list"), ("roles", "list"), ("units", "list"), ("users", "list")):
        r = odd(*args, "--json")
        assert r.stderr == "", args
        json.loads(r.stdout)  # exactly one document: trailing text would fail here
    shown = json.loads(odd("types", "show", "gadget", "--json").stdout)
    assert shown["label"] == GADGET["label"] and shown["unique"] == [["code", "region"]]
    rec = json.loads(odd("records", "get", a, "--json").stdout)
    assert {"id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"} <= set(rec)
    assert rec["data"] == ROWS[0]
    [link] = json.loads(odd("related", a, "--rel", "gadget_link", "--json").stdout)
    assert link["record"]["id"] == b and link["record"]["data"]["title"] == "小工具一号"
    listed = json.loads(odd("records", "list", "gadget", "--limit", "2", "--json").stdout)
    assert [r["data"]["code"] for r in listed] == ["A", "B"]


def test_text_tables_keep_one_line_per_row_and_cut_by_columns(odd):
    long_cjk = "字" * 60
    odd("records", "update", odd.ids["D"], "--data", json.dumps({"title": long_cjk}))
    lines = odd("records", "list", "gadget").stdout.splitlines()
    assert len(lines) == 1 + len(ROWS)  # a title with a line break does not start a row
    assert any("line one\\nline two" in line for line in lines)
    # every row's UNIT column starts where its header does, whatever the title's script
    unit_at = _width(lines[0][:lines[0].index("UNIT")])
    assert all(_width(line[:line.rindex("root")]) == unit_at for line in lines[1:])
    cjk_row = next(line for line in lines if "字" in line)
    title = cjk_row.split("  ")[1]
    assert title.endswith("…") and _width(title) <= 40


def test_history_text_cuts_long_values_and_keeps_entries_on_their_line(odd):
    a = odd.ids["A"]
    odd("records", "update", a, "--data", json.dumps({"title": "x" * 3000, "spec": {"size": 4}}))
    out = odd("history", a).stdout
    changes = [line.strip() for line in out.splitlines() if line.startswith(" ")]
    assert sorted(c.split(":")[0] for c in changes) == ["/spec/size", "/title"]
    assert "/spec/size: 3 → 4" in changes
    title_change = next(c for c in changes if c.startswith("/title"))
    assert len(title_change) < 200 and "…" in title_change and "مرحبا" in title_change
    # the whole value is still there for whoever asks for it
    full = json.loads(odd("history", a, "--json").stdout)[-1]["payload"]["changes"]
    assert {"pointer": "/title", "old": ROWS[0]["title"], "new": "x" * 3000, "op": "replace"} in full


def test_records_get_indents_the_later_lines_of_a_multiline_value(odd):
    out = odd("records", "get", odd.ids["C"]).stdout.splitlines()
    i = out.index("  title: line one")
    # (the next field follows, at its own indent; PostgreSQL keeps keys in its own order)
    assert out[i + 1] == "    line two" and out[i + 2].startswith("  ") and out[i + 2][2] != " "


def test_types_show_names_every_type_of_a_field_of_several(odd):
    rows = {line.split()[0]: line.split()[1:] for line in odd("types", "show", "gadget").stdout.splitlines()[4:]}
    assert rows["mixed"] == ["integer|string"]
    assert rows["level"][:2] == ["boolean|integer|string|null", "enum"]  # the enum holds null too
    assert rows["mail"][:2] == ["string", "email"]


def test_kpi_groups_of_a_field_of_several_types_are_told_apart(odd, tmp_path):
    f = tmp_path / "k.json"
    f.write_text(json.dumps({"name": "gadget_size", "label": {"en": "Size", "zh": "尺寸"}, "entity": "gadget",
                             "measure": {"sum": "spec.size"}}), encoding="utf-8")
    odd("kpi", "add", f)
    res = json.loads(odd("kpi", "compute", "gadget_size", "--by", "mixed", "--json").stdout)
    assert {(g["key"], g["value"]) for g in res["groups"]} >= {(5, 3), ("5", 10), ("abc", 2.5)}
    rows = [line.split() for line in odd("kpi", "compute", "gadget_size", "--by", "mixed").stdout.splitlines()[2:]]
    assert ["5", "3", "1"] in rows and ['"5"', "10", "1"] in rows and ["abc", "2.5", "1"] in rows
    rows = [line.split() for line in odd("kpi", "compute", "gadget_size", "--by", "level").stdout.splitlines()[2:]]
    assert ["true", "2.5", "1"] in rows and ["two", "10", "1"] in rows  # JSON's true, not Python's True
    # a group key of one type (all strings) stays unquoted, even when it reads as a number
    odd("records", "update", odd.ids["D"], "--data", '{"region": "7", "spec": {"size": 1}}')
    rows = [line.split() for line in odd("kpi", "compute", "gadget_size", "--by", "region").stdout.splitlines()[2:]]
    assert ["7", "1", "1"] in rows


def test_an_empty_definition_file_says_so(odd, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n", encoding="utf-8")
    for args in (("types", "add", empty), ("reltypes", "add", empty), ("kpi", "add", empty),
                 ("records", "create", "gadget", "--data", f"@{empty}")):
        r = odd(*args, ok=False)
        assert r.exit_code == 2 and r.stdout == "", args
        assert r.stderr == f"error: {empty}: the file is empty (expected a JSON document)\n", args


def test_a_type_without_properties_lists_its_data(odd, tmp_path):
    f = tmp_path / "free.json"
    f.write_text(json.dumps({"name": "free", "schema": {"$schema": SCHEMA, "type": "object"}}), encoding="utf-8")
    odd("types", "add", f)
    rid = odd("records", "create", "free", "--data", '{"k": "v", "n": [1, 2]}').stdout.strip()
    header, row = odd("records", "list", "free").stdout.splitlines()
    assert header.split() == ["ID", "DATA", "UNIT"]
    assert row.split()[0] == rid and '"k":"v"' in row and '"n":[1,2]' in row


def test_table_cells_and_labels_stay_on_one_line(capsys, odd):
    from xrm_core.cli.context import table
    table([["a\nb", "x"], ["tab\there\r", "y"]], ["NAME", "COL"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["NAME" + " " * 9 + "COL", "a\\nb" + " " * 9 + "x", "tab\\there\\r  y"]
    odd("roles", "create", "two_lines", "--label", "first\nsecond")
    assert "two_lines  (first\\nsecond; from admin)" in odd("roles", "list").stdout.splitlines()
