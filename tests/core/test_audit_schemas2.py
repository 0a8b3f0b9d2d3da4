"""More entity-type schemas an admin may bring: references the validator resolves by base
URI, anchor or dynamic scope; a property named "null"; integers beyond 64 bits in unique
keys (xrm_core.entity_types, xrm_core.fields). Database tests run on every engine."""
from __future__ import annotations


import pytest

from xrm_core import ValidationError, entity_types
from xrm_core.entity_types import EntityType
from xrm_core.errors import Conflict, DefinitionError
from xrm_core.fields import field_sql


def _type(schema: dict, **keys) -> EntityType:
    return EntityType({"name": "probe", "schema": {"type": "object", **schema}, **keys})


@pytest.fixture
def platform(make_platform):
    return make_platform()


def _add(platform, definition: dict) -> None:
    with platform.connection() as conn:
        entity_types.add(conn, definition)


# -- references: resolved as the validator resolves them ------------------------------------
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
REFS = {
    "$anchor": {"$defs": {"a": {"$anchor": "addr", **CITY}}, "properties": {"a": {"$ref": "#addr"}}},
    "$id-relative": {"$defs": {"a": {"$id": "addr.json", **CITY}}, "properties": {"a": {"$ref": "addr.json"}}},
    "percent-encoded pointer": {"$defs": {"my addr": CITY}, "properties": {"a": {"$ref": "#/$defs/my%20addr"}}},
    # "#/$defs/city" inside a subschema with its own $id points into that subschema
    "pointer inside an embedded resource": {
        "$defs": {"city": {"type": "integer"},
                  "a": {"$id": "https://example.org/a", "type": "object", "$defs": {"city": {"type": "string"}},
                        "properties": {"city": {"$ref": "#/$defs/city"}}}},
        "properties": {"a": {"$ref": "#/$defs/a"}}},
    "urn $id": {"$id": "urn:example:root", "$defs": {"c": {"type": "string"}},
                "properties": {"a": {"type": "object", "properties": {"city": {"$ref": "#/$defs/c"}}}}},
    "$dynamicRef without a dynamic scope": {
        "$defs": {"a": {"$dynamicAnchor": "addr", **CITY}}, "properties": {"a": {"$dynamicRef": "#addr"}}},
    "true schema beside a type": {"$defs": {"any": True},
                                  "properties": {"a": {"type": "object", "properties": {
                                      "city": {"$ref": "#/$defs/any", "type": "string"}}}}},
}


@pytest.mark.parametrize("schema", REFS.values(), ids=REFS.keys())
def test_a_field_reached_through_any_reference_has_its_type(schema):
    """Before: "a.city" was "not a property of the schema" (anchor, $id, %20), its unique key
    was refused as "several JSON types", the embedded resource's field typed integer — the
    root's "#/$defs/city" — and a ``true`` target crashed with AttributeError."""
    et = _type(schema, indexes=["a.city"], unique=["a.city"])
    et.check_keys()
    assert et.field_type("a.city") == "string"
    assert et.is_valid({"a": {"city": "Rasht"}}) and not et.is_valid({"a": {"city": 1}})


def test_a_dynamic_ref_takes_every_target_it_may_have():
    """Which ``$dynamicAnchor`` a ``$dynamicRef`` lands on depends on the path that reached
    it: the same field holds strings under "a" and integers under "b", so it has no type."""
    schema = {"$defs": {
        "list": {"$id": "https://example.org/list", "type": "object",
                 "properties": {"item": {"$dynamicRef": "#val"}},
                 "$defs": {"d": {"$dynamicAnchor": "val", "type": "string"}}},
        "intlist": {"$id": "https://example.org/intlist", "$ref": "list",
                    "$defs": {"d": {"$dynamicAnchor": "val", "type": "integer"}}}},
        "properties": {"a": {"$ref": "https://example.org/list"}, "b": {"$ref": "https://example.org/intlist"}}}
    et = _type(schema, indexes=["a.item", "b.item"])
    assert et.is_valid({"a": {"item": "x"}, "b": {"item": 1}}) and not et.is_valid({"b": {"item": "x"}})
    assert et.field_type("a.item") is None and et.field_type("b.item") is None
    with pytest.raises(DefinitionError, match="several JSON types"):
        _type(schema, unique=["b.item"]).check_keys()


def test_a_field_of_an_embedded_resource_is_stored_and_found_on_every_engine(platform):
    """Before: PostgreSQL refused a valid record with a raw DataError (its index cast the
    string to numeric) and both engines refused the string filter as "not a number"."""
    schema = {"type": "object", **REFS["pointer inside an embedded resource"]}
    _add(platform, {"name": "scoped", "indexes": ["a.city"], "schema": schema})
    with platform.session() as s:
        s.create("scoped", {"a": {"city": "Rasht"}})
        s.create("scoped", {"a": {"city": "Yazd"}})
        with pytest.raises(ValidationError) as e:
            s.create("scoped", {"a": {"city": 3}})
        assert [err["pointer"] for err in e.value.errors] == ["/data/a/city"]
    with platform.session() as s:
        assert [r.data for r in s.list("scoped", {"a.city": "Rasht"})] == [{"a": {"city": "Rasht"}}]
        assert [r.data["a"]["city"] for r in s.list("scoped", sort=["-a.city"])] == ["Yazd", "Rasht"]


# -- a property named "null" ----------------------------------------------------------------
def test_a_property_named_null_is_a_field_on_every_engine(platform):
    """In a PostgreSQL path literal ('{null}') an unquoted null is SQL NULL: the field read
    nothing, so its unique key held no value (duplicates were stored), filters found nothing
    and sorting by it did not sort."""
    d = {"name": "nulls", "title_field": "null", "unique": ["null"], "indexes": ["o.NULL"],
         "schema": {"type": "object", "properties": {
             "null": {"type": "string"},
             "o": {"type": "object", "properties": {"NULL": {"type": "integer"}}}}}}
    _add(platform, d)
    with platform.session() as s:
        s.create("nulls", {"null": "a", "o": {"NULL": 1}})
        s.create("nulls", {"null": "b", "o": {"NULL": 5}})
        with pytest.raises(Conflict) as e:
            s.create("nulls", {"null": "a", "o": {"NULL": 9}})
        assert [err["pointer"] for err in e.value.errors] == ["/data/null"]
    with platform.session() as s:
        assert [r.data["null"] for r in s.list("nulls", {"null": "b"})] == ["b"]
        assert [r.data["null"] for r in s.list("nulls", {"o.NULL": {"gt": 2}})] == ["b"]
        assert [r.data["null"] for r in s.list("nulls", sort=["-o.NULL"])] == ["b", "a"]
        assert [r.data["null"] for r in s.list("nulls", search="a")] == ["a"]
        assert s.count("nulls") == 2
        s.create("nulls", {"null": "c", "o": {"NULL": 5}})
    # a new unique key is checked against the stored values (PostgreSQL saw none before)
    with pytest.raises(Conflict, match="stored records share values") as e, platform.connection() as conn:
        entity_types.update(conn, {**d, "unique": ["null", "o.NULL"]}, dry_run=True)
    assert [err["pointer"] for err in e.value.errors] == ["/unique/1"] and "o.NULL=5" in e.value.errors[0]["message"]


def test_an_untyped_field_named_null_filters_and_groups_on_every_engine(platform):
    """Fields of no single type are read with their own path literals (filters compare by
    JSON type, KPI groups by JSON value): those quote "null" too."""
    from xrm_core import kpis
    _add(platform, {"name": "loose", "schema": {"type": "object", "properties": {"null": {}}}})
    with platform.connection() as conn:
        kpis.add(platform, conn, {"name": "loose_count", "entity": "loose", "measure": {"count": True}})
    with platform.session() as s:
        for v in (5, 5, "5", True):
            s.create("loose", {"null": v})
        assert [r.data["null"] for r in s.list("loose", {"null": 5})] == [5, 5]
        assert [r.data["null"] for r in s.list("loose", {"null": "5"})] == ["5"]
        groups = kpis.compute(s, "loose_count", by="null")["groups"]
    assert sorted((repr(g["key"]), g["n"]) for g in groups) == [("'5'", 1), ("5", 2), ("True", 1)]


def test_only_null_path_elements_are_quoted():
    """Other elements stay as they were: the text of an existing index (its name hashes it)
    does not change."""
    assert field_sql("postgresql", "a.null.Null.nullable") == \
        """(data #>> '{a,"null","Null",nullable}')"""
    assert field_sql("sqlite", "a.null") == "json_extract(data, '$.a.null')"


# -- integers beyond 64 bits in a unique key --------------------------------------------------
BIG = {"name": "big", "unique": ["u"], "indexes": ["i"],
       "schema": {"type": "object", "properties": {"u": {"type": "integer"}, "i": {"type": "integer"}}}}


def test_a_unique_integer_beyond_signed_64_bits_is_refused_on_every_engine(platform):
    """SQLite reads an integer beyond 2**63 - 1 as an approximate REAL, so 2**63 and
    2**63 + 1 clashed there (and naming the clash crashed with OverflowError) while
    PostgreSQL stored both. No record holds one now, in any field: a filter could not find
    it and SQLite summed it clamped."""
    _add(platform, BIG)
    with platform.session() as s:
        s.create("big", {"u": 2**63 - 1, "i": 2**63 - 1})
        s.create("big", {"u": -2**63, "i": -2**63})
        for field in ("u", "i"):
            for v in (2**63, 2**63 + 1, 2**64 - 1, -2**63 - 1):
                with pytest.raises(ValidationError) as e:
                    s.create("big", {field: v})
                assert [err["pointer"] for err in e.value.errors] == [f"/data/{field}"]
                assert "signed 64-bit range" in e.value.errors[0]["message"]
    with platform.session() as s:
        assert s.count("big") == 2
        assert [r.data["i"] for r in s.list("big", {"i": 2**63 - 1})] == [2**63 - 1]


# -- property names in other scripts --------------------------------------------------------
def test_fields_named_in_persian_or_chinese_index_filter_sort_and_group(platform, cli):
    """Organisations name their fields in their own language: a Persian or Chinese property
    name (with the zero-width non-joiner Persian words use) is a field like any other."""
    from xrm_core import kpis
    from xrm_core.filters import parse_where
    city = "شهر"
    nested = "地址.城市"
    zwnj = "می\u200cخواهد"
    d = {"name": "contact", "title_field": "نام", "indexes": [city, nested], "unique": [["کد", city]],
         "schema": {"type": "object", "required": ["نام"], "properties": {
             "نام": {"type": "string"}, city: {"type": "string"}, "کد": {"type": "integer"},
             zwnj: {"type": "boolean"},
             "地址": {"type": "object", "properties": {"城市": {"type": "string"}}}}}}
    _add(platform, d)
    with platform.connection() as conn:
        kpis.add(platform, conn, {"name": "by_city", "entity": "contact", "measure": {"count": True}})
    with platform.session() as s:
        s.create("contact", {"نام": "علی", city: "تهران", "کد": 1, zwnj: True, "地址": {"城市": "北京"}})
        s.create("contact", {"نام": "مریم", city: "شیراز", "کد": 2, zwnj: False, "地址": {"城市": "上海"}})
        s.create("contact", {"نام": "رضا", city: "تهران", "کد": 3})
        with pytest.raises(Conflict):
            s.create("contact", {"نام": "دو", city: "تهران", "کد": 1})
        assert [r.data["نام"] for r in s.list("contact", {city: "تهران"}, sort=["-کد"])] == ["رضا", "علی"]
        assert [r.data["نام"] for r in s.list("contact", parse_where([f"{nested}=上海"]))] == ["مریم"]
        assert [r.data["نام"] for r in s.list("contact", {zwnj: True})] == ["علی"]
        groups = kpis.compute(s, "by_city", by=city)["groups"]
    assert sorted((g["key"], g["n"]) for g in groups) == [("تهران", 2), ("شیراز", 1)]
    with platform.engine.connect() as conn:
        from xrm_core import entity_types
        assert len(entity_types.stored_indexes(conn, "contact")) >= 3  # two indexes and the unique key
    result = cli("records", "list", "contact", "--where", f"{city}=شیراز", "--json")
    assert result.exit_code == 0, result.stderr
    import json
    assert [r["data"]["نام"] for r in json.loads(result.stdout)] == ["مریم"]
