"""vrm_suppliers — parts suppliers (VRM): suppliers, parts, supply agreements (SLAs),
deliveries and defect reports, with the supplier KPIs of DESIGN.md §7.

An ordinary plugin, registered on the ``xrm.plugins`` entry point as ``vrm_suppliers`` and
using only the public API of ``xrm_core``. It stands alone: it names no other plugin's types
(a defect report refers to a customer case or warranty claim by its number). A new defect
report is forwarded to its supplier (:mod:`xrm_vrm_suppliers.defects`) through the supplier
outbox (:mod:`xrm_vrm_suppliers.outbox`, transport hook ``xrm_vrm_send_notification``).
"""
from __future__ import annotations

import json
from importlib.resources import files

from xrm_core import hookimpl

from .automations import xrm_addhooks, xrm_record_event  # noqa: F401 — defect forwarding
from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data

from .kpis import KPI_CLASSES
from .outbox import xrm_vrm_send_notification  # noqa: F401 — the default (log-only) transport


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
