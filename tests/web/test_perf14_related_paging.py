"""perf14: a record's related records through the REST API, a page at a time.

``GET /records/{type}/{id}/related`` answered every related record on one page: a record
linked 10,000 times sent 10,000 records (about 5 MB) to every request. With ``limit`` it
answers at most that many and a ``next`` cursor; following ``next`` lists every link once,
in the order of the whole list. Without ``limit`` the answer is unchanged (all, next null).
"""
from __future__ import annotations

from xrm_core import accounts
from xrm_core.web import create_app

from conftest import PersonPlugin


def _setup(make_platform, links=7):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        hub = s.create("person", {"name": "Hub"})
        others = [s.create("person", {"name": f"P{i}"}) for i in range(links)]
        for o in others[:4]:
            s.relate("knows", hub.id, o.id)
        for o in others[4:]:
            s.relate("knows", o.id, hub.id)  # incoming links page after the outgoing ones
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    return hub, client, {"Authorization": f"Bearer {token}"}


def test_related_pages_hold_at_most_limit_items_and_follow_next(make_platform):
    hub, client, headers = _setup(make_platform)
    url = f"/api/v1/records/person/{hub.id}/related"
    whole = client.get(url, headers=headers)
    assert whole.status_code == 200 and whole.json["next"] is None and len(whole.json["items"]) == 7
    seen, pages, nxt = [], 0, None
    while True:
        r = client.get(url, headers=headers, query_string={"limit": 3, **({"cursor": nxt} if nxt else {})})
        assert r.status_code == 200, r.json
        assert len(r.json["items"]) <= 3
        seen += r.json["items"]
        pages += 1
        nxt = r.json["next"]
        if nxt is None:
            break
        assert pages < 10
    assert pages == 3
    assert [i["relationship"]["id"] for i in seen] == [i["relationship"]["id"] for i in whole.json["items"]]
    assert [i["direction"] for i in seen] == ["outgoing"] * 4 + ["incoming"] * 3


def test_a_page_ending_exactly_at_the_last_link_has_no_next(make_platform):
    hub, client, headers = _setup(make_platform, links=4)
    r = client.get(f"/api/v1/records/person/{hub.id}/related?limit=4", headers=headers)
    assert r.status_code == 200 and len(r.json["items"]) == 4 and r.json["next"] is None


def test_a_bad_related_cursor_or_limit_is_a_400_at_its_parameter(make_platform):
    hub, client, headers = _setup(make_platform, links=1)
    for qs, pointer in (("limit=2&cursor=nonsense", "/query/cursor"), ("limit=0", "/query/limit"),
                        ("limit=2&cursor=WyJzb3J0IiwiYSJd", "/query/cursor")):
        r = client.get(f"/api/v1/records/person/{hub.id}/related?{qs}", headers=headers)
        assert r.status_code == 400, (qs, r.json)
        assert [e["pointer"] for e in r.json["errors"]] == [pointer], r.json
