"""Echoes of a real error reported as "unevaluated" are left out at every depth
(xrm_core.unevaluated through EntityType.errors); genuinely unevaluated properties and items
stay reported, at their exact pointers."""
from __future__ import annotations

import json

import pytest

from xrm_core import hookimpl
from xrm_core.entity_types import EntityType
from xrm_core.validation import errors_of

UNEVALUATED = "Unevaluated properties are not allowed ({!r} was unexpected)"

SCHEMA = {
    "type": "object",
    "$defs": {
        "address": {"type": "object",
                    "allOf": [{"properties": {"city": {"type": "string"},
                                              "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}],
                    "unevaluatedProperties": False},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "named": {"properties": {"name": {"type": "string", "minLength": 1}}, "required": ["name"]},
        # three levels: the record -> owner ($ref, allOf part) -> address ($ref, allOf part)
        "person": {"type": "object", "allOf": [{"$ref": "#/$defs/named"}],
                   "properties": {"address": {"$ref": "#/$defs/address"}}, "unevaluatedProperties": False},
    },
    "allOf": [{"properties": {"owner": {"$ref": "#/$defs/person"}, "ref": {"type": "string"}}}],
    "properties": {
        "lines": {"type": "array", "items": {
            "type": "object", "unevaluatedProperties": False,
            "allOf": [{"properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}]}},
        "party": {"type": "object", "properties": {"kind": {"enum": ["company", "person"]}},
                  "if": {"properties": {"kind": {"const": "company"}}},
                  "then": {"properties": {"vat": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"}}},
                  "else": {"properties": {"born": {"type": "string", "format": "date"}}},
                  "unevaluatedProperties": False},
        "pair": {"type": "array", "allOf": [{"prefixItems": [{"type": "string"}, {"type": "integer"}]}],
                 "unevaluatedItems": False},
        "contact": {"type": "object", "properties": {"note": {"type": "string"}},
                    "anyOf": [{"properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]},
                              {"properties": {"phone": {"type": "string"}}, "required": ["phone"]}],
                    "unevaluatedProperties": False},
        # "unevaluated" keywords holding a schema: what nothing else declares must match it
        "extras": {"type": "object", "properties": {"id": {"type": "integer"}},
                   "unevaluatedProperties": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/email"}},
        "codes": {"type": "array", "prefixItems": [{"type": "integer"}],
                  "unevaluatedItems": {"$ref": "#/$defs/code"}},
    },
    "unevaluatedProperties": False,
}


@pytest.fixture(scope="module")
def et():
    return EntityType({"name": "thing", "schema": SCHEMA})


def found(et, data) -> list[tuple[str, str]]:
    return [(e["pointer"], e["message"]) for e in et.errors(data, "/data")]


def test_the_schema_does_echo_without_the_cleanup(et):
    # The premise: the validator reports declared, valid properties at every level.
    raw = {e["pointer"] for e in errors_of(et.validator, {"owner": {"name": "A", "address": {"zip": "1", "city": "X"}}},
                                           "/data")}
    assert {"/data/owner", "/data/owner/address/city", "/data/owner/address/zip"} <= raw


def test_three_levels_through_refs_report_the_one_real_error(et):
    data = {"owner": {"name": "A", "address": {"city": "X", "zip": "1"}}}
    assert found(et, data) == [("/data/owner/address/zip", '"1" does not match "^[0-9]{5}$"')]


def test_a_genuinely_unknown_property_next_to_a_real_error_stays_at_its_depth(et):
    data = {"owner": {"name": "A", "address": {"city": "X", "zip": "1", "planet": "mars"}}, "extra": 1}
    assert found(et, data) == [
        ("/data/extra", UNEVALUATED.format("extra")),
        ("/data/owner/address/planet", UNEVALUATED.format("planet")),
        ("/data/owner/address/zip", '"1" does not match "^[0-9]{5}$"')]


def test_an_error_in_a_ref_to_defs_two_levels_down(et):
    assert found(et, {"owner": {"name": "", "address": {"city": "X"}}}) == [
        ("/data/owner/name", '"" is shorter than 1 character')]
    # top level, for comparison with the earlier cleanup
    assert found(et, {"ref": 1, "owner": {"name": "A"}}) == [("/data/ref", '1 is not of type "string"')]


def test_objects_in_an_array(et):
    data = {"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0, "colour": "red"}, {"sku": 5}]}
    assert found(et, data) == [
        ("/data/lines/1/colour", UNEVALUATED.format("colour")),
        ("/data/lines/1/qty", "0 is less than the minimum of 1"),
        ("/data/lines/2/sku", '5 is not of type "string"')]


def test_then_and_else_branches(et):
    assert found(et, {"party": {"kind": "company", "vat": "bad"}}) == [
        ("/data/party/vat", '"bad" does not match "^[A-Z]{2}[0-9]+$"')]
    # "vat" is declared only in "then", which does not apply to a person: genuinely unevaluated.
    assert found(et, {"party": {"kind": "person", "born": "x", "vat": "DE1"}}) == [
        ("/data/party/born", '"x" is not a valid date (YYYY-MM-DD, e.g. 2026-01-31)'),
        ("/data/party/vat", UNEVALUATED.format("vat"))]


def test_any_of_a_failed_option_echoes_but_a_passing_ones_neighbour_does_not(et):
    assert found(et, {"contact": {"email": "bad"}}) == [
        ("/data/contact/email", '"bad" is not a valid email (e.g. name@example.org)')]
    # The phone option passes, so the email option's annotations are dropped for good: the
    # email is genuinely unevaluated although another error (note) is reported beside it.
    assert found(et, {"contact": {"phone": "1", "email": 5, "note": 1}}) == [
        ("/data/contact/email", UNEVALUATED.format("email")),
        ("/data/contact/note", '1 is not of type "string"')]


def test_unevaluated_items_echoes(et):
    assert found(et, {"pair": ["a", "b"]}) == [("/data/pair/1", '"b" is not of type "integer"')]
    # an item past the prefixItems is genuinely unevaluated: only it is named, at its index
    assert found(et, {"pair": ["a", "b", True]}) == [
        ("/data/pair/1", '"b" is not of type "integer"'),
        ("/data/pair/2", 'true is not allowed: no keyword declares the item at index 2 ("unevaluatedItems": false)')]
    # the same value as an echoed item and as a genuine one: the genuine one is still told
    # (at the array: the library names items by value, and two items hold "b")
    assert found(et, {"pair": ["a", "b", "b"]}) == [
        ("/data/pair", '"b" is not allowed: no keyword declares this item of the array ("unevaluatedItems": false)'),
        ("/data/pair/1", '"b" is not of type "integer"')]


def test_a_lone_unevaluated_error_is_never_dropped(et):
    assert found(et, {"lines": [{"sku": "a", "qty": 1, "x": 1}]}) == [("/data/lines/0/x", UNEVALUATED.format("x"))]
    assert found(et, {"pair": ["a", 1, 2]}) == [
        ("/data/pair/2", '2 is not allowed: no keyword declares the item at index 2 ("unevaluatedItems": false)')]


def test_an_unevaluated_schema_reports_why_the_value_does_not_match_it(et):
    # The library says "Unevaluated properties are not allowed ('b' was unexpected)", though
    # 'b' is allowed: its value is not an e-mail address.
    assert found(et, {"extras": {"id": 1, "a": "x@example.org", "b": "nope"}}) == [
        ("/data/extras/b", '"nope" is not a valid email (e.g. name@example.org)')]
    assert found(et, {"codes": [1, "ABC", "abc", 7]}) == [
        ("/data/codes/2", '"abc" does not match "^[A-Z]{3}$"'), ("/data/codes/3", '7 is not of type "string"')]
    # 7 is both the evaluated item 0 and the unevaluated item 2: which one is not known
    assert found(et, {"codes": [7, "ABC", 7]}) == [("/data/codes", '7 is not of type "string"')]
    # an item the prefix declares is not checked against "unevaluatedItems"
    assert found(et, {"codes": [1, "ABC"], "extras": {"id": 2}}) == []


def test_a_valid_record_has_no_errors(et):
    data = {"owner": {"name": "A", "address": {"city": "X", "zip": "12345"}}, "ref": "r",
            "lines": [{"sku": "a", "qty": 2}], "party": {"kind": "company", "vat": "DE1"},
            "pair": ["a", 1], "contact": {"phone": "1"}}
    assert et.is_valid(data) and found(et, data) == []


def test_a_recursive_ref_is_walked_once():
    tree = {"type": "object", "$defs": {"node": {
        "type": "object", "allOf": [{"properties": {"label": {"type": "string"}, "kids": {
            "type": "array", "items": {"$ref": "#/$defs/node"}}}}], "unevaluatedProperties": False}},
        "$ref": "#/$defs/node"}
    et = EntityType({"name": "tree", "schema": tree})
    data = {"label": "a", "kids": [{"label": "b", "kids": [{"label": 3, "kids": []}]}]}
    assert found(et, data) == [("/data/kids/0/kids/0/label", '3 is not of type "string"')]


# -- through the CLI, on both engines --------------------------------------------------
class Plugin:
    __name__ = "echoes"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "thing", "schema": SCHEMA}]


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(Plugin(),), input=input)
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


def test_records_create_and_import_report_no_nested_echo(xrm, tmp_path):
    bad = {"lines": [{"sku": "b", "qty": 0, "colour": "red"}], "owner": {"name": "A", "address": {"zip": "1"}}}
    result = xrm("records", "create", "thing", "--data", json.dumps(bad))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "/data/lines/0/qty: 0 is less than the minimum of 1" in result.stderr
    assert "/data/lines/0/colour: Unevaluated properties are not allowed ('colour' was unexpected)" in result.stderr
    assert '/data/owner/address/zip: "1" does not match' in result.stderr
    assert "'sku'" not in result.stderr and "'zip'" not in result.stderr and "'owner'" not in result.stderr
    path = tmp_path / "things.jsonl"
    path.write_text(json.dumps({"lines": [{"sku": "a", "qty": 1}]}) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    result = xrm("import", "thing", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["invalid"] == [{"line": 2, "errors": [
        {"pointer": "/lines/0/colour", "message": UNEVALUATED.format("colour")},
        {"pointer": "/lines/0/qty", "message": "0 is less than the minimum of 1"},
        {"pointer": "/owner/address/zip", "message": '"1" does not match "^[0-9]{5}$"'}]}]
    assert json.loads(xrm("records", "list", "thing", "--json").stdout) == []


def test_records_create_places_unevaluated_values_and_says_why(xrm):
    data = {"extras": {"b": 3}, "codes": [1, "ab"], "pair": ["a", 1, "x"]}
    result = xrm("records", "create", "thing", "--data", json.dumps(data))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[1:] == [
        '  /data/codes/1: "ab" does not match "^[A-Z]{3}$"',
        '  /data/extras/b: 3 is not of type "string"',
        '  /data/pair/2: "x" is not allowed: no keyword declares the item at index 2 ("unevaluatedItems": false)']
    assert json.loads(xrm("records", "list", "thing", "--json").stdout) == []


def test_dependent_schemas_and_a_one_of_matched_twice():
    et = EntityType({"name": "pay", "schema": {"type": "object", "properties": {
        "w": {"type": "object", "properties": {"card": {"type": "string"}},
              "dependentSchemas": {"card": {"properties": {"expiry": {"type": "string", "format": "date"},
                                                           "cvc": {"type": "string"}}}},
              "unevaluatedProperties": False},
        "o": {"type": "object", "oneOf": [{"properties": {"a": {"type": "string"}}},
                                          {"properties": {"b": {"type": "string"}}}],
              "unevaluatedProperties": False}}}})
    assert found(et, {"w": {"card": "x", "expiry": "bad", "cvc": "1"}}) == [
        ("/data/w/expiry", '"bad" is not a valid date (YYYY-MM-DD, e.g. 2026-01-31)')]
    # without a card its dependent schema does not apply: expiry is genuinely unevaluated
    assert found(et, {"w": {"expiry": "2020-01-01", "card2": 1}}) == [
        ("/data/w/card2", UNEVALUATED.format("card2")), ("/data/w/expiry", UNEVALUATED.format("expiry"))]
    # both options match: the oneOf error is told once, not its options' properties too
    assert found(et, {"o": {"a": "x", "b": "y"}}) == [
        ("/data/o", '{"a":"x","b":"y"} is valid under more than one of the schemas listed in the \'oneOf\' keyword')]


def test_another_items_error_does_not_hide_a_genuine_property_of_this_item():
    # The objects of an array share their schema's evaluation paths: the failed "then" of
    # item 1 must not make item 0's "vat" (declared only in a "then" that does not apply
    # to item 0) an echo.
    et = EntityType({"name": "parties", "schema": {"type": "object", "properties": {"list": {
        "type": "array", "items": {
            "type": "object", "properties": {"kind": {"enum": ["company", "person"]}},
            "if": {"properties": {"kind": {"const": "company"}}},
            "then": {"properties": {"vat": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"}}},
            "unevaluatedProperties": False}}}}})
    data = {"list": [{"kind": "person", "vat": "DE1"}, {"kind": "company", "vat": "bad"}]}
    assert found(et, data) == [("/data/list/0/vat", UNEVALUATED.format("vat")),
                               ("/data/list/1/vat", '"bad" does not match "^[A-Z]{2}[0-9]+$"')]
