"""A KPI added or removed, or a type changed, by another process (``xrm kpi add`` beside a
running ``xrm serve``, another worker) is seen by the next computation: the registry was
kept per process until a restart, so docs/deployment.md's "picked up by every process
without a restart" was not true. Two Platform objects on one database stand for two
processes."""
from __future__ import annotations

import pytest

from xrm_core import kpis
from xrm_core.errors import NotFound

from conftest import PersonPlugin

AVG_AGE = {"name": "avg_age", "label": "Average age", "unit": "years", "entity": "person",
           "measure": {"avg": "age"}}


def test_a_kpi_added_and_removed_elsewhere_is_seen_without_a_restart(make_platform):
    serving = make_platform(PersonPlugin())
    cli = make_platform(PersonPlugin(), init=False)  # the same database, another "process"
    with serving.session("admin") as s:
        s.create("person", {"name": "Ada", "age": 36})
        s.create("person", {"name": "Bob", "age": 20})
    with serving.connection() as conn:
        assert "avg_age" not in kpis.registry(serving, conn)  # the registry is built and kept
    with cli.connection() as conn:
        kpis.add(cli, conn, AVG_AGE)
    with serving.session("admin") as s:
        assert kpis.compute(s, "avg_age")["value"] == 28.0
    with cli.connection() as conn:
        kpis.remove(cli, conn, "avg_age")
    with serving.session("admin") as s, pytest.raises(NotFound):
        kpis.compute(s, "avg_age")


def test_the_registry_is_kept_while_nothing_changed(make_platform):
    p = make_platform(PersonPlugin())
    with p.connection() as conn:
        first = kpis.registry(p, conn)
        assert kpis.registry(p, conn) is first
