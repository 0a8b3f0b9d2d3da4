"""This plugin's part of the automotive demo data set (`xrm demo`)."""
from __future__ import annotations

from xrm_core import hookimpl


@hookimpl
def xrm_demo_data(session):
    """Load the prm_dealers part of the demo data set through ``session``."""
    return None
