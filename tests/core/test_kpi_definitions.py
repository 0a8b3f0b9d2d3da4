"""Declarative KPI definitions checked against their entity type: time fields must be date or
date-time strings (however the schema says so), measures need fields of the right type, ``in``
belongs to ``avg_duration`` only; the same checks apply to admin KPIs and plugin KPIs.

Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, on PostgreSQL.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from xrm_core import DefinitionError, db, kpis
from xrm_core.plugins import hookimpl

PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"

VISIT = {
    "name": "visit", "title_field": "topic",
    "schema": {
        "type": "object",
        "$defs": {"day": {"type": "string", "format": "date"}},
        "properties": {
            "topic": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "score": {"type": "integer"},
            "amount": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "at": {"type": "string", "format": "date-time"},
            "on": {"$ref": "common.json#/$defs/date"},
            "ended_at": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/datetime"},
            "day": {"$ref": "#/$defs/day"},
            "maybe_on": {"type": ["string", "null"], "format": "date"},
            "or_null": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            "date_or_time": {"oneOf": [{"type": "string", "format": "date"},
                                       {"type": "string", "format": "date-time"}]},
            "all_of": {"allOf": [{"type": "string"}, {"format": "date-time"}]},
            "date_or_text": {"anyOf": [{"type": "string", "format": "date"}, {"type": "string"}]},
            "untyped_date": {"format": "date"},
            "place": {"type": "object", "properties": {"since": {"type": "string", "format": "date"},
                                                       "name": {"type": "string"}}},
        },
        "required": ["topic"],
    },
}

#: Fields a KPI may use as a time (time_field, avg_duration): strings of format date or
#: date-time, or of no format (the contract asks none; ISO text compares as dates).
TIME_FIELDS = ["at", "on", "ended_at", "day", "maybe_on", "or_null", "date_or_time", "all_of", "place.since",
               "topic", "place.name", "date_or_text"]

#: Fields it may not, with what the error must say of each.
NOT_TIME_FIELDS = [
    ("email", "'email' is a string of format email"),
    ("score", "'score' is integer"),
    ("amount", "'amount' is number"),
    ("tags", "'tags' is array"),
    ("place", "'place' is object"),
    ("untyped_date", "'untyped_date' is of no single JSON type"),  # numbers pass `format` unchecked
]


class VisitPlugin:
    __name__ = "testvisit"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [VISIT]


def kpi_plugin(name: str, *definitions: dict):
    """A plugin (named ``name``) declaring the visit type and ``definitions`` as its KPIs."""
    class Plugin(VisitPlugin):
        __name__ = name

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return list(definitions)
    return Plugin()


@pytest.fixture
def platform(make_platform):
    return make_platform(VisitPlugin())


def add(platform, definition: dict) -> dict:
    with platform.connection() as conn:
        return kpis.add(platform, conn, definition)


def refused(platform, definition: dict) -> DefinitionError:
    with pytest.raises(DefinitionError) as e:
        add(platform, definition)
    return e.value


def stored(platform) -> list[str]:
    with platform.connection() as conn:
        return conn.execute(select(db.kpi_definitions.c.name).order_by(db.kpi_definitions.c.name)).scalars().all()


# -- time fields -------------------------------------------------------------------------
@pytest.mark.parametrize("field", TIME_FIELDS)
def test_date_and_date_time_fields_are_time_fields(platform, field):
    add(platform, {"name": "k", "entity": "visit", "time_field": field, "measure": {"count": True}})
    add(platform, {"name": "d", "entity": "visit", "measure": {"avg_duration": [field, "at"]}, "in": "days"})
    assert stored(platform) == ["d", "k"]


@pytest.mark.parametrize("field, says", NOT_TIME_FIELDS)
def test_other_fields_are_refused_as_time_field_with_their_type(platform, field, says):
    e = refused(platform, {"name": "kb5", "entity": "visit", "time_field": field, "measure": {"count": True}})
    assert e.errors == [{"pointer": "/time_field",
                         "message": f"{says}; it must be a date or date-time string field"}]
    assert "kb5" in e.message and "visit" in e.message
    e = refused(platform, {"name": "kb5", "entity": "visit", "measure": {"avg_duration": ["at", field]}})
    assert [(x["pointer"], x["message"].split(";")[0]) for x in e.errors] == [("/measure/avg_duration/1", says)]
    assert stored(platform) == []


def test_a_time_field_of_another_format_is_refused_and_a_date_field_computes(platform):
    e = refused(platform, {"name": "kb5", "entity": "visit", "time_field": "email", "measure": {"count": True}})
    assert e.errors[0]["pointer"] == "/time_field" and "'email' is a string of format email" in e.errors[0]["message"]
    with platform.session() as s:
        for topic, on in [("a", "2024-12-31"), ("b", "2025-01-01"), ("c", "2025-02-01")]:
            s.create("visit", {"topic": topic, "on": on})
    add(platform, {"name": "kb5", "entity": "visit", "time_field": "on", "measure": {"count": True}})
    with platform.session(write=False) as s:
        assert kpis.compute(s, "kb5", "2025-01-01")["n"] == 2
    assert stored(platform) == ["kb5"]


def test_every_misfit_field_is_reported_at_once(platform):
    e = refused(platform, {"name": "k", "entity": "visit", "time_field": "score",
                           "measure": {"avg_duration": ["email", "nope"]}})
    assert [x["pointer"] for x in e.errors] == ["/time_field", "/measure/avg_duration/0", "/measure/avg_duration/1"]
    assert e.errors[2]["message"] == "'nope' is not a field of visit"


# -- measure fields ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sum", "avg", "median", "nps"])
def test_numeric_measures_need_numeric_fields(platform, kind):
    for field in ("score", "amount"):
        add(platform, {"name": f"k_{field}", "entity": "visit", "measure": {kind: field}})
    for field, says in [("topic", "'topic' is a string"),
                        ("at", "'at' is a string of format date-time"), ("tags", "'tags' is array")]:
        e = refused(platform, {"name": "bad", "entity": "visit", "measure": {kind: field}})
        assert e.errors == [{"pointer": f"/measure/{kind}", "message": f"{says}; {kind} needs a numeric field"}]
    assert stored(platform) == ["k_amount", "k_score"]


# -- "in" --------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", [{"count": True}, {"sum": "score"}, {"avg": "score"}, {"median": "score"},
                                     {"nps": "score"}, {"share": {"topic": "a"}},
                                     {"ratio": {"numerator": {"topic": "a"}, "denominator": {}}}])
def test_in_is_refused_on_measures_other_than_avg_duration(platform, measure):
    e = refused(platform, {"name": "k", "entity": "visit", "measure": measure, "in": "hours"})
    kind = next(iter(measure))
    assert e.errors == [{"pointer": "/in", "message": f"only avg_duration takes a time unit, not {kind}"}]
    assert stored(platform) == []


def test_in_converts_avg_duration(platform):
    with platform.session() as s:
        s.create("visit", {"topic": "a", "at": "2024-03-01T08:00:00Z", "ended_at": "2024-03-01T09:30:00Z"})
    for unit, value in [("minutes", 90), ("hours", 1.5), (None, 1.5)]:
        add(platform, {"name": "took", "entity": "visit", "measure": {"avg_duration": ["at", "ended_at"]},
                       **({"in": unit} if unit else {})})
        with platform.session(write=False) as s:
            assert kpis.compute(s, "took")["value"] == value, unit


# -- plugin KPIs -------------------------------------------------------------------------
@pytest.mark.parametrize("definition, pointer, says", [
    ({"name": "b", "entity": "visit", "time_field": "email", "measure": {"count": True}},
     "/time_field", "'email' is a string of format email"),
    ({"name": "b", "entity": "visit", "measure": {"avg_duration": ["on", "score"]}},
     "/measure/avg_duration/1", "'score' is integer"),
    ({"name": "b", "entity": "visit", "measure": {"count": True}, "in": "days"},
     "/in", "only avg_duration takes a time unit, not count"),
])
def test_plugin_kpis_get_the_same_checks_at_init(make_platform, definition, pointer, says):
    p = make_platform(kpi_plugin("badkpis", definition), init=False)
    with pytest.raises(DefinitionError) as e:
        p.init()
    assert "badkpis" in e.value.message
    assert e.value.errors[0]["pointer"] == pointer and e.value.errors[0]["message"].startswith(says)


def test_built_in_plugin_kpis_pass_the_checks(make_platform):
    declared = {}
    for path in sorted(PLUGINS_DIR.glob("*/kpis.json")):
        for d in json.loads(path.read_text(encoding="utf-8")):
            declared[d["name"]] = path.parent.name
    assert declared, "no plugins/*/kpis.json found"
    p = make_platform(entry_points=True)  # init() checks every plugin KPI; a misfit raises
    with p.connection() as conn:
        registry = kpis.registry(p, conn)
    for name, plugin in declared.items():
        assert isinstance(registry[name], kpis.DeclarativeKPI), name
        assert registry[name].source == plugin, name
