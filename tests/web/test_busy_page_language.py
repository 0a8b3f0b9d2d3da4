"""The busy-database refusal on a Persian or Chinese page says what happened in that
language (title and sentence), the core's English message kept as the detail."""
from __future__ import annotations

import sqlite3

import pytest

from xrm_core import db

from test_core13_busy_database import NOTHING_SAVED, _setup, _unchanged
from test_ui_support import Browser, text

SAID = {"fa": ("پایگاه داده مشغول است", "چیزی ذخیره نشد"),
        "zh": ("数据库繁忙", "本次未保存任何内容")}


@pytest.mark.parametrize("language", sorted(SAID))
def test_a_busy_database_is_said_in_the_pages_language(make_platform, monkeypatch, language):
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    p, hook, first, _ = _setup(make_platform)
    if p.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's busy timeout makes the database busy here without threads")
    p.engine.dispose()  # new connections take the short busy timeout
    b = Browser(p)
    b.login()
    b.post("/lang", {"lang": language, "next": "/"})
    b.get(f"/r/person/{first}/edit")
    holder = sqlite3.connect(p.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        page = b.post(f"/r/person/{first}/edit", {"version": "1", "name": "first!"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    title, sentence = SAID[language]
    shown = text(page)
    assert page.status_code == 503, shown
    assert title in shown and sentence in shown, shown
    assert NOTHING_SAVED in shown  # the core's English message, as the detail
    _unchanged(p, first, hook.second)
