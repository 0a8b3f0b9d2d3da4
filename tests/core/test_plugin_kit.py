"""The plugin kit of the public API: ``json_definitions``, ``call_all``, ``call_first``, ``times`` and the
KPI building blocks of ``KPIContext`` (``aggregate``, ``measure``, ``share``, ``ratio``,
``summarise``, ``all_time``, ``bytewise``)."""
from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import case, func, inspect, select

from xrm_core import (
    KPI, DefinitionError, PluginError, ValidationError, call_all, call_first, hookimpl, hookspec, json_definitions, times,
)
from xrm_core.plugins import make_plugin_manager

TICKET = {"name": "ticket", "title_field": "subject",
          "schema": {"type": "object", "required": ["subject"],
                     "properties": {"subject": {"type": "string"}, "team": {"type": "string"},
                                    "hours": {"type": "number"}, "opened": {"type": "string"},
                                    "open": {"type": "boolean"}}}}
SHIFT = {"name": "shift", "title_field": "team",
         "schema": {"type": "object", "required": ["team"],
                    "properties": {"team": {"type": "string"}, "day": {"type": "string"},
                                   "staff": {"type": "integer"}}}}


class Counted(KPI):
    name = "counted"
    entity = "ticket"

    def compute(self, ctx):
        return ctx.measure("ticket", func.count(), func.count())


# -- json_definitions --------------------------------------------------------------------
def test_json_definitions_reads_each_file_and_missing_ones_mean_none(make_package):
    pkg = make_package({"types/b_shift.json": SHIFT, "types/a_ticket.json": TICKET, "types/notes.txt": "ignored",
                        "roles.json": [{"name": "desk", "grants": []}],
                        "kpis.json": [{"name": "tickets", "entity": "ticket", "measure": {"count": True}}]})
    hooks = json_definitions(pkg, kpis=[Counted])
    assert sorted(hooks) == ["xrm_activity_kinds", "xrm_entity_types", "xrm_kpis", "xrm_relationship_types",
                             "xrm_roles"]
    assert all(hasattr(fn, "xrm_impl") and fn.__name__ == name for name, fn in hooks.items())
    assert [t["name"] for t in hooks["xrm_entity_types"]()] == ["ticket", "shift"]  # file-name order
    assert hooks["xrm_roles"]() == [{"name": "desk", "grants": []}]
    assert hooks["xrm_relationship_types"]() == [] and hooks["xrm_activity_kinds"]() == []
    first, second = hooks["xrm_kpis"](), hooks["xrm_kpis"]()
    assert first[0]["name"] == "tickets" and isinstance(first[1], Counted)
    assert first[1] is not second[1], "a KPI class is instantiated on every call"


def test_json_definitions_of_a_package_without_files(make_package):
    obj = Counted()
    hooks = json_definitions(make_package({}), kpis=[obj])
    assert hooks["xrm_entity_types"]() == []
    assert hooks["xrm_kpis"]() == [obj]


@pytest.mark.parametrize("rel, text, expected", [
    ("roles.json", '[{"name": "desk",\n  "grants": [}]', "roles.json: invalid JSON at line 2, column"),
    ("kpis.json", '{"name": "x"}', "kpis.json: must hold an array (a JSON object found)"),
    ("types/t.json", '[]', "types/t.json: must hold an object (a JSON array found)"),
])
def test_json_definitions_names_the_bad_file(make_package, rel, text, expected):
    pkg = make_package({rel: text})
    hook = {"roles.json": "xrm_roles", "kpis.json": "xrm_kpis", "types/t.json": "xrm_entity_types"}[rel]
    with pytest.raises(DefinitionError) as e:
        json_definitions(pkg)[hook]()
    assert f"{pkg}: {expected}" in e.value.message


def test_a_module_binding_the_hooks_is_a_plugin(make_package, make_platform):
    pkg = make_package({"types/ticket.json": TICKET, "activity_kinds.json": [{"name": "call", "label": "Call"}],
                        "kpis.json": [{"name": "tickets", "entity": "ticket", "measure": {"count": True}}]})
    module = types.ModuleType(f"{pkg}.plugin")
    vars(module).update(json_definitions(pkg, kpis=[Counted]))
    platform = make_platform(module)
    with platform.session() as s:
        s.create("ticket", {"subject": "printer"})
        assert s.kpi("tickets")["value"] == 1
        assert s.kpi("counted")["value"] == 1


def test_a_bad_file_keeps_init_from_changing_anything(make_package, make_platform):
    pkg = make_package({"types/ticket.json": '{"name": "ticket",'})
    module = types.ModuleType(f"{pkg}.plugin")
    vars(module).update(json_definitions(pkg))
    platform = make_platform(module, init=False)
    with pytest.raises(DefinitionError, match="types/ticket.json: invalid JSON at line 1"):
        platform.init(admin_password="secret")
    # init is one transaction: not even the core tables were created
    assert [t for t in inspect(platform.engine).get_table_names() if t.startswith("xrm_")] == []


# -- call_first ----------------------------------------------------------------------------
class Spec:
    @staticmethod
    @hookspec(firstresult=True)
    def xrm_kit_send(to, message):
        """Test hook."""


def _pm(*impls):
    pm = make_plugin_manager(load_entry_points=False)
    pm.add_hookspecs(Spec)
    for name, fn in impls:
        pm.register(types.SimpleNamespace(xrm_kit_send=hookimpl(fn)), name)
    return pm


def test_call_first_returns_the_first_answer_in_pluggy_order():
    calls = []
    pm = _pm(("log", lambda to: calls.append("log") or {"via": "log"}),
             ("silent", lambda to, message: calls.append("silent")),  # None: the next one answers
             ("mail", lambda to, message: calls.append("mail") or {"via": "mail", "to": to}))
    assert call_first(pm, "xrm_kit_send", to="a@example.org", message="hi") == {"via": "mail", "to": "a@example.org"}
    assert calls == ["mail"]  # registered last, called first, as pluggy does
    assert call_first(_pm(), "xrm_kit_send", to="x", message="y") is None


def test_call_first_names_a_failing_plugin_and_passes_refusals_through():
    def broken(to, message):
        raise RuntimeError("smtp down")

    with pytest.raises(PluginError) as e:
        call_first(_pm(("mailer", broken)), "xrm_kit_send", to="x", message="y")
    assert "mailer" in str(e.value) and "smtp down" in str(e.value)

    def refuse(to):
        raise ValidationError("no address")

    with pytest.raises(ValidationError, match="no address"):
        call_first(_pm(("strict", refuse)), "xrm_kit_send", to="x", message="y")


def test_call_all_returns_every_answer_and_names_the_listener_that_crashes():
    pm = _pm(("log", lambda to: {"via": "log"}), ("silent", lambda to, message: None),
             ("mail", lambda to, message: {"via": "mail", "to": to}))
    assert call_all(pm, "xrm_kit_send", to="a", message="hi") == [{"via": "mail", "to": "a"}, {"via": "log"}]
    assert call_all(_pm(), "xrm_kit_send", to="x", message="y") == []

    def broken(to, message):
        raise KeyError("listener-boom")

    with pytest.raises(PluginError) as e:
        call_all(_pm(("log", lambda to: None), ("listener", broken)), "xrm_kit_send", to="x", message="y")
    assert e.value.plugin == "listener" and "listener-boom" in str(e.value)
    with pytest.raises(ValidationError, match="no"):
        call_all(_pm(("strict", lambda to: (_ for _ in ()).throw(ValidationError("no")))), "xrm_kit_send",
                 to="x", message="y")


# -- times -------------------------------------------------------------------------------
def test_times_now_is_utc_to_the_second():
    text = times.now()
    assert text.endswith("Z") and len(text) == 20
    parsed = times.parse(text)
    assert parsed.tzinfo == timezone.utc
    assert abs(datetime.now(timezone.utc) - parsed) < timedelta(seconds=5)


def test_times_parse_accepts_rfc3339_forms():
    assert times.parse("2024-03-01t08:00:00.123456789z") == datetime(2024, 3, 1, 8, 0, 0, 123456, timezone.utc)
    assert times.parse("2024-03-01T08:00:00+03:30").utcoffset() == timedelta(hours=3, minutes=30)
    with pytest.raises(ValueError):
        times.parse("yesterday")


def test_times_arithmetic_keeps_offsets():
    assert times.add_hours("2024-03-01T08:00:00Z", 48) == "2024-03-03T08:00:00Z"
    assert times.add_hours("2024-03-01T23:30:00+03:30", 1.5) == "2024-03-02T01:00:00+03:30"
    assert times.hours_between("2024-03-01T08:00:00Z", "2024-03-01T10:20:00Z") == 2.33
    assert times.hours_between("2024-03-01T08:00:00+02:00", "2024-03-01T08:00:00Z") == 2.0
    assert times.iso(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2024-01-02T03:04:05Z"


# -- KPIContext building blocks ------------------------------------------------------------
class Kit(KPI):
    """Runs one building block, chosen by name, over tickets and shifts."""

    entity = "ticket"
    time_field = "opened"

    def __init__(self, name, block):
        self.name, self.block = name, block

    def compute(self, ctx):
        return self.block(ctx)


def _hours(ctx):
    return ctx.measure("ticket", func.avg(ctx.field("ticket", "hours")), func.count(ctx.field("ticket", "hours")))


def _open_share(ctx):
    return ctx.share("ticket", ctx.field("ticket", "hours").isnot(None), ctx.field("ticket", "open").is_(True))


def _per_staff(ctx):
    return ctx.ratio(("ticket", func.count()), ("shift", func.sum(ctx.field("shift", "staff")), None, "day"), 1.0)


def _all_time_count(ctx):
    return ctx.all_time().measure("ticket", func.count(), func.count())


def _max_per_team(ctx):
    key = ctx.group_key("ticket")
    hours = ctx.field("ticket", "hours")
    rows = (select(*([key.label("k")] if key is not None else []), func.max(hours).label("m"))
            .where(ctx.base("ticket")).group_by(ctx.field("ticket", "team")).subquery())
    return ctx.summarise(rows, func.sum(rows.c.m), func.count())


def _late(ctx):
    opened = ctx.bytewise(ctx.field("ticket", "opened"))
    (n,), _ = ctx.aggregate("ticket", func.sum(case((opened >= "2024-03-02", 1), else_=0)))
    return {"value": n, "n": 1, "groups": []}


@pytest.fixture
def desk(make_platform):
    class Desk:
        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [TICKET, SHIFT]

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return [Kit("hours", _hours), Kit("open_share", _open_share), Kit("per_staff", _per_staff),
                    Kit("all_time", _all_time_count), Kit("max_per_team", _max_per_team), Kit("late", _late)]

    platform = make_platform(Desk())
    with platform.session() as s:
        for subject, team, hours, opened, is_open in [
                ("a", "red", 2, "2024-02-28T10:00:00Z", False), ("b", "red", 4, "2024-03-01T10:00:00Z", True),
                ("c", "red", 6, "2024-03-02T09:00:00Z", False), ("d", "blue", None, "2024-03-02T11:00:00Z", True),
                ("e", "blue", 10, "2024-03-03T12:00:00Z", True)]:
            data = {"subject": subject, "team": team, "opened": opened, "open": is_open}
            if hours is not None:
                data["hours"] = hours
            s.create("ticket", data)
        for team, day, staff in [("red", "2024-03-01", 2), ("red", "2024-03-02", 3), ("blue", "2024-03-03", 5),
                                 ("blue", "2024-02-01", 9)]:
            s.create("shift", {"team": team, "day": day, "staff": staff})
    return platform


def _kpi(platform, name, **kw):
    with platform.session() as s:
        result = s.kpi(name, kw.get("date_from"), kw.get("date_to"), kw.get("by"))
    return result["value"], result["n"], {g["key"]: (g["value"], g["n"]) for g in result["groups"]}


def test_measure_honours_period_and_groups(desk):
    assert _kpi(desk, "hours") == (5.5, 4, {})
    assert _kpi(desk, "hours", date_from="2024-03-01", by="team") == (6.666667, 3, {"red": (5, 2), "blue": (10, 1)})


def test_share_counts_only_the_counted(desk):
    # tickets with hours: a, b, c, e; open among them: b, e
    assert _kpi(desk, "open_share") == (50, 4, {})
    assert _kpi(desk, "open_share", by="team", date_from="2024-03-01") == (
        66.666667, 3, {"red": (50, 2), "blue": (100, 1)})


def test_ratio_pairs_two_entity_types_by_group(desk):
    # March 1–2: tickets b, c, d (3) over staff 2 + 3 (5 staff on 2 shifts)
    assert _kpi(desk, "per_staff", date_from="2024-03-01", date_to="2024-03-02") == (0.6, 2, {})
    assert _kpi(desk, "per_staff", date_from="2024-03-01", date_to="2024-03-02", by="team") == (
        0.6, 2, {"red": (0.4, 2), "blue": (None, 0)})  # blue had a ticket but no shift in the period
    assert _kpi(desk, "per_staff", date_to="2024-01-31") == (None, 0, {})


def test_all_time_ignores_the_default_period(desk):
    assert _kpi(desk, "all_time", date_from="2024-03-03") == (5, 5, {})


def test_summarise_aggregates_a_subquery_per_group(desk):
    # per team: red max 6, blue max 10
    assert _kpi(desk, "max_per_team") == (16, 2, {})
    assert _kpi(desk, "max_per_team", by="team") == (16, 2, {"blue": (10, 1), "red": (6, 1)})


def test_bytewise_compares_iso_text(desk):
    assert _kpi(desk, "late")[0] == 3
