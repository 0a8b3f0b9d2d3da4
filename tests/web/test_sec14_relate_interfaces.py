"""The relate/unrelate rule (docs/security.md, "Relating and unrelating") through the REST
API, the admin UI and the CLI: each gets the core's refusal — a 403 naming the end and the
action, nothing changed — and a record outside the caller's scope is still a 404.

clerk_a reads every person and note and changes only her own; clerk_b's note has one
person slot (``has_note`` is one-to-many), which clerk_a could take before the rule.
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from clerk_world import api, make_clerks, snapshot

from test_ui_support import Browser, flashed, text


@pytest.fixture
def world(make_platform):
    p = make_platform(PersonPlugin())
    return p, make_clerks(p)


def test_rest_relate_of_a_target_one_may_only_read_is_403_at_the_target(world):
    p, ids = world
    call = api(p, "clerk_a")
    before = snapshot(p)
    r = call("POST", "/relationships", json={"type": "has_note", "source": ids["pa"], "target": ids["nb"]})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert r.json["errors"] == [{"pointer": "/target", "message": "relating needs update on this record"}]
    assert "may not update the target" in r.json["detail"]
    assert snapshot(p) == before
    # many-to-many: read on the target is enough
    assert call("POST", "/relationships", json={"type": "knows", "source": ids["pa"],
                                                "target": ids["pb"]}).status_code == 201


def test_rest_unrelate_of_a_link_holding_a_target_one_may_only_read_is_403(world):
    p, ids = world
    with p.session() as s:
        rid = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    before = snapshot(p)
    r = api(p, "clerk_a")("DELETE", f"/relationships/{rid}")
    assert r.status_code == 403 and r.json["errors"][0]["pointer"] == "/target"
    assert "unrelating" in r.json["detail"]
    assert snapshot(p) == before
    assert api(p, "local")("DELETE", f"/relationships/{rid}").status_code == 404  # still no oracle
    assert api(p, "admin")("DELETE", f"/relationships/{rid}").status_code == 204


def test_rest_relate_to_a_hidden_record_is_still_404(world):
    p, ids = world
    with p.session("local") as s:
        mine = s.create("person", {"name": "mine"}).id
    r = api(p, "local")("POST", "/relationships", json={"type": "has_note", "source": mine, "target": ids["nb"]})
    assert r.status_code == 404 and r.json["errors"] == [{"pointer": "/target", "message": "no such record"}]


def test_ui_link_and_unlink_are_refused_and_change_nothing(world):
    p, ids = world
    b = Browser(p)
    b.login("clerk_a", "pw")
    before = snapshot(p)
    r = b.post(f"/r/person/{ids['pa']}/link", {"rel": "has_note:out", "other": ids["nb"]})
    assert r.status_code == 302 and flashed(b, "error").startswith("Not linked")
    assert snapshot(p) == before
    with p.session() as s:
        rid = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    before = snapshot(p)
    r = b.post(f"/r/person/{ids['pa']}/unlink/{rid}")
    assert r.status_code == 403, text(r)
    assert snapshot(p) == before


def test_cli_relate_and_unrelate_are_refused_naming_the_end(world, cli):
    p, ids = world
    before = snapshot(p)
    r = cli("relate", "has_note", ids["pa"], ids["nb"], "--as", "clerk_a", plugins=[PersonPlugin()])
    assert r.exit_code != 0 and "may not update the target" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(p) == before
    with p.session() as s:
        rid = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    before = snapshot(p)
    r = cli("unrelate", rid, "--as", "clerk_a", plugins=[PersonPlugin()])
    assert r.exit_code != 0 and "unrelating needs update on the target" in r.stderr
    assert snapshot(p) == before


# -- the buttons the UI offers (needs the foreign patch to xrm_core/web/ui/pages.py and
#    record_actions.py: the UI asks relationships.link_refusal, the core's rule) ----------
def test_ui_offers_no_link_or_unlink_the_core_refuses(world):
    p, ids = world
    with p.session() as s:
        held = s.relate("has_note", ids["pa"], ids["nb"])["id"]  # an administrator's link
        loose = s.relate("knows", ids["pa"], ids["pb"])["id"]
    b = Browser(p)
    b.login("clerk_a", "pw")
    page = text(b.get(f"/r/person/{ids['pa']}"))
    assert f"/unlink/{loose}" in page          # many-to-many: the source's owner may remove it
    assert f"/unlink/{held}" not in page       # it holds b's note: the core refuses (403)
    with p.session() as s:
        s.unrelate(held)
    page = text(b.get(f"/r/person/{ids['pa']}/link?rel=has_note:out&q=note"))
    assert "not available: you may not change it" in page  # b's note: one slot, read only
    assert page.count('name="other"') == 1                  # a's own note is offered
    # b's note's page offers no has_note link at all: linking it needs changing it
    assert "has_note:in" in text(b.get(f"/r/note/{ids['na']}"))  # her own note: offered
    assert "has_note:in" not in text(b.get(f"/r/note/{ids['nb']}"))
