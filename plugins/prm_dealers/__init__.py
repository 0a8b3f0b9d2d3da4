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

from xrm_core import json_definitions

from .automations import xrm_record_event  # noqa: F401 — lead assignment
from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data



# xrm_entity_types … xrm_kpis: the JSON files beside this module (types/, *.json), then the
# Python KPIs of kpis.py (imported when first asked for: they need SQLAlchemy).
globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))
