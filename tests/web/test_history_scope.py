"""History through the REST API and the record page: a link with a record outside the
reader's scope is left out entirely (DESIGN §3: that record does not exist for them)."""
from __future__ import annotations

import json

import pytest

from xrm_core import accounts
from xrm_core.web import create_app

from test_ui_support import Browser, text


@pytest.fixture
def linked(org):
    """``a`` in dealer_a (manager_a's unit) linked by the admin with ``hidden`` in dealer_b."""
    with org.session("manager_a") as s:
        a = s.create("person", {"name": "Alpha"}).id
    with org.session("manager_b") as s:
        hidden = s.create("person", {"name": "Hidden"}).id
    with org.session() as s:
        rel = s.relate("knows", a, hidden)["id"]
    return a, hidden, rel


def test_rest_history_leaves_out_links_outside_scope(org, linked):
    a, hidden, rel = linked
    client = create_app(org, {"TESTING": True}).test_client()
    with org.connection() as conn:
        tokens = {user: accounts.create_token(conn, user) for user in ("admin", "manager_a")}

    def history(user, query=""):
        r = client.get(f"/api/v1/records/person/{a}/history{query}",
                       headers={"Authorization": f"Bearer {tokens[user]}"})
        assert r.status_code == 200, r.json
        return r.json["items"]

    for query in ("", "?related=1"):
        items = history("manager_a", query)
        assert [i["kind"] for i in items] == ["created"]
        shown = json.dumps(items)
        assert hidden not in shown and rel not in shown
    admin = history("admin", "?related=1")
    assert [(i["kind"], i["record"]) for i in admin] == [
        ("created", a), ("created", hidden), ("related", a), ("related", hidden)]
    assert admin[2]["payload"] == {"relationship": rel, "type": "knows", "direction": "outgoing", "other": hidden}


def test_record_page_timeline_leaves_out_links_outside_scope(org, linked):
    a, hidden, rel = linked
    browser = Browser(org)
    browser.login("manager_a", "pw")
    page = text(browser.get(f"/r/person/{a}"))
    assert "Alpha" in page
    assert hidden not in page and rel not in page and "cannot see" not in page
    admin = Browser(org)
    admin.login()
    assert hidden in text(admin.get(f"/r/person/{a}"))
