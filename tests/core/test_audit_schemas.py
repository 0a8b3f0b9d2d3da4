"""Entity-type schemas an admin may bring: field types through every 2020-12 construct,
odd property names, recursive schemas, and the impact check of newly indexed fields
(xrm_core.entity_types, ``xrm types``). Database tests run on every engine."""
from __future__ import annotations

import copy
import json
import random
import string
import time

import pytest
from sqlalchemy import select

from xrm_core import ValidationError, db, entity_types
from xrm_core.entity_types import EntityType
from xrm_core.errors import DefinitionError


def _type(schema: dict, **keys) -> EntityType:
    return EntityType({"name": "probe", "schema": {"type": "object", **schema}, **keys})


# -- field types ------------------------------------------------------------------------
BRANCHES = {
    "anyOf": {"anyOf": [{"properties": {"v": {"type": "integer"}}, "required": ["v"]},
                        {"properties": {"v": {"type": "string"}}}]},
    "oneOf": {"oneOf": [{"properties": {"v": {"type": "integer"}}, "required": ["v"]},
                        {"properties": {"v": {"type": "string"}}, "required": ["v"]}]},
    "if/then/else": {"properties": {"kind": {"type": "string"}},
                     "if": {"properties": {"kind": {"const": "n"}}, "required": ["kind"]},
                     "then": {"properties": {"v": {"type": "integer"}}},
                     "else": {"properties": {"v": {"type": "string"}}}},
    "then without else": {"properties": {"kind": {"type": "string"}},
                          "if": {"properties": {"kind": {"const": "n"}}, "required": ["kind"]},
                          "then": {"properties": {"v": {"type": "integer"}}}},
}


@pytest.mark.parametrize("schema", BRANCHES.values(), ids=BRANCHES.keys())
def test_a_field_typed_only_in_some_branches_has_no_single_type(schema):
    """Data valid under another branch holds any type there: casting it to a number in SQL
    (PostgreSQL) would fail on a valid record."""
    et = _type(schema, indexes=["v"])
    assert et.has_field("v") and et.field_type("v") is None
    with pytest.raises(DefinitionError, match="several JSON types"):
        _type(schema, unique=["v"]).check_keys()


@pytest.mark.parametrize("schema, expected", [
    ({"anyOf": [{"properties": {"v": {"type": "integer"}}}, {"properties": {"v": {"type": "number"}}}]}, "number"),
    ({"if": {"required": ["k"]}, "then": {"properties": {"v": {"type": "integer"}}},
      "else": {"properties": {"v": {"enum": [1, 2]}}}}, "integer"),
    ({"properties": {"v": {"type": "number"}}, "allOf": [{"properties": {"v": {"type": "integer"}}}]}, "integer"),
    ({"properties": {"v": {"type": ["string", "integer"]}},
      "anyOf": [{"properties": {"v": {"type": "string"}}}, {"required": ["v"], "properties": {"v": {"const": "x"}}}]},
     "string"),
    ({"properties": {"v": {"type": "string"}}, "anyOf": [{"required": ["v"]}, {"required": ["w"]}]}, "string"),
    ({"properties": {"v": {"$ref": "#/$defs/s", "maxLength": 3}}, "$defs": {"s": {"type": "string"}}}, "string"),
    ({"properties": {"v": {"$ref": "#/$defs/any", "type": "boolean"}}, "$defs": {"any": {"minimum": 1}}}, "boolean"),
])
def test_field_types_agreed_by_every_branch(schema, expected):
    assert _type(schema, indexes=["v"]).field_type("v") == expected


@pytest.fixture
def platform(make_platform):
    return make_platform()


def test_a_field_of_several_types_across_branches_indexes_and_filters_on_every_engine(platform):
    """Before: PostgreSQL refused the string record with a database error (the index cast
    the field to numeric), SQLite refused the string filter as "not a number"."""
    with platform.connection() as conn:
        entity_types.add(conn, {"name": "cond", "indexes": ["v"], "schema": {"type": "object",
                                                                            **BRANCHES["if/then/else"]}})
    with platform.session() as s:
        s.create("cond", {"kind": "n", "v": 3})
        s.create("cond", {"kind": "s", "v": "abc"})
        with pytest.raises(ValidationError):
            s.create("cond", {"kind": "n", "v": "abc"})
    with platform.session() as s:
        assert [r.data["kind"] for r in s.list("cond", {"v": "abc"})] == ["s"]


def test_a_deep_field_path_keeps_its_type():
    """The depth limit guards $ref chains, not a long dotted path into nested objects."""
    node: dict = {"type": "integer"}
    for _ in range(30):
        node = {"type": "object", "properties": {"a": node}}
    path = ".".join(["a"] * 30)
    assert _type({"properties": node["properties"]}, unique=[path]).field_type(path) == "integer"


# -- $ref beside other keywords -----------------------------------------------------------
def test_properties_beside_a_ref_are_fields():
    """In 2020-12 ``$ref`` is one keyword among others: properties next to it count."""
    et = _type({"$ref": "#/$defs/base", "properties": {"extra": {"type": "integer"}},
                "$defs": {"base": {"properties": {"base_f": {"type": "string"},
                                                  "money": {"$ref": "common.json#/$defs/money"}}}}},
               title_field="extra", indexes=["extra", "base_f", "money.currency"])
    assert list(et.properties()) == ["extra", "base_f", "money"]
    assert [et.field_type(f) for f in ("extra", "base_f", "money.amount", "money.currency")] == \
        ["integer", "string", "number", "string"]


# -- recursive schemas ---------------------------------------------------------------------
def test_a_recursive_schema_is_walked_once_per_subschema():
    """A ``$defs`` entry whose ``anyOf`` names itself twice took seconds (exponential in the
    depth limit) to report an unknown field; it is refused at once."""
    schema = {"$ref": "#/$defs/n", "$defs": {"n": {"anyOf": [
        {"$ref": "#/$defs/n"}, {"$ref": "#/$defs/n"}, {"properties": {"a": {"type": "string"}}}]}}}
    started = time.perf_counter()
    with pytest.raises(DefinitionError, match="does not have"):
        _type(schema, indexes=["zz"])
    et = _type(schema, indexes=["a"])
    assert et.field_type("a") == "string" and list(et.properties()) == ["a"]
    assert time.perf_counter() - started < 1.0


# -- property names that are not field paths -----------------------------------------------
ODD = {"نام": {"type": "string"}, "名字": {"type": "string"}, "with space": {"type": "integer"},
       "a.b": {"type": "boolean"}, "a/b": {"type": "number"}, "t~x": {"type": "string"},
       'q"uote': {"type": "integer"}, "ok": {"type": "string"}}


def test_property_names_that_are_not_field_paths_are_looked_up_as_written():
    et = _type({"properties": ODD})
    assert {n: et.property_type(n) for n in ODD} == {n: s["type"] for n, s in ODD.items()}
    assert et.field_type("نام") == "string" and et.field_type("with space") == "integer"
    assert et.field_type("a.b") is None  # a dotted path: property "a", then "b"
    assert et.property_type("missing") is None and et.property_schema("x y") is None


def test_types_show_lists_every_property_name(cli, platform):
    """Before: ``types show`` printed half its output, then failed on the first property
    whose name is not a dotted identifier path (Persian, with a space…)."""
    d = {"name": "odd", "title_field": "ok", "schema": {"type": "object", "properties": ODD}}
    with platform.connection() as conn:
        entity_types.add(conn, d)
    result = cli("types", "show", "odd")
    assert result.exit_code == 0, result.stderr
    rows = {line.split("  ")[0].strip(): line.split()[-1] for line in result.stdout.splitlines()[2:]}
    assert rows == {n: s["type"] for n, s in ODD.items()} | {"FIELD": "REQUIRED"}
    assert json.loads(cli("types", "show", "odd", "--json").stdout)["schema"]["properties"] == ODD


# -- impact check: text too long to index ---------------------------------------------------
def _snapshot(platform, name):
    with platform.connection() as conn:
        row = conn.execute(select(db.entity_types.c.version, db.entity_types.c.definition)
                           .where(db.entity_types.c.name == name)).one()
        return tuple(row), entity_types.stored_indexes(conn, name)


@pytest.mark.parametrize("key", ["indexes", "unique"])
def test_indexing_a_field_that_holds_overlong_text_is_refused_by_the_impact_check(platform, key):
    """Before: SQLite applied it (leaving a record no write could store now) while
    PostgreSQL failed with a raw database error ("index row size … exceeds") after
    ``--dry-run`` had said the change would be applied."""
    d = {"name": "longtext", "schema": {"type": "object", "properties": {"t": {"type": "string"}}}}
    with platform.connection() as conn:
        entity_types.add(conn, d)
    text = "".join(random.Random(1).choice(string.ascii_letters) for _ in range(6000))
    with platform.session() as s:
        rid = s.create("longtext", {"t": text}).id
        s.create("longtext", {"t": "short"})
    before = _snapshot(platform, "longtext")
    new = copy.deepcopy(d) | {key: ["t"]}
    for dry_run in (True, False):
        with pytest.raises(ValidationError) as e, platform.connection() as conn:
            entity_types.update(conn, new, dry_run=dry_run)
        assert e.value.extra["impact"]["invalid"] == 1 and e.value.extra["impact"]["checked"] == 2
        assert [err["pointer"] for err in e.value.errors] == [f"/records/{rid}/data/t"]
        assert "6,000 bytes of text in an indexed field" in e.value.errors[0]["message"]
        assert _snapshot(platform, "longtext") == before
