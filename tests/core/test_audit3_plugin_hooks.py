"""Audit: a plugin announcing a hook of its own under a name no plugin declares (a typo,
or a spec it forgot to register in ``xrm_addhooks``)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from xrm_core import PluginError, call_all, call_first, db, for_types, hookimpl
from xrm_core.plugins import make_plugin_manager


@pytest.mark.parametrize("call", [call_all, call_first])
def test_a_hook_no_plugin_knows_is_a_type_error_naming_it(call):
    pm = make_plugin_manager(load_entry_points=False)
    with pytest.raises(TypeError, match=r"xrm_fund_large_trad\(\) is no hook: no plugin declares it"):
        call(pm, "xrm_fund_large_trad", trade=None)   # was AttributeError: 'HookRelay' object has no attribute …


class Announcer:
    """Announces a hook it never declared, from its record event."""

    __name__ = "fund"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "trade", "schema": {"type": "object"}}]

    @staticmethod
    @hookimpl
    @for_types("trade")
    def xrm_record_event(event, record, session):
        if event == "after_create":
            call_all(session.platform.pm, "xrm_fund_large_trad", trade=record, session=session)


def test_announcing_an_undeclared_hook_from_a_record_event_names_the_plugin_and_changes_nothing(make_platform):
    platform = make_platform(Announcer())
    with pytest.raises(PluginError) as e:
        with platform.session() as s:
            s.create("trade", {"units": 5})
    assert e.value.message == ("plugin 'fund' failed in xrm_record_event(after_create): TypeError: "
                               "xrm_fund_large_trad() is no hook: no plugin declares it (declare it with @hookspec "
                               "and register it in xrm_addhooks) and none implements it")
    with platform.session(write=False) as s:
        assert s.conn.execute(select(func.count()).select_from(db.records)).scalar() == 0
