"""A database that cannot be reached (``db.DatabaseUnavailable``, a kind of DatabaseBusy) is
said in the page's language with its own words: a Persian or Chinese page said the database
was busy and that nothing was saved, which a change sent as the connection dropped cannot
promise, and headed it with the English title."""
from __future__ import annotations

import pytest

from conftest import PersonPlugin
from xrm_core import db
from xrm_core.errors import DatabaseBusy
from xrm_core.web import create_app
from xrm_core.web.ui.common import render_error
from xrm_core.web.ui.core_messages import sentence


@pytest.mark.parametrize("language,title,words", [
    ("fa", "پایگاه داده در دسترس نیست", "اکنون به پایگاه داده دسترسی نیست"),
    ("zh", "数据库不可用", "目前无法连接数据库"),
])
def test_the_page_says_unreachable_not_busy(make_platform, language, title, words):
    app = create_app(make_platform(PersonPlugin()), {"TESTING": True})
    with app.test_request_context("/", headers={"Accept-Language": language}):
        body, status = render_error(db.DatabaseUnavailable("the database cannot be reached; try again shortly"))
        busy = sentence(DatabaseBusy("the database is busy"))
    assert status == 503
    assert title in body and words in body
    assert busy not in body and "Database unavailable" not in body
