"""A second third-party plugin written from docs/plugins.md alone: installed distributions
that share an entry-point name, hook wrappers the platform would never run, blame when an
announcer and its listeners disagree on a hook's arguments, plugins given by name in tests,
what the record events of an update see, and a plugin's incompatible type change taken
through expand and contract."""
from __future__ import annotations

import copy

import pytest

from conftest import PersonPlugin
from xrm_core import (
    KPI, Platform, PluginError, ValidationError, XrmError, call_all, call_first, hookimpl, hookspec,
)
from xrm_core import plugins as plugins_module
from xrm_core.plugins import list_plugins, make_plugin_manager

ITEM = {"name": "item", "title_field": "title",
        "schema": {"type": "object", "additionalProperties": False,
                   "properties": {"title": {"type": "string"}, "since": {"type": "string", "format": "date"}},
                   "required": ["title"]}}


class Plugin:
    """A plugin object from keyword hook implementations (already marked)."""

    def __init__(self, name, **hooks):
        self.__name__ = name
        for hook, fn in hooks.items():
            setattr(self, hook, fn)


def items(definition=ITEM):
    return Plugin("items", xrm_entity_types=hookimpl(lambda: [definition]))


# -- entry points ---------------------------------------------------------------------
class FakeDist:
    def __init__(self, name, version="1.0"):
        self.name, self.version = name, version


class FakeEntryPoint:
    """What importlib.metadata gives for an installed distribution's entry point."""

    def __init__(self, name, value, dist, plugin):
        self.name, self.value, self.dist, self.group = name, value, FakeDist(dist), plugins_module.GROUP
        self.plugin, self.loads = plugin, 0

    def load(self):
        self.loads += 1
        return self.plugin


def installed(monkeypatch, *eps):
    monkeypatch.setattr(plugins_module, "entry_points",
                        lambda group: list(eps) if group == plugins_module.GROUP else [])


def test_two_distributions_with_one_entry_point_name_are_refused_naming_both(monkeypatch):
    # Before: the second was skipped silently (which one depended on sys.path order), and
    # `xrm plugins list` named the distribution of the one that was not loaded.
    ours = FakeEntryPoint("ledger", "xrm_ledger.plugin", "xrm-ledger", items())
    fork = FakeEntryPoint("ledger", "xrm_ledger_fork", "xrm-ledger-fork", PersonPlugin())
    installed(monkeypatch, fork, ours)
    with pytest.raises(PluginError) as e:
        make_plugin_manager()
    assert e.value.plugin == "ledger"
    assert "'xrm-ledger-fork' (xrm_ledger_fork) and 'xrm-ledger' (xrm_ledger.plugin)" in str(e.value)

    assert (fork.loads, ours.loads) == (1, 0)  # refused before importing the second

    # Blocking the name blocks both: neither is imported.
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "ledger")
    assert [n for n, p in make_plugin_manager().list_name_plugin() if p is not None] == []
    assert (fork.loads, ours.loads) == (1, 0)

    # The same plugin listed twice (one module) is loaded once and is no conflict.
    monkeypatch.delenv("XRM_DISABLE_PLUGINS")
    again = FakeEntryPoint("ledger", "xrm_ledger.plugin", "xrm-ledger", ours.plugin)
    installed(monkeypatch, ours, again)
    pm = make_plugin_manager()
    assert pm.get_plugin("ledger") is ours.plugin
    assert [(p["name"], p["distribution"]) for p in list_plugins(pm)] == [("ledger", "xrm-ledger")]


# -- hook wrappers ----------------------------------------------------------------------
@pytest.mark.parametrize("hook", ["xrm_record_event", "xrm_entity_types", "xrm_kpis", "xrm_roles"])
def test_a_wrapper_of_a_hook_the_platform_calls_one_by_one_is_refused(hook):
    # Before: xrm_record_event (Session.fire) and the definition hooks (call_each) called the
    # wrapper as a plain function; its generator was dropped, so the wrapper never ran.
    def wrapper():
        yield
    plugin = Plugin("wrapping", **{hook: hookimpl(wrapper=True)(wrapper)})
    with pytest.raises(PluginError, match=f"plugin 'wrapping' implements {hook} as a hook wrapper, which would "
                                          "never run") as e:
        make_plugin_manager(False, [PersonPlugin(), plugin])
    assert e.value.plugin == "wrapping"


def test_a_wrapper_of_a_hook_called_through_pluggy_still_runs(platform, cli):
    seen = []

    @hookimpl(wrapper=True)
    def xrm_demo_data(session):
        seen.append(("before", session.count("person")))
        result = yield
        seen.append(("after", session.count("person")))
        return result

    filler = Plugin("filler", xrm_demo_data=hookimpl(lambda session: session.create("person", {"name": "Ada"})))
    r = cli("demo", plugins=[PersonPlugin(), Plugin("wrapping", xrm_demo_data=xrm_demo_data), filler])
    assert r.exit_code == 0, r.stderr
    assert seen == [("before", 0), ("after", 1)]


# -- an announcer and its listeners disagreeing on arguments ---------------------------------
class LedgerSpecs:
    @staticmethod
    @hookspec
    def xrm_ledger_opened(item, session):
        """An item was created (test hook)."""


def announcer(forget_session=False):
    def xrm_record_event(event, record, session):
        if event == "after_create":
            kwargs = {"item": record} if forget_session else {"item": record, "session": session}
            call_all(session.platform.pm, "xrm_ledger_opened", **kwargs)
    return Plugin("ledger", xrm_addhooks=hookimpl(lambda pm: pm.add_hookspecs(LedgerSpecs)),
                  xrm_entity_types=hookimpl(lambda: [ITEM]), xrm_record_event=hookimpl(xrm_record_event))


def listener():
    return Plugin("auditor", xrm_ledger_opened=hookimpl(optionalhook=True)(
        lambda item, session: session.log(item.id, "call", "seen")),
        xrm_activity_kinds=hookimpl(lambda: [{"name": "call", "label": "Call"}]))


def test_an_argument_the_announcer_leaves_out_is_blamed_on_the_announcer(make_platform):
    # Before: KeyError 'session' inside call_all, reported as the listener's failure.
    p = make_platform(announcer(forget_session=True), listener())
    with pytest.raises(PluginError) as e, p.session() as s:
        s.create("item", {"title": "a"})
    assert e.value.plugin == "ledger"
    assert "failed in xrm_record_event(after_create): TypeError: xrm_ledger_opened() called without 'session'" \
        in str(e.value)
    with p.session() as s:
        assert s.count("item") == 0
        with pytest.raises(TypeError, match=r"xrm_ledger_opened\(\) called without 'item', 'session'"):
            call_first(p.pm, "xrm_ledger_opened")

    p = make_platform(announcer(), listener())  # the arguments given: the listener answers
    with p.session() as s:
        a = s.create("item", {"title": "a"})
        assert [h["kind"] for h in s.history(a.id)] == ["created", "call"]


@pytest.mark.parametrize("order", ["listener first", "announcer first"])
def test_a_listener_taking_an_argument_the_spec_lacks_is_named_in_either_order(order):
    # Before: registered before its announcer, the listener made the announcer's
    # registration fail, and the error named the announcer.
    bad = Plugin("auditor", xrm_ledger_opened=hookimpl(optionalhook=True)(lambda item, amount: None))
    plugins = [bad, announcer()] if order == "listener first" else [announcer(), bad]
    with pytest.raises(PluginError, match="plugin 'auditor' cannot be registered") as e:
        make_plugin_manager(False, plugins)
    assert e.value.plugin == "auditor"


# -- plugins given by name ------------------------------------------------------------------
def test_plugins_given_by_name_register_under_that_name(db_url, monkeypatch):
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_create" and record.data["title"] == "boom":
            raise RuntimeError("broke")

    plugin = Plugin("xrm_ledger.plugin", xrm_entity_types=hookimpl(lambda: [ITEM]), xrm_record_event=xrm_record_event)
    p = Platform(db_url, plugins={"ledger": plugin}, load_entry_points=False)
    try:
        p.init()
        assert p.pm.get_plugin("ledger") is plugin
        with p.session() as s:
            assert s.entity_type("item").source == "ledger"
        with pytest.raises(PluginError, match=r"plugin 'ledger' failed in xrm_record_event\(before_create\)"), \
                p.session() as s:
            s.create("item", {"title": "boom"})
    finally:
        p.dispose()
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "ledger")
    assert make_plugin_manager(False, {"ledger": plugin}).get_plugin("ledger") is None


# -- what the record events of an update see ---------------------------------------------------
def test_update_events_see_the_patch_before_and_the_written_diff_after(make_platform):
    seen = []

    def stamp(event, record, changes):
        if event == "before_update":
            record.data["since"] = "2024-01-01"
        seen.append(("stamp", event, record.version, dict(changes)))

    def check(event, record, changes):
        seen.append(("check", event, record.version, dict(changes)))

    p = make_platform(items(), Plugin("stamp", xrm_record_event=hookimpl(tryfirst=True)(stamp)),
                      Plugin("check", xrm_record_event=hookimpl(check)))
    with p.session() as s:
        a = s.create("item", {"title": "a"})
        seen.clear()
        s.update(a.id, {"title": "b"})
        assert (s.get(a.id).data, s.get(a.id).unit) == ({"title": "b", "since": "2024-01-01"}, "root")
        assert s.history(a.id)[-1]["payload"]["changes"] == [
            {"pointer": "/since", "old": None, "new": "2024-01-01", "op": "add"},
            {"pointer": "/title", "old": "a", "new": "b", "op": "replace"}]
    patch = {"/title": ("a", "b")}
    written = {"/since": (None, "2024-01-01"), "/title": ("a", "b")}
    assert seen == [("stamp", "before_update", 2, patch), ("check", "before_update", 2, patch),
                    ("stamp", "after_update", 2, written), ("check", "after_update", 2, written)]


# -- an incompatible type change, through expand and contract ----------------------------------
class SinceCount(KPI):
    """A Python KPI reading a field by name, as plugins do."""

    name = "dated_items"
    entity = "item"

    def compute(self, ctx):
        from sqlalchemy import func, select
        since = ctx.field("item", self.field)
        value = ctx.scalar(select(func.count()).where(ctx.base("item"), since.isnot(None)))
        return {"value": value, "n": value, "groups": []}


def ledger(definition, field, note_kind=None):
    """Version N of the plugin: its item type, a Python KPI on ``field``, maybe a new kind."""
    kpi = SinceCount()
    kpi.field = field
    return Plugin("ledger", xrm_entity_types=hookimpl(lambda: [definition]), xrm_kpis=hookimpl(lambda: [kpi]),
                  xrm_activity_kinds=hookimpl(lambda: [{"name": note_kind, "label": "Note"}] if note_kind else []))


def with_fields(**fields):
    d = copy.deepcopy(ITEM)
    d["schema"]["properties"] = {"title": {"type": "string"}, **fields}
    return d


def test_an_incompatible_type_change_is_refused_and_goes_through_expand_and_contract(make_platform, monkeypatch):
    date = {"type": "string", "format": "date"}
    v1 = make_platform(ledger(ITEM, "since"))
    with v1.session() as s:
        ids = [s.create("item", {"title": t, "since": "2024-01-0" + str(i)}).id for i, t in enumerate("ab", 1)]
        s.create("item", {"title": "undated"})

    # Renaming the field in one release: refused, with every record to move, and nothing
    # of that init applied — not the same plugin's new activity kind either.
    renamed = make_platform(ledger(with_fields(opened_on=date), "opened_on", note_kind="memo"), init=False)
    with pytest.raises(XrmError) as e:
        renamed.init()
    assert "plugin 'ledger', entity type #0 (item)" in str(e.value)
    assert sorted(x["pointer"] for x in e.value.errors) == sorted(f"/records/{i}/data/since" for i in ids)
    with renamed.session() as s:
        assert s.entity_type("item").version == 1
        with pytest.raises(ValidationError, match="unknown activity kind 'memo'"):
            s.log(ids[0], "memo", "x")
    # The rest of the platform can still be upgraded, the plugin blocked by its name.
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "ledger")
    others = make_platform(ledger(with_fields(opened_on=date), "opened_on"), PersonPlugin(), init=False)
    assert "person" in others.init()["types_added"]
    monkeypatch.delenv("XRM_DISABLE_PLUGINS")

    # Expand: both fields, the old one deprecated; then move the data through the session.
    expand = make_platform(ledger(with_fields(since={**date, "deprecated": True}, opened_on=date), "opened_on"),
                           init=False)
    assert expand.init()["types_updated"] == ["item"]
    with expand.session() as s:
        for r in s.list("item", where={"since": {"exists": True}}):
            s.update(r.id, {"since": None, "opened_on": r.data["since"]})
        assert s.kpi("dated_items")["value"] == 2

    # Contract: the old field goes; init applies it now that no record uses it.
    contract = make_platform(ledger(with_fields(opened_on=date), "opened_on"), init=False)
    assert contract.init()["types_updated"] == ["item"]
    with contract.session() as s:
        assert s.entity_type("item").version == 3
        assert sorted(r.data.get("opened_on", "-") for r in s.list("item")) == ["-", "2024-01-01", "2024-01-02"]
        assert s.kpi("dated_items")["value"] == 2
    # A Python KPI still reading the removed field passes init and fails when computed.
    stale = make_platform(ledger(with_fields(opened_on=date), "since"), init=False)
    stale.init()
    with stale.session() as s, pytest.raises(ValidationError, match="KPI 'dated_items' of plugin 'ledger': "
                                                                    "'since' is not a field of item"):
        s.kpi("dated_items")
