"""Acceptance audit 7 (an admin's own JSON Schemas, a water utility's field service): schema
error messages that named no allowed value, no option and no reason, on both engines."""
from __future__ import annotations

import pytest

from xrm_core import DefinitionError, ValidationError, entity_types
from xrm_core.validation import compile_schema, errors_of

S = "https://json-schema.org/draft/2020-12/schema"

#: A work order: a discriminated contact, a priority of two kinds, a meter of five diameters,
#: a location of exactly two numbers, labels with lower-case names, a reading that is not 0.
WORK_ORDER = {
    "name": "work_order", "title_field": "ref",
    "schema": {"$schema": S, "type": "object", "required": ["ref"], "additionalProperties": False,
               "properties": {
                   "ref": {"type": "string"},
                   "contact": {"oneOf": [
                       {"type": "object", "required": ["via", "email"], "additionalProperties": False,
                        "properties": {"via": {"const": "email"}, "email": {"type": "string", "format": "email"}}},
                       {"type": "object", "required": ["via", "phone"], "additionalProperties": False,
                        "properties": {"via": {"const": "phone"},
                                       "phone": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/phone"}}}]},
                   "priority": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 5},
                                          {"enum": ["urgent", "low"]}]},
                   "diameter_mm": {"enum": [15, 20, 25, "other", None]},
                   "location": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
                                "items": False},
                   "labels": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
                   "reading": {"type": "number", "not": {"const": 0}},
                   "zone": {"enum": [f"Z{i}" for i in range(30)]},
               }},
}


@pytest.fixture
def utility(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, WORK_ORDER)
    return p


def _refused(p, data: dict) -> dict:
    """``{pointer: message}`` of the refusal of creating a work order with ``data``."""
    with pytest.raises(ValidationError) as e:
        with p.session() as s:
            s.create("work_order", {"ref": "WO1", **data})
    with p.session(write=False) as s:
        assert s.count("work_order") == 0  # refused, nothing stored
    return {err["pointer"]: err["message"] for err in e.value.errors}


def test_an_enum_of_many_values_names_them_all(utility):
    """Was '30 is not one of 15, 20 or 3 other candidates': the values an admin typed are
    the ones to choose from."""
    assert _refused(utility, {"diameter_mm": 30}) == {
        "/data/diameter_mm": '30 is not one of 15, 20, 25, "other" or null'}
    # A long list is cut, saying how many are left out.
    assert _refused(utility, {"zone": "Z99"}) == {
        "/data/zone": '"Z99" is not one of ' + ", ".join(f'"Z{i}"' for i in range(20)) + " or 10 more"}


def test_an_item_beyond_prefix_items_says_which_and_why(utility):
    """Was 'False schema does not allow 3'."""
    assert _refused(utility, {"location": [35.7, 51.4, 3]}) == {
        "/data/location/2": '3 is not allowed: the array takes no item at index 2 ("items": false)'}


def test_a_discriminator_of_no_option_names_the_values_it_may_take(utility):
    """Was only '{"via":"fax"} is not valid under any of the schemas listed in the 'oneOf'
    keyword': which member, and what it may be, left to guess."""
    got = _refused(utility, {"contact": {"via": "fax", "number": "1"}})
    assert list(got) == ["/data/contact"]
    assert got["/data/contact"].endswith('(\"via\" must be "email" or "phone", not "fax")')
    assert "not valid under any of the schemas listed in the 'oneOf' keyword" in got["/data/contact"]
    # The discriminator missing: every option requires it.
    got = _refused(utility, {"contact": {"email": "a@b.ir"}})
    assert got["/data/contact"].endswith('("via" is missing: every option requires it)')
    # A discriminator that fits: that option's own errors, as before.
    assert _refused(utility, {"contact": {"via": "phone", "phone": "abc"}}) == {
        "/data/contact/phone": '"abc" does not match "^\\+?[0-9][0-9 ()\\-]{3,24}$"'}


def test_a_value_of_no_option_says_what_the_options_expect(utility):
    got = _refused(utility, {"priority": "soon"})
    assert got["/data/priority"].endswith('(expected an integer, or one of "urgent" or "low")')
    got = _refused(utility, {"priority": [1]})
    assert got["/data/priority"].endswith('(expected an integer, or one of "urgent" or "low")')
    # One option the value was meant for (an integer out of range): its error, as before.
    assert _refused(utility, {"priority": 9}) == {"/data/priority": "9 is greater than the maximum of 5"}


def test_not_and_property_names_say_what_is_refused(utility):
    """Was '{"const":0} is not allowed for 0' and '"A" does not match "^[a-z]+$"' (as if a
    value "A" were wrong)."""
    assert _refused(utility, {"reading": 0}) == {
        "/data/reading": '0 is not allowed: it must not match {"const":0} ("not")'}
    assert _refused(utility, {"labels": {"A": "x"}}) == {
        "/data/labels": 'the property name "A" does not match "^[a-z]+$"'}


def test_a_relative_common_json_ref_under_an_own_id_gets_the_absolute_uri(make_platform):
    """A schema with its own $id resolves 'common.json#/$defs/phone' against that $id: the
    refusal now says which URI reaches the platform's common definitions."""
    p = make_platform()
    properties = {"phone": {"$ref": "common.json#/$defs/phone"},
                  "tel": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/tel"}}
    bad = {"name": "meter", "schema": {"$schema": S, "$id": "https://utility.example/meter.json", "type": "object",
                                       "properties": properties}}
    with pytest.raises(DefinitionError) as e:
        with p.connection() as conn:
            entity_types.add(conn, bad)
    got = {err["pointer"]: err["message"] for err in e.value.errors}
    assert "https://xrm.dev/schemas/common.json#/$defs/NAME" in got["/schema/properties/phone/$ref"]
    # An unknown name of the platform's file: the names it has.
    assert got["/schema/properties/tel/$ref"].endswith(
        "(common.json defines address, country, currency, date, datetime, email, lang, money, percent, phone, "
        "record_ref, uri, uuid)")
    with p.connection() as conn:
        assert "meter" not in entity_types.load_all(conn)


def test_the_messages_are_the_validators_own_where_nothing_was_missing():
    """Enums of up to three values, and a false property schema, keep the library's text."""
    schema = {"type": "object", "properties": {"k": {"enum": ["a", "b", "c"]}, "never": False}}
    v = compile_schema(schema, "https://xrm.dev/schemas/t.type.json")
    got = {e["pointer"]: e["message"] for e in errors_of(v, {"k": "x", "never": 1}, "", schema)}
    assert got == {"/k": '"x" is not one of "a", "b" or "c"', "/never": "False schema does not allow 1"}


def test_options_that_allow_nothing_or_refuse_by_a_large_schema_still_get_a_message():
    """An empty ``enum`` among the options (allowing no value) and a long ``not`` schema."""
    schema = {"type": "object", "properties": {
        "a": {"anyOf": [{"enum": []}, {"type": "integer"}]},
        "n": {"not": {"enum": ["x" * 60, "y" * 60, "z" * 60]}}}}
    v = compile_schema(schema, "https://xrm.dev/schemas/t.type.json")
    got = {e["pointer"]: e["message"] for e in errors_of(v, {"a": "s", "n": "x" * 60}, "", schema)}
    assert got["/a"].endswith("(expected no value (an empty enum), or an integer)")
    assert got["/n"] == f'"{"x" * 60}" is not allowed: it must not match the schema ("not")'
