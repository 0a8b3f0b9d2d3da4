"""A property required only in some cases — by ``dependentRequired`` (or a
``dependentSchemas`` entry) or by an ``if``/``then``/``else`` — was reported as a plain
"is a required property", leaving the user to guess why it was asked for here. The
message now says what required it."""
from __future__ import annotations

from xrm_core.entity_types import EntityType
from xrm_core.validation import errors_of

SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "kind": {"type": "string"}, "addr": {"type": "object"}},
    "dependentRequired": {"status": ["withdrawn_on"], "card": ["withdrawn_on", "holder"]},
    "dependentSchemas": {"vip": {"required": ["since"]}},
    "if": {"properties": {"status": {"const": "withdrawn"}}, "required": ["status"]},
    "then": {"required": ["reason"]},
    "allOf": [
        {"if": {"properties": {"kind": {"enum": ["a", "b"]}}, "required": ["kind"]},
         "then": {"required": ["x"]}, "else": {"required": ["y"]}},
        {"if": {"minProperties": 4}, "then": {"required": ["many"]}},
        {"$ref": "#/$defs/located"},
    ],
    "$defs": {"located": {"if": {"properties": {"status": {"const": "moved"}}, "required": ["status"]},
                          "then": {"properties": {"addr": {"required": ["city"]}}}}},
}


def errors(data) -> dict:
    et = EntityType({"name": "thing", "schema": SCHEMA}, 1, "test")
    return {e["pointer"]: e["message"] for e in et.errors(data, "/data")}


def test_dependent_required_names_the_properties_that_require_it():
    got = errors({"status": "open", "card": "4111", "kind": "a", "x": 1})
    assert got["/data/withdrawn_on"] == '"withdrawn_on" is required when "status" and "card" are present'
    assert got["/data/holder"] == '"holder" is required when "card" is present'
    assert errors({"vip": True, "kind": "a", "x": 1})["/data/since"] == '"since" is required when "vip" is present'
    # a property required outright keeps the library's words
    et = EntityType({"name": "thing", "schema": {"type": "object", "required": ["name"],
                                                 "properties": {"o": {"type": "object", "required": ["k"]}}}}, 1, "t")
    assert et.errors({"o": {}}, "/data") == [{"pointer": "/data/name", "message": '"name" is a required property'},
                                             {"pointer": "/data/o/k", "message": '"k" is a required property'}]


def test_if_then_names_the_values_its_if_tested():
    got = errors({"status": "withdrawn", "withdrawn_on": "2026-01-01", "kind": "b"})
    assert got["/data/reason"] == '"reason" is required here because "status" is "withdrawn" (the schema\'s if/then)'
    assert got["/data/x"] == '"x" is required here because "kind" is "b" (the schema\'s if/then)'


def test_else_names_what_made_the_if_fail():
    assert errors({"kind": "c"})["/data/y"] == (
        '"y" is required here because "kind" is "c", not one of "a" or "b" (the schema\'s if/then/else)')
    assert errors({})["/data/y"] == '"y" is required here because "kind" is absent (the schema\'s if/then/else)'


def test_a_then_behind_a_ref_and_inside_a_member_is_told_too():
    got = errors({"status": "moved", "withdrawn_on": "x", "kind": "a", "x": 1, "addr": {}})
    assert got["/data/addr/city"] == '"city" is required here because "status" is "moved" (the schema\'s if/then)'


def test_an_if_testing_more_than_values_is_named_generically():
    got = errors({"p": 1, "q": 2, "r": 3, "kind": "a", "x": 1})
    assert got["/data/many"] == '"many" is required here because the schema\'s if/then applies'


def test_without_the_schema_the_rule_is_still_named():
    # located_errors without the schema (as the admin UI calls it): no values, but the rule
    et = EntityType({"name": "thing", "schema": SCHEMA}, 1, "test")
    got = {e["pointer"]: e["message"] for e in errors_of(et.validator, {"status": "withdrawn", "kind": "a", "x": 1})}
    assert got["/withdrawn_on"] == ('"withdrawn_on" is required when another property is present '
                                    "(the schema's dependentRequired)")
    assert got["/reason"] == '"reason" is required here because the schema\'s if/then applies'


def test_the_kind_tells_the_condition_for_wording_it_in_another_language():
    from xrm_core.validation import located_errors
    et = EntityType({"name": "thing", "schema": SCHEMA}, 1, "test")
    kinds = {ptr: kind for ptr, _, kind in located_errors(et.validator, {"kind": "c"}, "", SCHEMA)}
    assert kinds["/y"].name == "required"
    assert kinds["/y"].as_dict() == {"property": "y", "keyword": "else", "facts": [
        {"name": "kind", "value": "c", "allowed": ["a", "b"], "absent": False}]}
