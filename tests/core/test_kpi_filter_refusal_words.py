"""A KPI whose ``where`` is refused says "invalid filter" once: the filter's own refusal
starts with those words, and ``xrm kpi add`` printed "has an invalid filter: invalid filter: …"."""
from __future__ import annotations

import pytest

from xrm_core import kpis
from xrm_core.errors import DefinitionError


def test_a_refused_kpi_filter_is_worded_once(org):
    with org.connection() as conn, pytest.raises(DefinitionError) as caught:
        kpis.add(org, conn, {"name": "adults", "label": "Adults", "entity": "person",
                             "measure": {"count": True}, "where": {"no_such_field": 1}})
    message = caught.value.message
    assert message.startswith("KPI 'adults' has an invalid filter: "), message
    assert "invalid filter: invalid filter" not in message
    assert "no_such_field" in message
    assert caught.value.errors and caught.value.errors[0]["pointer"].endswith("/no_such_field")
