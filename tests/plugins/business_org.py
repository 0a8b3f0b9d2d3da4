"""Shared fixtures of the business-plugin tests: one platform per test module and engine with
the four plugins and a small dealer network, emptied of records after each test.

Import into a test module (pytest finds imported fixtures)::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from business_org import add, business_platform, kpi, net  # noqa: F401

Building a platform with 22 entity types takes a second or more (PostgreSQL DDL), so it is
done once per module; ``net`` deletes the records and relationships a test created.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete

import xrm_crm
import xrm_prm_dealers
import xrm_voc
import xrm_vrm_suppliers
from conftest import ENGINES, PG_URL
from xrm_core import Platform, accounts, db, kpis
from xrm_core.plugins import make_plugin_manager

PLUGINS = (xrm_crm, xrm_prm_dealers, xrm_vrm_suppliers, xrm_voc)

#: root > hq > north > D01, D02 and hq > south > D03 (a dealer's unit is named by its code).
UNITS = [("hq", None), ("north", "hq"), ("south", "hq"), ("D01", "north"), ("D02", "north"), ("D03", "south")]

#: (user, unit, role): the plugins' roles at each level of the tree.
USERS = [
    ("analyst", "hq", "hq_analyst"), ("cc", "hq", "call_center_agent"),
    ("sqe", "hq", "supplier_quality_engineer"), ("vocan", "hq", "voc_analyst"),
    ("north_rm", "north", "regional_manager"),
    ("mgr1", "D01", "dealer_manager"), ("agent1", "D01", "dealer_agent"), ("agent1b", "D01", "dealer_agent"),
    ("mgr2", "D02", "dealer_manager"), ("mgr3", "D03", "dealer_manager"),
]


@pytest.fixture(scope="module", params=ENGINES)
def business_platform(request, tmp_path_factory):
    """An initialised platform with the four plugins, the units and the users (no passwords:
    hashing is slow and these tests act through sessions)."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path_factory.mktemp('business') / 'xrm.db'}", None
    else:
        schema = f"xrm_t_{uuid.uuid4().hex[:12]}"
        admin = db.make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        admin.dispose()
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    p = Platform(url, pm=make_plugin_manager(load_entry_points=False, plugins=PLUGINS))
    p.init()
    with p.connection() as conn:
        for unit, parent in UNITS:
            accounts.create_unit(conn, unit, parent)
        for user, unit, role in USERS:
            accounts.create_user(conn, user, unit, [role])
    yield p
    p.dispose()
    if schema:
        admin = db.make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def net(business_platform):
    """The module's platform, emptied of records and relationships after the test (the
    append-only history stays; no KPI reads it)."""
    yield business_platform
    with business_platform.connection() as conn:
        conn.execute(delete(db.relationships))
        conn.execute(delete(db.records))


def add(p, type_name, rows, unit=None, user="admin"):
    """Create ``rows`` in one session as ``user`` (a row may carry its own ``_unit``); their ids."""
    with p.session(user) as s:
        return [s.create(type_name, {k: v for k, v in r.items() if k != "_unit"}, unit=r.get("_unit", unit)).id
                for r in rows]


def kpi(p, name, user="admin", **kw):
    """``kpis.compute`` as ``user`` (date_from, date_to, by as keywords)."""
    with p.session(user, write=False) as s:
        return kpis.compute(s, name, **kw)


def groups(result):
    """A KPI result's groups as {key: (value, n)}."""
    return {g["key"]: (g["value"], g["n"]) for g in result["groups"]}
