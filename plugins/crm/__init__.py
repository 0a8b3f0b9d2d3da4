"""crm — the end customer: customers, vehicles, leads, opportunities, cases (requests and
complaints), campaigns and contracts, with the customer KPIs of DESIGN.md §7.

An ordinary plugin, registered on the ``xrm.plugins`` entry point as ``crm`` and using only
the public API of ``xrm_core``. Definitions are JSON files beside this module (``types/``,
``relationship_types.json``, ``activity_kinds.json``, ``roles.json``, ``kpis.json``); the
Python KPIs are in :mod:`xrm_crm.kpis`; the automations in :mod:`xrm_crm.automations` and
:mod:`xrm_crm.cases`, the customer outbox in :mod:`xrm_crm.outbox` (transport hook
``xrm_crm_send_notification``, declared in :mod:`xrm_crm.hookspecs`). docs/data-model.md
describes them.
"""
from __future__ import annotations

from xrm_core import json_definitions

from .automations import xrm_addhooks, xrm_record_event  # noqa: F401 — hooks live with their code
from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data
from .funnel import xrm_cli_commands  # noqa: F401 — `xrm crm funnel`

from .outbox import xrm_crm_send_notification  # noqa: F401 — the default (log-only) transport


# xrm_entity_types … xrm_kpis: the JSON files beside this module (types/, *.json), then the
# Python KPIs of kpis.py (imported when first asked for: they need SQLAlchemy).
globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))
