"""``xrm kpi compute NAME --by FIELD`` and REST ``by=`` had no cap on the number of groups: a
--by on a near-unique field built one group per record in memory and one huge document.
Past ``kpi_measures.MAX_GROUPS`` groups the computation is now refused at ``/by``, naming the
field and the cap — every measure, Python KPIs' building blocks and their own groupings,
CLI and REST. The tests lower the cap (monkeypatch) rather than write 10,001 records."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func

from conftest import PersonPlugin
from xrm_core import KPI, ValidationError, accounts, hookimpl, kpi_measures, kpis
from xrm_core.cli.main import build_cli
from xrm_core.web import create_app

CAP = 3


class BlockKPI(KPI):
    """A Python KPI built from ``ctx.measure`` (groups follow ``by``)."""

    name = "block_count"
    label = "People (block)"
    unit = "people"
    entity = "person"

    def compute(self, ctx):
        return ctx.measure("person", func.count(), func.count())


class OwnGroupsKPI(KPI):
    """A Python KPI that makes one group per record by itself."""

    name = "own_groups"
    label = "Own groups"
    unit = "people"
    entity = "person"

    def compute(self, ctx):
        groups = [{"key": i, "value": 1, "n": 1} for i in range(2 * CAP)] if ctx.by else []
        return {"value": 2 * CAP, "n": 2 * CAP, "groups": groups}


class KPIs:
    __name__ = "core13_kpis"

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "people", "entity": "person", "measure": {"count": True}},
                {"name": "avg_age", "entity": "person", "measure": {"avg": "age"}},
                {"name": "median_age", "entity": "person", "measure": {"median": "age"}},
                BlockKPI(), OwnGroupsKPI()]


@pytest.fixture
def p(make_platform, monkeypatch):
    monkeypatch.setattr(kpi_measures, "MAX_GROUPS", CAP)
    platform = make_platform(PersonPlugin(), KPIs())
    with platform.session() as s:
        for i in range(CAP + 1):  # one email each: CAP + 1 groups; ages in CAP groups
            s.create("person", {"name": f"p{i}", "email": f"p{i}@example.org", "age": 20 + i % CAP})
    return platform


@pytest.mark.parametrize("name", ["people", "avg_age", "median_age", "block_count"])
def test_grouping_past_the_cap_is_refused_naming_the_field_and_cap(p, name):
    with p.session(write=False) as s:
        with pytest.raises(ValidationError) as e:
            kpis.compute(s, name, by="email")
        assert e.value.errors[0]["pointer"] == "/by"
        assert "cannot group by 'email'" in e.value.message and f"at most {CAP:,} groups" in e.value.message
        # Up to the cap, the groups are answered as before.
        result = kpis.compute(s, name, by="age")
        assert [g["key"] for g in result["groups"]] == [20, 21, 22] and result["n"] == CAP + 1


def test_a_python_kpi_with_groups_of_its_own_past_the_cap_is_refused(p):
    with p.session(write=False) as s:
        with pytest.raises(ValidationError, match=f"cannot group by 'age'.*at most {CAP:,} groups"):
            kpis.compute(s, "own_groups", by="age")
        assert kpis.compute(s, "own_groups")["groups"] == []


def test_the_cli_and_rest_refuse_it_too(p, db_url):
    r = CliRunner().invoke(build_cli(p.pm), ["--db", db_url, "kpi", "compute", "people", "--by", "email", "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 2 and "cannot group by 'email'" in r.stderr and f"{CAP:,} groups" in r.stderr, r.stderr
    assert r.stdout == ""
    r = CliRunner().invoke(build_cli(p.pm), ["--db", db_url, "kpi", "compute", "people", "--by", "age", "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0 and len(json.loads(r.stdout)["groups"]) == CAP, r.stderr
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    r = client.get("/api/v1/kpis/people?by=email", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (400, 422) and r.mimetype == "application/problem+json", r.get_data(as_text=True)
    assert r.json["errors"][0]["pointer"] == "/query/by" and "cannot group by 'email'" in r.json["detail"]

