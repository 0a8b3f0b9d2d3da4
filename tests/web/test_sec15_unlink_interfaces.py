"""The unlink rule (docs/security.md, "Relating and unrelating") through the REST API, the
CLI and the admin UI: the owner of a record removes a link pointing at it, made by a user
who could only read it; a user who may change neither end gets a 403 naming both, and an
end outside the caller's scope is still a 404.

clerk_a reads every person and note and changes only her own; so does clerk_b. clerk_a
links her person to clerk_b's ('knows' is many-to-many: read on the target is enough).
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from clerk_world import api, make_clerks, snapshot

from test_ui_support import Browser, text


@pytest.fixture
def world(make_platform):
    p = make_platform(PersonPlugin())
    ids = make_clerks(p)
    with p.session("clerk_a") as s:
        ids["link"] = s.relate("knows", ids["pa"], ids["pb"])["id"]
    return p, ids


def test_rest_the_target_owner_removes_the_link(world):
    p, ids = world
    before = snapshot(p)
    r = api(p, "reader")("DELETE", f"/relationships/{ids['link']}")
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert [e["pointer"] for e in r.json["errors"]] == ["/source", "/target"]
    assert "may update neither end" in r.json["detail"]
    assert snapshot(p) == before
    assert api(p, "local")("DELETE", f"/relationships/{ids['link']}").status_code == 404  # no oracle
    assert api(p, "clerk_b")("DELETE", f"/relationships/{ids['link']}").status_code == 204
    with p.session() as s:
        assert s.related(ids["pb"]) == []


def test_rest_the_source_owner_may_not_free_a_bound_target(world):
    p, ids = world
    with p.session() as s:
        rid = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    r = api(p, "clerk_a")("DELETE", f"/relationships/{rid}")
    assert r.status_code == 403 and r.json["errors"] == [
        {"pointer": "/target", "message": "unrelating needs update on this record"}]
    assert api(p, "clerk_b")("DELETE", f"/relationships/{rid}").status_code == 204


def test_cli_the_target_owner_removes_the_link(world, cli):
    p, ids = world
    before = snapshot(p)
    r = cli("unrelate", ids["link"], "--as", "reader", plugins=[PersonPlugin()])
    assert r.exit_code != 0 and "may update neither end" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(p) == before
    r = cli("unrelate", ids["link"], "--as", "clerk_b", plugins=[PersonPlugin()])
    assert r.exit_code == 0, r.stderr
    with p.session() as s:
        assert s.related(ids["pa"]) == []


def test_ui_the_target_owner_unlinks_from_their_record_page(world):
    p, ids = world
    b = Browser(p)
    b.login("clerk_b", "pw")
    r = b.post(f"/r/person/{ids['pb']}/unlink/{ids['link']}")
    assert r.status_code == 302, text(r)
    with p.session() as s:
        assert s.related(ids["pb"]) == []


def test_ui_offers_the_unlink_the_core_allows(world):
    """Needs the foreign patch to xrm_core/web/ui/pages.py (asks relationships.unlink_refusal)."""
    p, ids = world
    with p.session() as s:
        held = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    b = Browser(p)
    b.login("clerk_b", "pw")
    assert f"/unlink/{ids['link']}" in text(b.get(f"/r/person/{ids['pb']}"))  # a link to her person
    assert f"/unlink/{held}" in text(b.get(f"/r/note/{ids['nb']}"))            # her note's one slot
    b = Browser(p)
    b.login("clerk_a", "pw")
    assert f"/unlink/{held}" not in text(b.get(f"/r/person/{ids['pa']}"))     # b's note: refused (403)
    assert f"/unlink/{ids['link']}" in text(b.get(f"/r/person/{ids['pa']}"))  # her own source
    b = Browser(p)
    b.login("reader", "pw")
    assert "/unlink/" not in text(b.get(f"/r/person/{ids['pb']}"))
