"""prm_dealers — the dealer and service network (PRM): dealers, service receptions, dealer
stock, sales targets and reports, warranty claims, with the dealer KPIs of DESIGN.md §7.

An ordinary plugin, registered on the ``xrm.plugins`` entry point as ``prm_dealers`` and
using only the public API of ``xrm_core``. It builds on the crm plugin's types (customer,
vehicle, lead, case): its relationship types, roles and lead KPIs name them, so ``xrm init``
refuses it without crm. Dealers map to units: HQ → region → dealer, a dealer's unit named by
its dealer code (docs/data-model.md). New leads are assigned to a dealer of their region
(:mod:`xrm_prm_dealers.leads`).
"""
from __future__ import annotations

import json
from importlib.resources import files

from xrm_core import hookimpl

from .automations import xrm_record_event  # noqa: F401 — lead assignment
from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data

from .kpis import KPI_CLASSES


def _json(name: str):
    return json.loads(files(__name__).joinpath(name).read_text(encoding="utf-8"))


@hookimpl
def xrm_entity_types():
    folder = files(__name__).joinpath("types")
    return [json.loads(f.read_text(encoding="utf-8"))
            for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".json")]


@hookimpl
def xrm_relationship_types():
    return _json("relationship_types.json")


@hookimpl
def xrm_activity_kinds():
    return _json("activity_kinds.json")


@hookimpl
def xrm_roles():
    return _json("roles.json")


@hookimpl
def xrm_kpis():
    return _json("kpis.json") + [cls() for cls in KPI_CLASSES]
