"""An entity type's schema is read by field types, indexes and filters with the base URI its
validator has (``<name>.type.json``), so a reference naming that URI, or an embedded ``$id``
another base would name, resolves to the same subschema for both (xrm_core.schema_types
read the schema as ``entity.type.json`` before)."""
from __future__ import annotations

import copy
import gc

import pytest

from xrm_core import ValidationError, hookimpl, schema_types
from xrm_core.entity_types import EntityType

#: ``x`` names the embedded resource ``entity.type.json`` (a string); ``y`` names the
#: schema itself by its own URI (an integer).
SCHEMA = {
    "type": "object",
    "properties": {"x": {"$ref": "entity.type.json#/$defs/n"}, "y": {"$ref": "gadget.type.json#/$defs/n"}},
    "$defs": {"n": {"type": "integer"},
              "e": {"$id": "entity.type.json", "$defs": {"n": {"type": "string"}}}},
}


class GadgetPlugin:
    __name__ = "core12gadget"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "gadget", "indexes": ["x", "y"], "schema": copy.deepcopy(SCHEMA)}]


def test_field_types_follow_the_validators_base_uri():
    et = EntityType({"name": "gadget", "schema": copy.deepcopy(SCHEMA)})
    assert et.validator.is_valid({"x": "a", "y": 1})
    assert not et.validator.is_valid({"x": 1})
    assert et.field_type("x") == "string"   # was "integer": the root read as entity.type.json
    assert et.field_type("y") == "integer"  # was None: its own URI named nothing


def test_a_reading_outlives_an_earlier_type_of_the_same_schema_dict():
    schema = copy.deepcopy(SCHEMA)
    first = EntityType({"name": "gadget", "schema": schema})
    second = EntityType({"name": "gadget", "schema": schema})
    del first  # its reading ends with it, and must not end the second's
    gc.collect()
    assert second.field_type("y") == "integer"
    del second
    gc.collect()
    assert schema_types.base_of(schema).endswith("/entity.type.json")  # nothing kept for it


def test_filters_and_indexes_compare_as_the_validator_stores(make_platform):
    p = make_platform(GadgetPlugin())
    with p.session() as s:
        rec = s.create("gadget", {"x": "abc", "y": 7})
        assert [r.id for r in s.list("gadget", {"x": "abc"})] == [rec.id]
        assert [r.id for r in s.list("gadget", {"y": {"gte": 7}})] == [rec.id]
        with pytest.raises(ValidationError):
            s.create("gadget", {"x": 5})
