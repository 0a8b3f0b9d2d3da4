"""Security review 10, duck-typed KPI objects (``kpi_registry.ObjectKPI``, today): what a
careless plugin's object does to everyone's KPIs.

Pinned (holds): a duck-typed object gets the same checks a ``KPI`` subclass gets — an
unknown entity type, a ``time_field`` the type lacks, an object with no ``compute`` — and
computes through a context carrying the session's scope and the period.
Were holes, closed (the tests below fail on the code before):
- an object whose ``name`` is no string (``7``) is registered, and ``GET /api/v1/kpis``
  then sorts names of two types: a 500 for every user, whatever KPIs they may compute;
- an object whose metadata attribute raises (a ``label`` property reading a file) fails
  ``xrm init`` with the bare exception, not a PluginError naming the plugin (the
  wrapper reads the metadata outside the registry's ``try``).
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import accounts, kpis
from xrm_core.errors import DefinitionError, PluginError, XrmError
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app


def kpi_plugin(*items, name: str = "sec10_kpis"):
    class Plugin:
        __name__ = name

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return list(items)

    return Plugin()


class Counted:
    name = "counted"
    label = "Counted"
    entity = "person"
    time_field = "born"
    seen: list = []

    def compute(self, ctx):
        from sqlalchemy import func, select

        from xrm_core import db
        Counted.seen.append((ctx.session.actor.name, ctx.date_from, ctx.date_to, ctx.kpi.entity))
        n = ctx.session.conn.execute(select(func.count()).select_from(db.records).where(ctx.base("person"))).scalar()
        return {"value": n, "n": n, "groups": []}


# -- pinned -----------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs, words", [
    ({"entity": "no_such_type"}, "unknown entity type 'no_such_type'"),
    ({"entity": "person", "time_field": "no_such_field"}, "'no_such_field', which is not a field of person"),
    ({"entity": "person", "time_field": "age"}, "must be a date or date-time string field"),
    ({"entity": ["person"]}, "KPI 'duck'"),  # refused (a PluginError naming it), never registered
])
def test_a_duck_typed_kpi_gets_the_checks_a_kpi_subclass_gets(make_platform, attrs, words):
    duck = type("Duck", (), {"name": "duck", "compute": lambda self, ctx: {"value": None, "n": 0}, **attrs})()
    with pytest.raises(XrmError) as e:
        make_platform(PersonPlugin(), kpi_plugin(duck))
    assert words in e.value.message and "sec10_kpis" in e.value.message


def test_an_object_without_compute_is_refused(make_platform):
    with pytest.raises(DefinitionError) as e:
        make_platform(PersonPlugin(), kpi_plugin(type("NoCompute", (), {"name": "x", "entity": "person"})()))
    assert "not a KPI dict or KPI object" in str(e.value.errors)


def test_a_duck_typed_kpi_computes_in_the_callers_scope_and_period(make_platform):
    p = make_platform(PersonPlugin(), kpi_plugin(Counted()))
    with p.connection() as conn:
        accounts.create_unit(conn, "north")
        accounts.save_role(conn, {"name": "own_people", "grants": [
            {"type": "person", "actions": ["read", "create"], "depth": "own"}]})
        accounts.create_user(conn, "north_agent", "north", ["own_people"], "pw")
        accounts.create_user(conn, "nobody", "north", [], "pw")
    with p.session() as s:
        s.create("person", {"name": "HQ", "born": "1990-01-01"})
    with p.session("north_agent") as s:
        s.create("person", {"name": "Mine", "born": "1990-01-01"})
        s.create("person", {"name": "Mine too", "born": "2001-01-01"})
    Counted.seen.clear()
    with p.session("north_agent", write=False) as s:
        assert kpis.compute(s, "counted", "1990-01-01", "1990-12-31")["n"] == 1
        assert kpis.compute(s, "counted")["n"] == 2
    with p.session(write=False) as s:
        assert kpis.compute(s, "counted", "1990-01-01", "1990-12-31")["n"] == 2
    with p.session("nobody", write=False) as s:
        with pytest.raises(XrmError):  # no read grant on person: refused, compute never runs
            kpis.compute(s, "counted")
    assert Counted.seen[0] == ("north_agent", "1990-01-01", "1990-12-31", "person")
    assert len(Counted.seen) == 3


# -- holes ------------------------------------------------------------------------------------
class NumberName:
    name = 7
    label = "Seven"

    def compute(self, ctx):  # pragma: no cover
        return {"value": 7, "n": 1, "groups": []}


def test_a_kpi_object_whose_name_is_no_string_is_refused_at_init(make_platform):
    try:
        p = make_platform(PersonPlugin(), kpi_plugin(NumberName()))
    except XrmError as e:
        assert "sec10_kpis" in e.message
        # The plugin's own class is named, not the platform's adapter around it.
        assert "NumberName's name 7 is not a KPI name" in e.message and "ObjectKPI" not in e.message
        return
    with p.connection() as conn:
        kpis.add(p, conn, {"name": "people", "label": "People", "entity": "person", "measure": {"count": True}})
        token = accounts.create_token(conn, "admin")
    r = create_app(p, {"TESTING": False}).test_client().get(
        "/api/v1/kpis", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, "a KPI named 7 broke every user's KPI list"


class RaisingLabel:
    name = "raising"
    entity = "person"

    @property
    def label(self):
        raise OSError("labels.txt: no such file")

    def compute(self, ctx):  # pragma: no cover
        return {"value": None, "n": 0, "groups": []}


def test_a_kpi_object_whose_metadata_raises_is_reported_as_its_plugins_failure(make_platform):
    with pytest.raises(PluginError) as e:
        make_platform(PersonPlugin(), kpi_plugin(RaisingLabel()))
    assert "sec10_kpis" in str(e.value)
