"""A refused ``minContains``/``maxContains`` says how many matching items the schema asks
for or allows (jsonschema-rs says "None of [...] are valid", xrm_core.validation said only
"fewer than minContains asks for"); ``minProperties``/``maxProperties`` say their limit too."""
from __future__ import annotations

import pytest

from xrm_core import ValidationError
from xrm_core.entity_types import EntityType

SCHEMA = {
    "type": "object",
    "properties": {
        "tags": {"contains": {"type": "integer"}, "minContains": 3},
        "one": {"contains": {"const": "x"}, "maxContains": 1},
        # behind a $ref, and in a platform schema's neighbour resource of its own
        "ref": {"$ref": "#/$defs/pair"},
        "inner": {"$ref": "inner.json"},
        "props": {"minProperties": 2, "maxProperties": 3},
    },
    "$defs": {"pair": {"contains": {"type": "string"}, "minContains": 2},
              "own": {"$id": "inner.json", "contains": {"type": "boolean"}, "maxContains": 2}},
}


def messages(data: dict) -> dict[str, str]:
    et = EntityType({"name": "core12limits", "schema": SCHEMA})
    with pytest.raises(ValidationError) as info:
        et.validate(data)
    return {e["pointer"]: e["message"] for e in info.value.errors}


def test_min_and_max_contains_say_their_limit():
    said = messages({"tags": [1, 2, "a"], "one": ["x", "x"], "ref": ["a", 1], "inner": [True, True, False]})
    assert said["/data/tags"] == '[1,2,"a"] has fewer than 3 items matching "contains" ("minContains": 3)'
    assert said["/data/one"] == '["x","x"] has more than 1 item matching "contains" ("maxContains": 1)'
    assert said["/data/ref"] == '["a",1] has fewer than 2 items matching "contains" ("minContains": 2)'
    assert said["/data/inner"] == '[true,true,false] has more than 2 items matching "contains" ("maxContains": 2)'


def test_min_and_max_properties_say_their_limit():
    assert messages({"props": {"a": 1}})["/data/props"] == '{"a":1} has less than 2 properties'
    assert messages({"props": {"a": 1, "b": 2, "c": 3, "d": 4}})["/data/props"] == \
        '{"a":1,"b":2,"c":3,"d":4} has more than 3 properties'
