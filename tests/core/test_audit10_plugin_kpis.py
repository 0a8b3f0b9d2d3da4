"""Audit 10: a Python KPI as DESIGN §3 describes it — "an object with the same metadata and a
``compute(ctx)`` method".

An integrator's KPI object that is no ``xrm_core.KPI`` subclass was refused by ``xrm init``
unless it also had a ``check`` method (``KPI #0 is a Turnout: xrm_kpis returns KPI dicts and
KPI objects (instances of a xrm_core.KPI subclass)``); with one, init accepted it and ``xrm
kpi list`` then crashed with ``AttributeError: 'Turnout' object has no attribute 'to_dict'``.
Such an object now works everywhere a ``KPI`` subclass does: checked at init, listed,
computed in the caller's scope and period, and its crash named as its plugin's.
"""
from __future__ import annotations

import json
import types

import pytest
from sqlalchemy import func, select

from xrm_core import DefinitionError, Platform, PluginError, ValidationError, hookimpl

ASSEMBLY = {"name": "assembly", "title_field": "title",
            "schema": {"type": "object", "required": ["title"],
                       "properties": {"title": {"type": "string"}, "votes": {"type": "integer"},
                                      "held_on": {"type": "string", "format": "date"}}}}


class Turnout:
    """Votes per assembly: an object with the KPI metadata and compute(ctx), no KPI subclass."""
    name = "a10_duck_turnout"
    label = {"en": "Assembly turnout", "fa": "مشارکت مجمع", "zh": "大会投票率"}
    unit = "votes"
    higher_is_better = True
    description = "average votes per assembly"
    entity = "assembly"
    time_field = "held_on"

    def compute(self, ctx):
        return ctx.measure("assembly", func.avg(ctx.field("assembly", "votes")), func.count())


def plugin(*kpis) -> types.ModuleType:
    m = types.ModuleType("xrm_coop.plugin")
    m.xrm_entity_types = hookimpl(lambda: [ASSEMBLY])
    m.xrm_kpis = hookimpl(lambda: list(kpis))
    return m


@pytest.fixture
def platform_of(db_url):
    made = []

    def make(*kpis) -> Platform:
        made.append(Platform(db_url, plugins={"coop": plugin(*kpis)}, load_entry_points=False))
        made[-1].init(admin_password="secret-pw")
        return made[-1]

    yield make
    for p in made:
        p.dispose()


def test_an_object_with_the_metadata_and_compute_is_a_kpi(platform_of, cli):
    p = platform_of(Turnout())
    with p.session() as s:
        s.create_unit("north")
        s.create_user("board", "north", password="board-secret")
        s.create("assembly", {"title": "AGM", "votes": 10, "held_on": "2025-01-01"})
        s.create("assembly", {"title": "EGM", "votes": 20, "held_on": "2025-06-01"})
        assert s.kpi("a10_duck_turnout")["value"] == 15
        assert s.kpi("a10_duck_turnout", date_from="2025-02-01")["value"] == 20
    coop = {"coop": plugin(Turnout())}
    listed = cli("kpi", "list", "--json", plugins=coop)
    assert listed.exit_code == 0, listed.stderr
    [kpi] = [k for k in json.loads(listed.stdout) if k["name"] == "a10_duck_turnout"]
    assert (kpi["label"], kpi["unit"], kpi["entity"], kpi["source"]) == (Turnout.label, "votes", "assembly", "coop")
    computed = cli("kpi", "compute", "a10_duck_turnout", "--json", plugins=coop)
    assert json.loads(computed.stdout)["value"] == 15


def test_its_check_runs_and_a_missing_name_or_entity_is_named(platform_of):
    class Checked(Turnout):
        def check(self, known_types):
            raise DefinitionError("turnout needs the assembly type")

    class Nameless(Turnout):
        name = None

    class Elsewhere(Turnout):
        entity = "meeting"

    with pytest.raises(DefinitionError, match="^plugin 'coop': turnout needs the assembly type$"):
        platform_of(Checked())
    with pytest.raises(DefinitionError, match="^plugin 'coop': Nameless has no name$"):
        platform_of(Nameless())
    with pytest.raises(DefinitionError, match="^plugin 'coop': KPI 'a10_duck_turnout' measures unknown entity "
                                              "type 'meeting'"):
        platform_of(Elsewhere())


def test_its_crash_is_named_as_its_plugins(platform_of):
    class Broken(Turnout):
        def compute(self, ctx):
            raise KeyError("votes")

    p = platform_of(Broken())
    with pytest.raises(PluginError) as e, p.session() as s:
        s.kpi("a10_duck_turnout")
    assert e.value.message == "plugin 'coop' failed in KPI 'a10_duck_turnout' compute(): KeyError: 'votes'"


def test_an_object_without_compute_is_still_refused(platform_of):
    with pytest.raises(DefinitionError, match=r"KPI #0 is a str"):
        platform_of("turnout")


def test_a_kpi_that_ignores_by_is_refused_rather_than_answered_ungrouped(platform_of, cli):
    """A Python KPI that never looks at ``ctx.group_key`` answered ``--by`` with its overall
    value and no group: a grouped question read as answered, with nothing to show."""
    class Ungrouped(Turnout):
        name = "a10_ungrouped_votes"

        def compute(self, ctx):
            votes = ctx.field("assembly", "votes")
            value, n = ctx.execute(select(func.max(votes), func.count(votes)).where(ctx.base("assembly"))).one()
            return {"value": value, "n": n, "groups": []}

    p = platform_of(Turnout(), Ungrouped())
    with p.session() as s:
        # With nothing measured, no group is the right answer.
        assert s.kpi("a10_ungrouped_votes", by="title")["groups"] == []
        s.create("assembly", {"title": "AGM", "votes": 10, "held_on": "2025-01-01"})
        s.create("assembly", {"title": "EGM", "votes": 20, "held_on": "2025-06-01"})
        assert s.kpi("a10_ungrouped_votes")["value"] == 20
        with pytest.raises(ValidationError) as e:
            s.kpi("a10_ungrouped_votes", by="title")
        assert e.value.message == ("KPI 'a10_ungrouped_votes' does not group its result: it measured 2 records "
                                   "and answered no group for --by title")
        assert e.value.errors == [{"pointer": "/by", "message": "this KPI does not group by a field"}]
        # One that groups through ctx answers as before.
        assert [(g["key"], g["value"]) for g in s.kpi("a10_duck_turnout", by="title")["groups"]] == \
            [("AGM", 10), ("EGM", 20)]
    r = cli("kpi", "compute", "a10_ungrouped_votes", "--by", "title",
            plugins={"coop": plugin(Turnout(), Ungrouped())})
    assert r.exit_code == 2 and "does not group its result" in r.stderr and "Traceback" not in r.stderr
