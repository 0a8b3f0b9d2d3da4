"""Security review 10, ``field_values.allowed_values`` (today): it runs on every filter of a
REST list, ``--where`` and KPI filter, by any user who may read the type, on the type's
schema as an admin or a plugin wrote it.

Pinned (holds): a ``$ref`` cycle, a ``$dynamicRef`` tree and deep nesting terminate, and a
typo is still refused through them.
Was a hole: the walk had a depth limit (20) but no memo and no budget, so a DAG of
``anyOf`` branches reaching one subschema k ways per level cost k^10 visits: k=4 was 3.4 s
per filter request, k=8 hours (measured through ``GET /api/v1/records/T?filter[f]=1``).
Now each (subschema, path, depth) is walked once per answer, and past a budget of visits
the answer is "unknown" (None): nothing is refused.
"""
from __future__ import annotations

import pytest

from xrm_core import field_values

VISIT_BUDGET = 20_000


def fan(k: int, levels: int = 10) -> dict:
    """``a0`` reaches ``a1`` k ways, ``a1`` reaches ``a2`` k ways, …: k^levels paths to the
    one subschema declaring ``f``. No cycle; the validator compiles it at once."""
    defs = {f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"} for _ in range(k)]} for i in range(levels)}
    defs[f"a{levels}"] = {"properties": {"f": {"enum": [1, 2]}}}
    return {"type": "object", "$defs": defs, "allOf": [{"$ref": "#/$defs/a0"}],
            "properties": {"f": {"type": "integer"}}}


@pytest.fixture
def counted(monkeypatch):
    """Count the walk's visits (``_field`` and ``_value``); past the budget, stop the test."""
    visits = {"n": 0}
    for name in ("_field", "_value"):
        real = getattr(field_values, name)

        def counting(*args, _real=real):
            visits["n"] += 1
            if visits["n"] > VISIT_BUDGET:
                raise RuntimeError(f"allowed_values visited more than {VISIT_BUDGET} subschemas")
            return _real(*args)

        monkeypatch.setattr(field_values, name, counting)
    return visits


# -- pinned -----------------------------------------------------------------------------------
def test_a_ref_cycle_terminates_and_the_enum_still_counts(counted):
    schema = {"type": "object", "$defs": {
        "node": {"type": "object", "properties": {"kind": {"enum": ["leaf", "branch"]},
                                                  "next": {"$ref": "#/$defs/node"}},
                 "allOf": [{"$ref": "#/$defs/node"}]}},
        "allOf": [{"$ref": "#/$defs/node"}]}
    assert field_values.allowed_values(schema, "kind") == ["leaf", "branch"]
    assert field_values.allowed_values(schema, "next.next.next.kind") == ["leaf", "branch"]
    assert counted["n"] < VISIT_BUDGET


def test_a_dynamic_ref_tree_terminates(counted):
    schema = {"$id": "https://x.example/root", "$dynamicAnchor": "node", "type": "object",
              "properties": {"kind": {"const": "root"},
                             "kids": {"type": "array", "items": {"$dynamicRef": "#node"}},
                             "child": {"$dynamicRef": "#node"}}}
    assert field_values.allowed_values(schema, "kind") == ["root"]
    assert field_values.allowed_values(schema, ".".join(["child"] * 30 + ["kind"])) is None
    assert counted["n"] < VISIT_BUDGET


def test_a_small_fan_is_answered_within_the_budget(counted):
    # Ten levels of branches reach past the walk's depth limit: "unknown", nothing refused.
    assert field_values.allowed_values(fan(2), "f") is None
    assert field_values.allowed_values(fan(2, levels=3), "f") == [1, 2]
    assert counted["n"] < VISIT_BUDGET


# -- the hole, closed -------------------------------------------------------------------------------------
def test_allowed_values_is_bounded_for_a_fan_of_branches(counted):
    field_values.allowed_values(fan(4), "f")
    assert counted["n"] <= VISIT_BUDGET


@pytest.mark.parametrize("k", [4, 8, 16])
def test_a_wide_fan_is_answered_in_a_few_visits_per_level(counted, k):
    """The branches reach one subschema k ways per level: each is walked once, so the visits
    grow with k × levels, not k^levels — and the enum at the bottom still counts."""
    assert field_values.allowed_values(fan(k, levels=6), "f") == [1, 2]
    assert counted["n"] <= 4 * k * 6 + 20


def test_past_the_budget_the_answer_is_unknown(monkeypatch):
    """A schema too big to walk within the budget refuses nothing: the answer is None."""
    monkeypatch.setattr(field_values, "_BUDGET", 20)
    assert field_values.allowed_values(fan(3, levels=6), "f") is None
    monkeypatch.undo()
    assert field_values.allowed_values(fan(3, levels=6), "f") == [1, 2]
