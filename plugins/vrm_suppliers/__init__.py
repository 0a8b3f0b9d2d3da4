"""vrm_suppliers — parts suppliers (VRM): suppliers, parts, supply agreements (SLAs),
deliveries and defect reports, with the supplier KPIs of DESIGN.md §7.

An ordinary plugin, registered on the ``xrm.plugins`` entry point as ``vrm_suppliers`` and
using only the public API of ``xrm_core``. It stands alone: it names no other plugin's types
(a defect report refers to a customer case or warranty claim by its number). A new defect
report is forwarded to its supplier (:mod:`xrm_vrm_suppliers.defects`) through the supplier
outbox (:mod:`xrm_vrm_suppliers.outbox`, transport hook ``xrm_vrm_send_notification``).
"""
from __future__ import annotations

from xrm_core import json_definitions

from .automations import xrm_addhooks, xrm_record_event  # noqa: F401 — defect forwarding
from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data

from .outbox import xrm_vrm_send_notification  # noqa: F401 — the default (log-only) transport


# xrm_entity_types … xrm_kpis: the JSON files beside this module (types/, *.json), then the
# Python KPIs of kpis.py (imported when first asked for: they need SQLAlchemy).
globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))
