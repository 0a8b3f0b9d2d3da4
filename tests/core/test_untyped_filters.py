"""Filters on fields of no single schema type (no ``type``, or several): a value matches
stored values of its own JSON type only, and both engines answer alike — SQLite would order
every number before every string, PostgreSQL compare the JSON texts ("10" < "9")."""
from __future__ import annotations

import pytest

from xrm_core import hookimpl

THING = {"name": "thing", "title_field": "label", "indexes": ["v"],
         "schema": {"type": "object", "properties": {
             "label": {"type": "string"},
             "v": {},                                   # any JSON value
             "m": {"type": ["integer", "string"]}}}}    # two types
ROWS = {"five": {"v": 5, "m": 5}, "five_point_o": {"v": 5.0}, "nine": {"v": 9, "m": 9},
        "ten": {"v": 10, "m": 10}, "text5": {"v": "5", "m": "5"}, "text10": {"v": "10", "m": "10"},
        "abc": {"v": "abc", "m": "abc"}, "yes": {"v": True}, "no": {"v": False}, "list": {"v": [5]},
        "none": {"v": None}, "absent": {}}


class ThingPlugin:
    __name__ = "things"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [THING]


@pytest.fixture
def things(make_platform):
    p = make_platform(ThingPlugin())
    with p.session() as s:
        for label, data in ROWS.items():
            s.create("thing", {"label": label, **data})
    return p


def labels(p, where) -> set[str]:
    with p.session(write=False) as s:
        found = {r.data["label"] for r in s.list("thing", where, limit=100)}
        assert s.count("thing", where) == len(found), where
    return found


@pytest.mark.parametrize("field", ["v", "m"])
def test_a_value_matches_its_own_json_type(things, field):
    both = field == "v"  # the rows that give v only
    assert labels(things, {field: 5}) == ({"five", "five_point_o"} if both else {"five"})
    assert labels(things, {field: "5"}) == {"text5"}
    assert labels(things, {field: {"lt": 10}}) == ({"five", "five_point_o", "nine"} if both else {"five", "nine"})
    assert labels(things, {field: {"gte": 9}}) == {"nine", "ten"}
    assert labels(things, {field: {"gt": "1"}}) == {"text5", "text10", "abc"}   # strings only, in text order
    assert labels(things, {field: {"lt": "5"}}) == {"text10"}
    assert labels(things, {field: {"in": [9, "abc"]}}) == {"nine", "abc"}
    assert labels(things, {field: {"in": ["10", "5"]}}) == {"text10", "text5"}
    not_five = set(ROWS) - ({"five", "five_point_o"} if both else {"five"})
    assert labels(things, {field: {"ne": 5}}) == not_five


def test_booleans_and_absent_values(things):
    assert labels(things, {"v": True}) == {"yes"}
    assert labels(things, {"v": False}) == {"no"}
    assert labels(things, {"v": {"ne": True}}) == set(ROWS) - {"yes"}
    assert labels(things, {"v": None}) == {"none", "absent"}
    assert labels(things, {"v": {"exists": True}}) == set(ROWS) - {"none", "absent"}


def test_sorting_by_a_field_of_no_single_type_is_refused(things):
    """Numbers, strings and booleans mixed: the engines order them differently, and a
    cursor could not carry every kind of value — refused with a pointer, as arrays are."""
    from xrm_core import ValidationError
    with things.session(write=False) as s:
        for field in ("v", "m"):
            with pytest.raises(ValidationError) as e:
                s.list("thing", sort=["-" + field])
            assert e.value.errors[0]["pointer"] == "/sort/0" and "no single JSON type" in e.value.message
        assert [r.data["label"] for r in s.list("thing", sort=["label"], limit=2)] == ["abc", "absent"]
