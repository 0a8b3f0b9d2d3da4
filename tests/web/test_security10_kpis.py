"""Security review 10, REST KPIs: today's ``waiting`` KPIs (``web/api_kpis.py``) and duck-typed
KPI objects (``kpi_registry.ObjectKPI``), attacked by a user who may not read the KPI's
entity type.

Pinned (they hold): a waiting KPI over a type the caller may not read is neither listed
nor answered 503 (403, as a ready one); the 503 path reads the period as the normal path
does (a bad or reversed period is a 400 first); a waiting KPI is listed in exactly the
shape of its ready self; a ready duck-typed KPI follows the caller's grants as a KPI
subclass does, and its ``compute`` gets the caller's scope and period.
Was a hole, closed: a waiting KPI whose declaration the stand-in cannot read — a
duck-typed object (no ``to_dict``) or a malformed dict — loses its ``entity``, so every
user sees it in the list, with its plugin and the reason naming its entity type, and gets
the 503 instead of the 403.
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import KPI, accounts, kpis
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

SALARY = {"name": "salary", "label": "Salary", "title_field": "who",
          "schema": {"type": "object", "required": ["who", "amount"],
                     "properties": {"who": {"type": "string"}, "amount": {"type": "number"},
                                    "paid_on": {"type": "string", "format": "date"}}}}


class DuckPayroll:
    """A duck-typed KPI object (no KPI subclass, no to_dict): DESIGN §3 accepts it."""

    name = "payroll_total"
    label = "Payroll total"
    unit = "EUR"
    entity = "salary"
    time_field = "paid_on"

    def compute(self, ctx):
        base = ctx.base("salary")
        seen = ctx.session.list("salary", limit=1000)
        DuckPayroll.calls.append((ctx.session.actor.name, ctx.date_from, ctx.date_to, len(seen)))
        from sqlalchemy import func, select

        from xrm_core import db
        amount = ctx.field("salary", "amount")
        n, total = ctx.session.conn.execute(select(func.count(), func.sum(amount)).select_from(db.records)
                                            .where(base)).one()
        return {"value": total, "n": n, "groups": []}

    calls: list = []


class SubclassPayroll(KPI):
    name = "payroll_count"
    label = "Payroll count"
    entity = "salary"

    def compute(self, ctx):  # pragma: no cover — only listed here
        return {"value": None, "n": 0, "groups": []}


class PayrollPlugin:
    __name__ = "sec10_payroll"
    kpis: list = []

    @hookimpl
    def xrm_entity_types(self):
        return [SALARY]

    @hookimpl
    def xrm_kpis(self):
        return self.kpis


def _plugin(*items) -> PayrollPlugin:
    plugin = PayrollPlugin()
    plugin.kpis = list(items)
    return plugin


def _users(p) -> dict:
    known = set(kpis_types(p))
    with p.connection() as conn:
        accounts.create_role(conn, "everything")
        accounts.grant(conn, "everything", "*", ["read"], "all", known)
        accounts.create_role(conn, "persons")
        accounts.grant(conn, "persons", "person", ["read", "create"], "all", known)
        accounts.create_user(conn, "hr", accounts.ROOT_UNIT, ["everything"], "pw")
        accounts.create_user(conn, "clerk", accounts.ROOT_UNIT, ["persons"], "pw")
        return {u: accounts.create_token(conn, u) for u in ("admin", "hr", "clerk")}


def kpis_types(p) -> list[str]:
    from xrm_core import entity_types
    with p.connection() as conn:
        return list(entity_types.load_all(conn))


def _waiting(make_platform, *items):
    """(platform, client, tokens): the payroll plugin installed since the last init."""
    first = make_platform(PersonPlugin())
    tokens = _users(first)
    p = make_platform(PersonPlugin(), _plugin(*items), init=False)
    return p, create_app(p, {"TESTING": True}).test_client(), tokens


def _get(client, token, path):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


def _names(client, token) -> list[str]:
    r = _get(client, token, "/kpis")
    assert r.status_code == 200, r.get_data(as_text=True)
    return [k["name"] for k in r.json]


DECLARED = {"name": "payroll_sum", "label": "Payroll", "entity": "salary", "time_field": "paid_on",
            "measure": {"sum": "amount"}}


# -- pinned -----------------------------------------------------------------------------------
@pytest.mark.parametrize("item", [DECLARED, SubclassPayroll()], ids=["dict", "subclass"])
def test_a_waiting_kpi_over_an_unreadable_type_is_hidden_and_refused_like_a_ready_one(make_platform, item):
    p, client, tokens = _waiting(make_platform, item)
    name = item["name"] if isinstance(item, dict) else item.name
    assert name in _names(client, tokens["hr"])
    assert _get(client, tokens["hr"], f"/kpis/{name}").status_code == 503
    assert _names(client, tokens["clerk"]) == []
    r = _get(client, tokens["clerk"], f"/kpis/{name}")
    assert r.status_code == 403 and "kpi" not in r.json and "sec10_payroll" not in r.json["detail"]
    # The same after `xrm init`: the ready KPI answers the clerk exactly as the waiting one did.
    p.init()
    assert _names(client, tokens["clerk"]) == []
    ready = _get(client, tokens["clerk"], f"/kpis/{name}")
    assert ready.status_code == 403 and ready.json["detail"] == r.json["detail"]


@pytest.mark.parametrize("query, pointer", [("from=2026-02-30", "/query/from"), ("to=tomorrow", "/query/to"),
                                            ("from=2026-05-01&to=2026-04-01", None)])
def test_the_503_path_reads_the_period_first_as_the_normal_path_does(make_platform, query, pointer):
    p, client, tokens = _waiting(make_platform, DECLARED)
    for user in ("hr", "clerk"):
        r = _get(client, tokens[user], f"/kpis/payroll_sum?{query}")
        assert r.status_code == 400, (user, r.get_data(as_text=True))
        if pointer:
            assert pointer in r.get_data(as_text=True)


def test_a_waiting_kpi_is_listed_in_the_shape_of_its_ready_self(make_platform):
    p, client, tokens = _waiting(make_platform, DECLARED, SubclassPayroll())
    waiting = {k["name"]: k for k in _get(client, tokens["hr"], "/kpis").json}
    p.init()
    ready = {k["name"]: k for k in _get(client, tokens["hr"], "/kpis").json}
    for name in ("payroll_sum", "payroll_count"):
        assert set(waiting[name]) - {"waiting"} == set(ready[name]), name
        assert {k: v for k, v in waiting[name].items() if k != "waiting"} == ready[name]


def test_a_ready_duck_typed_kpi_follows_the_grants_and_computes_in_the_callers_scope(make_platform):
    p = make_platform(PersonPlugin(), _plugin(DuckPayroll()))
    tokens = _users(p)
    with p.connection() as conn:
        accounts.create_unit(conn, "branch")
        accounts.create_role(conn, "own_salaries")
        accounts.grant(conn, "own_salaries", "salary", ["read", "create"], "own", {"salary", "person", "note"})
        accounts.create_user(conn, "payee", "branch", ["own_salaries"], "pw")
        tokens["payee"] = accounts.create_token(conn, "payee")
    with p.session() as s:
        s.create("salary", {"who": "boss", "amount": 9000, "paid_on": "2026-03-31"})
        s.create("salary", {"who": "boss", "amount": 9000, "paid_on": "2026-04-30"})
    with p.session("payee") as s:
        s.create("salary", {"who": "payee", "amount": 2000, "paid_on": "2026-03-31"})
    client = create_app(p, {"TESTING": True}).test_client()
    assert _names(client, tokens["clerk"]) == []
    assert _get(client, tokens["clerk"], "/kpis/payroll_total").status_code == 403
    DuckPayroll.calls.clear()
    r = _get(client, tokens["payee"], "/kpis/payroll_total?from=2026-03-01&to=2026-03-31")
    assert r.status_code == 200 and r.json["value"] == 2000 and r.json["n"] == 1
    admin = _get(client, tokens["admin"], "/kpis/payroll_total?from=2026-03-01&to=2026-03-31")
    assert admin.json["value"] == 11000 and admin.json["n"] == 2
    assert DuckPayroll.calls[0] == ("payee", "2026-03-01", "2026-03-31", 1)


# -- the hole, closed: a declaration that does not read keeps its entity ---------------------


@pytest.mark.parametrize("item", [DuckPayroll(),
                                  {**DECLARED, "name": "payroll_bad", "measure": {"no_such_measure": "amount"}}],
                         ids=["duck-typed", "malformed-dict"])
def test_a_waiting_kpi_whose_declaration_does_not_read_is_still_hidden_from_who_may_not_read_its_type(
        make_platform, item):
    p, client, tokens = _waiting(make_platform, item)
    name = item["name"] if isinstance(item, dict) else item.name
    with p.connection() as conn:
        assert name in kpis.waiting(p, conn)
    listed = _get(client, tokens["clerk"], "/kpis").json
    leaked = [k for k in listed if k["name"] == name]
    assert leaked == [], f"listed to a user who may not read salary records: {leaked}"
    assert _get(client, tokens["clerk"], f"/kpis/{name}").status_code == 403
