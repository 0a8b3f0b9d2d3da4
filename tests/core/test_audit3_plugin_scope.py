"""Audit: what a user of one unit learns through relationships of a third-party plugin's
types, and :func:`xrm_core.relationships.related_ids`, the SQL form of ``related()`` a
timeline can select with, however many records are related."""
from __future__ import annotations

import pytest

from xrm_core import hookimpl, relationships


class Fund:
    __name__ = "fund"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": n, "schema": {"type": "object"}} for n in ("investor", "meeting", "memo")]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "attended", "source": "investor", "target": "meeting", "cardinality": "many-to-many"},
                {"name": "referred", "source": "investor", "target": "investor", "cardinality": "one-to-many"},
                {"name": "memo_on", "source": "*", "target": "memo", "cardinality": "many-to-many"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "call", "label": "Call"}]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return [{"name": "manager", "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"],
                                                "depth": "unit"}]},
                {"name": "reader", "grants": [{"type": "investor", "actions": ["read"], "depth": "unit"}]}]


@pytest.fixture
def world(make_platform):
    """East and west managers; an east investor related (by the admin) to west records in
    both directions, and to east records; an east reader who may read investors only."""
    p = make_platform(Fund())
    with p.session() as s:
        for unit in ("east", "west"):
            s.create_unit(unit)
            s.create_user(f"{unit}_manager", unit, roles=["manager"])
        s.create_user("east_reader", "east", roles=["reader"])
    ids = {}
    with p.session("east_manager") as s:
        ids["ada"] = s.create("investor", {}).id
        ids["agm"] = s.create("meeting", {}).id
        ids["bob"] = s.create("investor", {}).id
        ids["memo"] = s.create("memo", {}).id
        s.relate("attended", ids["ada"], ids["agm"])
        s.relate("referred", ids["ada"], ids["bob"])
        s.relate("memo_on", ids["ada"], ids["memo"])
    with p.session("west_manager") as s:
        ids["wes"] = s.create("investor", {}).id
        ids["west_agm"] = s.create("meeting", {}).id
        s.log(ids["west_agm"], "call", "west only")
    with p.session() as s:
        s.relate("attended", ids["ada"], ids["west_agm"])
        s.relate("referred", ids["wes"], ids["ada"])
    return p, ids


@pytest.mark.parametrize("user, expected", [
    ("admin", {"agm", "bob", "memo", "west_agm", "wes"}),
    ("east_manager", {"agm", "bob", "memo"}),
    ("east_reader", {"bob"}),
])
def test_related_ids_selects_what_related_lists(world, user, expected):
    p, ids = world
    with p.session(user, write=False) as s:
        selected = set(s.conn.execute(relationships.related_ids(s, ids["ada"])).scalars())
        listed = {r["record"].id for r in s.related(ids["ada"])}
    assert selected == listed == {ids[k] for k in expected}


def test_an_east_timeline_shows_nothing_of_the_west_records_it_is_related_to(world):
    p, ids = world
    west = {ids["wes"], ids["west_agm"]}
    with p.session("east_manager", write=False) as s:
        timeline = s.history(ids["ada"], include_related=True)
    assert {e["record"] for e in timeline} == {ids["ada"], ids["agm"], ids["bob"], ids["memo"]}
    assert not [e for e in timeline if (e["payload"] or {}).get("other") in west]
    assert "west only" not in [e["summary"] for e in timeline]
