"""Audit: a third-party plugin upgraded on a database in use widens and narrows the ends of
its relationship types. A change every stored relationship satisfies is applied; one they
do not is refused naming what is in the way, and that init changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from xrm_core import Conflict, db, hookimpl

INVESTOR = {"name": "investor", "title_field": "name",
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
MEETING = {"name": "meeting", "schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}
FUND = {"name": "fund", "schema": {"type": "object", "properties": {"code": {"type": "string"}}}}


class Fund:
    """One release of the plugin: its ``attended`` relationship type ends at ``target``."""

    __name__ = "fund"

    def __init__(self, target: str, source: str = "investor", extra_rel: bool = False):
        self.rels = [{"name": "attended", "source": source, "target": target, "cardinality": "many-to-many"}]
        if extra_rel:
            self.rels.append({"name": "co_invests", "source": "investor", "target": "investor",
                              "cardinality": "many-to-many", "on_delete": "cascade"})

    @hookimpl
    def xrm_entity_types(self):
        return [INVESTOR, MEETING, FUND]

    @hookimpl
    def xrm_relationship_types(self):
        return self.rels


def _definition(platform, name="attended"):
    with platform.session(write=False) as s:
        return s.relationship_type(name)


def _dump(platform) -> dict:
    with platform.session(write=False) as s:
        return {t.name: sorted(map(tuple, s.conn.execute(select(t)).all()), key=repr)
                for t in (db.records, db.relationships, db.relationship_types, db.activities)}


def test_a_release_widens_an_end_to_any_type_and_narrows_it_back_once_the_data_allows(make_platform):
    v1 = make_platform(Fund("meeting"))
    with v1.session() as s:
        ada = s.create("investor", {"name": "Ada"}).id
        agm = s.create("meeting", {"topic": "AGM"}).id
        gf1 = s.create("fund", {"code": "GF1"}).id
        s.relate("attended", ada, agm)

    # Every stored relationship still fits "*": applied (was refused: "1 relationship(s) of it exist").
    v2 = make_platform(Fund("*", extra_rel=True), init=False)
    v2.init()
    assert _definition(v2)["target"] == "*"
    assert _definition(v2, "co_invests")["on_delete"] == "cascade"
    with v2.session() as s:
        on_fund = s.relate("attended", ada, gf1)["id"]

    # Back to meetings while a fund is attended: refused naming the fund relationships.
    v3 = make_platform(Fund("meeting"), init=False)
    before = _dump(v3)
    with pytest.raises(Conflict) as e:
        v3.init()
    assert "cannot change the target of 'attended': 1 relationship(s) of it link records of other types " \
           "than 'meeting'" in e.value.message
    assert e.value.errors == [{"pointer": "/target", "message": "1 relationship(s) link fund records"},
                              {"pointer": f"/relationships/{on_fund}", "message": f"investor {ada} → fund {gf1}"}]
    assert _dump(v3) == before

    # Once the fund's relationship is gone every one links a meeting: applied.
    with v3.session() as s:
        s.unrelate(on_fund)
    v3.init()
    assert _definition(v3)["target"] == "meeting"
    with v3.session() as s:
        assert [r["record"].id for r in s.related(ada, "attended")] == [agm]


def test_a_new_source_type_the_stored_relationships_do_not_link_is_refused(make_platform):
    v1 = make_platform(Fund("meeting"))
    with v1.session() as s:
        s.relate("attended", s.create("investor", {"name": "Ada"}).id, s.create("meeting", {}).id)
    v2 = make_platform(Fund("meeting", source="fund"), init=False)
    before = _dump(v2)
    with pytest.raises(Conflict) as e:
        v2.init()
    assert e.value.errors[0] == {"pointer": "/source", "message": "1 relationship(s) link investor records"}
    assert [x["pointer"].split("/")[1] for x in e.value.errors[1:]] == ["relationships"]
    assert _dump(v2) == before


def test_init_again_leaves_unchanged_relationship_types_as_they_are(make_platform):
    """"Running init again changes nothing": each relationship type's row was rewritten with
    a new updated_at on every init."""
    v1 = make_platform(Fund("meeting", extra_rel=True))

    def rows(platform):
        with platform.session(write=False) as s:
            return {r.name: r for r in s.conn.execute(select(db.relationship_types)).all()}

    before = rows(v1)
    make_platform(Fund("meeting", extra_rel=True), init=False).init()
    assert rows(v1) == before
    v2 = make_platform(Fund("*", extra_rel=True), init=False)
    v2.init()
    after = rows(v2)
    assert after["co_invests"] == before["co_invests"]
    assert after["attended"].definition["target"] == "*"
    assert after["attended"].updated_at > before["attended"].updated_at
