"""The delete confirmation page down a chain of cascades: it names the records the delete
takes beyond the record's own links, and says beforehand the refusal a ``restrict`` further
down meets — what the delete then does (the page listed the first level of links only)."""
from __future__ import annotations

import re

import pytest

from test_ui_support import DeclaredPlugin, delete_on_page, flashed, one_to_many, signed_in, text


def _titled(name: str) -> dict:
    return {"name": name, "title_field": "name",
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}


class SitesPlugin(DeclaredPlugin):
    """sites — a site has buildings, a building rooms (each cascading); a room is held by keys."""

    __name__ = "sites"
    types = [_titled("site"), _titled("building"), _titled("room"), _titled("key")]
    relationship_types = [
        one_to_many("has_building", "site", "building", "cascade", "has building", "on site"),
        one_to_many("has_room", "building", "room", "cascade", "has room", "in building"),
        one_to_many("needs_key", "room", "key", "restrict", "needs key", "opens")]


@pytest.fixture
def sites(make_platform):
    p = make_platform(SitesPlugin())
    with p.session() as s:
        ids = {n: s.create(t, {"name": n}).id
               for t, n in (("site", "North site"), ("building", "Hall A"), ("room", "Room 1"), ("key", "Key 7"))}
        s.relate("has_building", ids["North site"], ids["Hall A"])
        s.relate("has_room", ids["Hall A"], ids["Room 1"])
    return p, ids


def _page(b, site_id: str) -> str:
    page = text(b.get(f"/r/site/{site_id}/delete"))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<h1>", 1)[1].split("</form>")[0]))


def test_the_delete_page_names_what_the_cascades_take_further_down(sites):
    p, ids = sites
    b = signed_in(p, "admin", "")
    page = _page(b, ids["North site"])
    assert re.search(r"Deleted with it: Hall A \(« has building »\)", page)
    assert re.search(r"Deleted with it: Room 1 \(« has room »\)", page)
    assert "Key 7" not in page
    delete_on_page(b, "site", ids["North site"])
    assert flashed(b, "ok") == "Deleted North site and 2 related records: Hall A, Room 1."


def test_the_delete_page_says_the_restrict_further_down_before_the_delete_meets_it(sites):
    p, ids = sites
    with p.session() as s:
        s.relate("needs_key", ids["Room 1"], ids["Key 7"])
    b = signed_in(p, "admin", "")
    page = _page(b, ids["North site"])
    said = ("deleting it would also delete Room 1, which is linked to Key 7 («needs key»), and "
            "such a link keeps it from being deleted. Remove the link first.")
    # Said before any delete is tried: it cannot be deleted; after one, it was not.
    assert "Cannot be deleted: " + said in page.replace("\u2068", "").replace("\u2069", "")
    assert "Deleted with it: Room 1" not in page  # it would not be
    delete_on_page(b, "site", ids["North site"])
    assert flashed(b, "error").replace("\u2068", "").replace("\u2069", "") == "Not deleted: " + said


def test_a_hub_names_the_first_hundred_and_counts_the_rest(sites, monkeypatch):
    """A record with thousands of links made a page of thousands of items: the page names
    OUTCOMES_SHOWN of them (those that keep it from being deleted first) and counts the rest
    by what the delete does to them."""
    from xrm_core.web.ui import record_actions
    monkeypatch.setattr(record_actions, "OUTCOMES_SHOWN", 3)
    p, ids = sites
    with p.session() as s:
        for i in range(4):  # four more buildings on the site, each with a room: 10 records go with it
            building = s.create("building", {"name": f"Hall {i}"}).id
            s.relate("has_building", ids["North site"], building)
            s.relate("has_room", building, s.create("room", {"name": f"Room {i}0"}).id)
    b = signed_in(p, "admin", "")
    page = _page(b, ids["North site"])
    assert page.count("Deleted with it:") == 3
    assert "…and 7 more records deleted with it" in page
    monkeypatch.setattr(record_actions, "OUTCOMES_SHOWN", 9)
    assert "…and 1 more record deleted with it" in _page(b, ids["North site"])
    monkeypatch.setattr(record_actions, "OUTCOMES_SHOWN", 10)
    assert "more record" not in _page(b, ids["North site"])  # all ten named
    delete_on_page(b, "site", ids["North site"])
    assert flashed(b, "ok").startswith("Deleted North site and 10 related records")
