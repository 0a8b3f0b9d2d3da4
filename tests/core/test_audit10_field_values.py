"""The values a field may hold by its ``enum``/``const``, wherever the schema declares it
(``field_values.allowed_values``): every branch of a ``oneOf``/``anyOf`` and of
``if``/``then``/``else`` counts, an ``allOf`` narrows, and a branch that leaves the field
free leaves it free. The first declaration found (``property_schema``) answered for all,
so filters refused values later branches allow."""
from __future__ import annotations

import pytest

from xrm_core.entity_types import EntityType
from xrm_core.errors import ValidationError
from xrm_core.field_values import allowed_values
from xrm_core.filters import refuse_values_never_held

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"


def _obj(**props):
    return {"type": "object", "properties": props}


def test_a_discriminated_union_holds_the_const_of_every_branch():
    schema = _obj(billing={"oneOf": [_obj(method={"const": "direct_debit"}), _obj(method={"const": "invoice"})]})
    assert allowed_values(schema, "billing.method") == ["direct_debit", "invoice"]


def test_then_and_else_both_count_and_a_free_branch_frees_the_field():
    both = {"if": {}, "then": _obj(segment={"enum": ["retail", "industry"]}), "else": _obj(segment={"const": "home"})}
    assert allowed_values(both, "segment") == ["retail", "industry", "home"]
    then_only = {"if": {}, "then": _obj(segment={"enum": ["retail"]})}
    assert allowed_values(then_only, "segment") is None
    one_branch = {"anyOf": [_obj(kind={"const": "a"}), _obj(other={"type": "string"})]}
    assert allowed_values(one_branch, "kind") is None


def test_all_of_and_a_ref_narrow_the_values():
    schema = {**_obj(kind={"enum": ["a", "b", "c"]}), "allOf": [_obj(kind={"enum": ["b", "c", "d"]})]}
    assert allowed_values(schema, "kind") == ["b", "c"]
    schema = {"$defs": {"k": {"enum": [1, 2, True]}}, **_obj(level={"$ref": "#/$defs/k", "enum": [2, True, 1.0]})}
    assert allowed_values(schema, "level") == [2, True, 1.0]
    assert allowed_values(_obj(country={"$ref": COMMON + "country"}), "country") is None


def test_a_field_nowhere_restricted_is_free():
    assert allowed_values(_obj(name={"type": "string"}), "name") is None
    assert allowed_values(_obj(name={"type": "string"}), "missing") is None
    assert allowed_values(_obj(kind={"anyOf": [{"const": 1}, {"enum": [2, 3]}]}), "kind") == [1, 2, 3]
    assert allowed_values(_obj(kind={"anyOf": [{"const": 1}, {"type": "integer"}]}), "kind") is None


def test_the_filter_check_reads_every_branch():
    et = EntityType({"name": "bill", "schema": _obj(billing={"oneOf": [
        _obj(method={"const": "direct_debit"}), _obj(method={"const": "invoice"})]})})
    refuse_values_never_held("sqlite", et, {"billing.method": "invoice"})
    refuse_values_never_held("sqlite", et, {"billing.method": {"in": ["invoice", "cheque"]}})
    with pytest.raises(ValidationError) as err:
        refuse_values_never_held("sqlite", et, {"billing.method": "cheque"})
    assert err.value.errors[0]["pointer"] == "/where/billing.method"
    assert "(direct_debit, invoice)" in err.value.errors[0]["message"]


def test_a_field_reached_through_a_dynamic_ref_keeps_its_values():
    schema = {"$id": "https://example.test/node.json", "type": "object",
              "properties": {"root": {"$dynamicRef": "#node"}},
              "$defs": {"node": {"$dynamicAnchor": "node", "type": "object",
                                 "properties": {"kind": {"enum": ["pipe", "valve"]}}}}}
    assert allowed_values(schema, "root.kind") == ["pipe", "valve"]


def test_then_and_else_on_the_value_itself_narrow_it():
    """``if``/``then``/``else`` written on the value (not on a property of an object): the
    value is one then or else allows — ``c`` fits neither, so no record holds it."""
    schema = {"type": "object", "properties": {
        "tier": {"enum": ["a", "b", "c"], "if": {"const": "a"}, "then": {"enum": ["a"]}, "else": {"enum": ["b"]}},
        "free": {"enum": ["x", "y"], "if": {"const": "x"}, "then": {"enum": ["x"]}}}}
    assert allowed_values(schema, "tier") == ["a", "b"]
    assert allowed_values(schema, "free") == ["x", "y"]  # no else: any value passes that branch
