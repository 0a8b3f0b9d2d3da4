"""CSV export of the top-level names ``patternProperties`` allow (xrm_core.exporter): a
column for each name the exported records hold, found by SQL within the export's scope and
filter, typed by every pattern matching it, so that export then import gives the same data."""
from __future__ import annotations

import csv
import io
import json

import pytest

from xrm_core import accounts, exporter, hookimpl, importer
from xrm_core.errors import ValidationError
from xrm_core.schema_types import has_pattern_properties

BAG = {
    "name": "bag",
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
        "patternProperties": {
            "^x_": {"type": "integer"},
            "^\\p{L}+_t$": {"type": "string"},
            # two patterns match "s_s": any type, and string — a string it is
            "^s": {},
            "_s$": {"type": "string"},
            # names no CSV header gives back: allowed, but no column
            "^dot": {"type": "string"},
        },
        "additionalProperties": False,
    },
}
#: The same patterns reached through allOf and $ref, closed by unevaluatedProperties.
BOX = {
    "name": "box",
    "schema": {
        "type": "object",
        "$defs": {"tally": {"patternProperties": {"^c_\\p{L}+$": {"type": ["integer", "null"]}}}},
        "allOf": [{"properties": {"name": {"type": "string"}}}, {"$ref": "#/$defs/tally"}],
        "unevaluatedProperties": False,
    },
}
PLAIN = {"name": "plain", "schema": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}}


class Plugin:
    __name__ = "bags"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [BAG, {**BAG, "name": "bag_copy"}, BOX, {**BOX, "name": "box_copy"}, PLAIN, {**PLAIN, "name": "plain_copy"}]


@pytest.fixture
def plat(make_platform):
    return make_platform(Plugin())


def export_csv(plat, type_name, user="admin", where=None) -> tuple[str, list[str]]:
    out, warnings = io.StringIO(), []
    with plat.session(user, write=False) as s:
        exporter.export(s, type_name, out, "csv", where, warn=warnings.append)
    return out.getvalue(), warnings


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def round_trip(plat, tmp_path, name, copy_name) -> list[dict]:
    text, warnings = export_csv(plat, name)
    assert warnings == []
    path = tmp_path / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    with plat.session() as s:
        report = importer.import_file(s, copy_name, str(path))
    assert report["invalid"] == [], report
    with plat.session(write=False) as s:
        return [r.data for r in s.list(copy_name, limit=1000)]


def data_of(plat, name) -> list[dict]:
    with plat.session(write=False) as s:
        return [r.data for r in s.list(name, limit=1000)]


def canon(rows: list[dict]) -> list[str]:
    """The rows comparable whatever their order and their keys' (JSONB reorders keys)."""
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


ROWS = [
    {"name": "a", "n": 1, "x_b": 2, "گل_t": "005", "s_s": "true"},
    {"name": "b", "x_a": -3, "城市_t": "3", "ab_t": "null"},
    {"x_b": 0, "s_x": [1, "a"], "sé": {"k": None}},
    {"name": "=1+2", "ab_t": "=SUM(A1)"},
]


def test_pattern_keys_get_columns_and_round_trip(plat, tmp_path):
    with plat.session() as s:
        s.create_many("bag", ROWS)
    text, warnings = export_csv(plat, "bag")
    assert warnings == []
    rows = rows_of(text)
    # declared first, in declaration order; then the found names sorted by code point
    assert rows[0] == ["name", "n", "ab_t", "s_s", "s_x", "sé", "x_a", "x_b", "گل_t", "城市_t"]
    by_name = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    # typed by its patterns: "s_s" is a string (both patterns meet), so "true" is written as is;
    # "ab_t" is a string too, so its "null" needs no quoting either
    assert by_name["a"]["s_s"] == "true" and by_name["b"]["ab_t"] == "null"
    assert by_name["a"]["x_b"] == "2" and by_name["a"]["گل_t"] == "005"
    assert by_name['"=1+2"']["ab_t"] == '"=SUM(A1)"'  # a formula is still neutralised
    assert by_name[""]["sé"] == '{"k":null}' and by_name[""]["s_x"] == '[1,"a"]'
    assert canon(round_trip(plat, tmp_path, "bag", "bag_copy")) == canon(data_of(plat, "bag")) == canon(ROWS)


def test_patterns_behind_all_of_and_ref(plat, tmp_path):
    rows = [{"name": "p", "c_ab": 1, "c_گل": None}, {"c_ab": 2}, {"name": "q"}]
    with plat.session() as s:
        s.create_many("box", rows)
    text, _ = export_csv(plat, "box")
    assert rows_of(text)[0] == ["name", "c_ab", "c_گل"]
    assert canon(round_trip(plat, tmp_path, "box", "box_copy")) == canon(rows)


def test_a_name_only_an_out_of_scope_record_holds_is_no_column(plat):
    with plat.connection() as conn:
        accounts.create_unit(conn, "desk")
        accounts.create_unit(conn, "vault")
        accounts.create_role(conn, "reader")
        accounts.grant(conn, "reader", "bag", ["read"], "unit", {"bag"})
        accounts.create_user(conn, "ann", "desk", ["reader"])
    with plat.session() as s:
        s.create("bag", {"name": "seen", "x_shared": 1}, unit="desk")
        s.create("bag", {"name": "hidden", "x_shared": 2, "x_secret": 3}, unit="vault")
    text, _ = export_csv(plat, "bag", user="ann")
    assert rows_of(text) == [["name", "n", "x_shared"], ["seen", "", "1"]]
    assert "secret" not in text
    # the export's filter bounds the names too
    text, _ = export_csv(plat, "bag", where={"name": "seen"})
    assert rows_of(text)[0] == ["name", "n", "x_shared"]
    text, _ = export_csv(plat, "bag")
    assert rows_of(text)[0] == ["name", "n", "x_secret", "x_shared"]


def test_an_empty_export_has_the_declared_columns_only(plat):
    assert export_csv(plat, "bag") == ("name,n\n", [])
    with plat.session() as s:
        s.create("bag", {"name": "a", "x_1": 1})
    assert export_csv(plat, "bag", where={"name": "b"}) == ("name,n\n", [])


def test_names_a_header_cannot_give_back_are_warned_about(plat, tmp_path):
    with plat.session() as s:
        s.create_many("bag", [{"name": "a", "dot.x": "1", "x_1": 5}, {"dot ": "2"}])
    text, warnings = export_csv(plat, "bag")
    assert rows_of(text) == [["name", "n", "x_1"], ["a", "", "5"], ["", "", ""]]
    assert warnings == [
        "CSV has no column for attributes whose names a CSV header cannot give back (with a dot, quote, comma, "
        "bracket, = < > ! or spaces around), so they were left out: 'dot ' (1), 'dot.x' (1); "
        "use --format jsonl to keep them",
        "1 records have no attribute in any CSV column: their rows are blank and import skips blank rows; "
        "use --format jsonl to keep them"]


def test_too_many_pattern_names_are_refused_before_anything_is_written(plat, monkeypatch):
    monkeypatch.setattr(exporter, "MAX_PATTERN_COLUMNS", 3)
    with plat.session() as s:
        s.create_many("bag", [{f"x_{i}": i} for i in range(3)])
    assert rows_of(export_csv(plat, "bag")[0])[0] == ["name", "n", "x_0", "x_1", "x_2"]
    with plat.session() as s:
        s.create("bag", {"x_3": 3})
    out = io.StringIO()
    with plat.session(write=False) as s, pytest.raises(ValidationError) as e:
        exporter.export(s, "bag", out, "csv")
    assert "more than 3 attribute names" in str(e.value) and "--format jsonl" in str(e.value)
    assert out.getvalue() == ""


def test_a_type_without_patterns_exports_as_before(plat):
    assert has_pattern_properties(BAG["schema"], BAG["schema"])
    assert has_pattern_properties(BOX["schema"], BOX["schema"])  # behind allOf and $ref
    assert not has_pattern_properties(PLAIN["schema"], PLAIN["schema"])
    with plat.session() as s:
        s.create_many("plain", [{"a": "x", "b": 1}, {"a": "y", "c": 2}])
    text, warnings = export_csv(plat, "plain")
    assert text == "a,b\nx,1\ny,\n"
    assert warnings == ["CSV has no column for attributes the schema does not declare, so they were left out: c (1); "
                        "use --format jsonl to keep them"]
