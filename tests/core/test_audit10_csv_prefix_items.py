"""CSV cells of a positional array (``prefixItems``): each ``;``-separated item is read as
the type of its position, the items after them as ``items``. A meter's calibration
``[label: string, factor: number]`` written ``12;5`` was read as ``[12, 5]`` and refused
("12 is not of type string"), and ``yes;1`` for ``[boolean, ...string]`` as ``["yes", "1"]``."""
from __future__ import annotations

import pytest

from xrm_core.csvcells import column_for
from xrm_core.entity_types import EntityType

GAUGE = EntityType({"name": "gauge", "schema": {"type": "object", "properties": {
    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": False},
    "tail": {"type": "array", "prefixItems": [{"type": "boolean"}], "items": {"type": "string"}},
    "maybe": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pair"}]},
    "plain": {"type": "array", "items": {"type": "integer"}}},
    "$defs": {"pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}}}})


@pytest.mark.parametrize("name, cell, value", [
    ("pair", "12;5", ["12", 5]),
    ("pair", "A7; 2.5", ["A7", 2.5]),
    ("tail", "yes;1;true", [True, "1", "true"]),
    ("tail", "no", [False]),
    ("maybe", "3;4", [3, "4"]),
    ("plain", "1;2", [1, 2]),
    ("pair", '["12", 5]', ["12", 5]),
])
def test_each_position_is_read_as_its_type(name, cell, value):
    assert column_for(GAUGE, name).read(cell) == value


def test_a_position_that_cannot_be_read_says_so():
    with pytest.raises(ValueError, match="not a boolean"):
        column_for(GAUGE, "tail").read("maybe;x")


def test_export_writes_what_import_reads_back():
    for name, value in (("pair", ["12", 5]), ("tail", [True, "1"]), ("maybe", [3, "4"])):
        column = column_for(GAUGE, name)
        assert column.read(column.write(value)) == value


@pytest.mark.parametrize("cell", ["12;;5", ";5", "A7; ;5"])
def test_an_empty_position_is_refused_not_skipped(cell):
    """Skipping an empty item would move the next one into its position: ``12;;5`` was read
    as ``["12", 5]`` — the reading holds the wrong value at /1 without a word."""
    with pytest.raises(ValueError, match="item [12] of the list is empty.*fixed positions"):
        column_for(GAUGE, "pair").read(cell)


def test_empty_items_past_the_positions_and_at_the_end_are_skipped():
    """Past the fixed positions (``items``) and at the end an empty item moves nothing."""
    assert column_for(GAUGE, "tail").read("yes;a;;b;") == [True, "a", "b"]
    assert column_for(GAUGE, "pair").read("A7;5;") == ["A7", 5]
    assert column_for(GAUGE, "plain").read("1;;2") == [1, 2]
