"""A deadlock met by a plugin's record hook (a PluginError caused by it) on a UI page is the
"database is busy … nothing was saved; try again" page, 503 — not "A plugin failed" with the
SQL statement. Needs xrm_core/web/ui/common.py's render_error to use db.busy_error."""
from __future__ import annotations

from test_core13_busy_database import NOTHING_SAVED, _deadlocked, _require_pg, _setup, _unchanged
from test_ui_support import Browser, text


def test_a_deadlock_on_a_ui_page_is_a_503_page_saying_so(make_platform):
    p, hook, first, _ = _setup(make_platform)
    _require_pg(p)
    b = Browser(p)
    b.login()
    b.get(f"/r/person/{first}/edit")
    r = _deadlocked(p, first, hook.second, lambda: b.post(f"/r/person/{first}/edit",
                                                         {"version": "1", "name": "first!"}))
    assert r.status_code == 503, text(r)
    assert NOTHING_SAVED in text(r) and "Internal Server Error" not in text(r) and "SELECT" not in text(r)
    _unchanged(p, first, hook.second)

