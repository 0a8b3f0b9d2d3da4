"""voc — the voice of the customer: surveys at each touchpoint (pre-purchase, purchase,
after-sales), scored survey responses (NPS, CSAT, CES, CSM items), free feedback and Kano
answers, with the VOC KPIs of DESIGN.md §7, the analytics commands ``xrm voc kano`` and
``xrm voc csm`` (docs/voc-analytics.md) and the closed loop (a detractor's NPS answer opens a
follow-up case for the owning dealer, :mod:`xrm_voc.closed_loop`).

An ordinary plugin, registered on the ``xrm.plugins`` entry point as ``voc`` and using only
the public API of ``xrm_core``. It builds on the crm plugin's customer and case types (its
relationship types name them), so ``xrm init`` refuses it without crm.
"""
from __future__ import annotations

from xrm_core import json_definitions

from .demo import xrm_demo_data  # noqa: F401 — the hook lives with the demo data

from .cli import xrm_cli_commands  # noqa: F401 — `xrm voc kano|csm`
from .closed_loop import xrm_record_event  # noqa: F401 — detractor follow-up cases


# xrm_entity_types … xrm_kpis: the JSON files beside this module (types/, *.json), then the
# Python KPIs of kpis.py (imported when first asked for: they need SQLAlchemy).
globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))
