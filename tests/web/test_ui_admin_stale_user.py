"""Two administrators editing the same user: the second save, from a page built before the
first, is refused (409) and shows the user as it is now; nothing of it is written."""
from __future__ import annotations

import re

from xrm_core import accounts

from test_ui_support import Browser, text


def state_of(page: str) -> str:
    return re.search(r'name="state" value="([0-9a-f]+)"', page).group(1)


def test_a_stale_user_form_is_refused_and_changes_nothing(org):
    first, second = Browser(org), Browser(org)
    first.login()
    second.login()
    page_one = text(first.get("/admin/users/agent_a"))
    page_two = text(second.get("/admin/users/agent_a"))
    assert state_of(page_one) == state_of(page_two)
    r = first.post("/admin/users/agent_a", {"unit": "dealer_a", "roles": ["agent", "manager"], "active": "on",
                                            "state": state_of(page_one)})
    assert r.status_code == 302
    # The second administrator's page still shows the old roles: saving it would drop
    # "manager" and deactivate the user without anyone having seen the first change.
    r = second.post("/admin/users/agent_a", {"unit": "dealer_b", "roles": ["agent"], "password": "new-secret",
                                             "state": state_of(page_two)})
    page = text(r)
    assert r.status_code == 409 and "someone else changed this user" in page
    assert re.search(r'value="manager" checked', page)  # the form shows the user as it is now
    with org.connection() as conn:
        user = accounts.get_user(conn, "agent_a")
        assert (user["unit"], user["roles"], user["active"]) == ("dealer_a", ["agent", "manager"], True)
        accounts.authenticate(conn, "agent_a", "pw")  # the password was not changed either
    # Saved again from the fresh form, it goes through.
    r = second.post("/admin/users/agent_a", {"unit": "dealer_b", "roles": ["agent"], "active": "on",
                                             "state": state_of(page)})
    assert r.status_code == 302
    with org.connection() as conn:
        assert accounts.get_user(conn, "agent_a")["unit"] == "dealer_b"
