"""A list offers to sort by a column only where that is fast (xrm_core/web/ui/list_sorts.py).

Sorting 1M records by a field without an index took 17 s (docs/benchmarks.md §8) and every
column heading linked to it. Now a heading links to a sort when the field is in the type's
``indexes``, or when the list it orders is small (at most ``SORT_ANY_UP_TO`` records, filter
and search applied); a sort by a field without an index over a larger list, asked by URL,
is refused naming the field and the way out. The REST API and the CLI answer as before.

``person`` (tests/conftest.py) indexes ``email`` and ``age``; its list shows name, email,
age, score and vip. The limits are made small here so five records stand for a million.
"""
from __future__ import annotations

import json
import re

import pytest

from xrm_core import accounts

from test_ui_support import Browser, text


@pytest.fixture
def browser(platform):
    with platform.session() as s:
        for i, (score, age) in enumerate([(5, 30), (1, 20), (4, 50), (2, 10), (3, 40)]):
            s.create("person", {"name": f"P{i}", "email": f"p{i}@example.com", "age": age, "score": score,
                                "vip": i % 2 == 0})
    b = Browser(platform)
    b.login()
    return b


@pytest.fixture
def large(monkeypatch):
    """Five records are more than the list may sort without an index; two make a page."""
    monkeypatch.setattr("xrm_core.web.ui.list_sorts.SORT_ANY_UP_TO", 3)
    monkeypatch.setattr("xrm_core.web.ui.pages.PAGE_SIZE", 2)


def _linked(page: str) -> set[str]:
    """The fields whose column heading links to a sort."""
    head = page[page.index("<thead>"):page.index("</thead>")]
    return set(re.findall(r'href="[^"]*[?&;]sort=-?([a-z_]+)', head))


def _headings(page: str) -> list[str]:
    head = page[page.index("<thead>"):page.index("</thead>")]
    return [re.sub(r"<[^>]+>", "", h).split(" (")[0].strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head)]


def _names(page: str) -> list[str]:
    return re.findall(r">(P\d)<", page[page.index("<tbody"):])


def test_a_small_list_sorts_by_every_column(browser):
    page = text(browser.get("/r/person"))
    assert _linked(page) == {"name", "email", "age", "score", "vip"}
    assert _names(text(browser.get("/r/person?sort=score"))) == ["P1", "P3", "P4", "P2", "P0"]


def test_a_large_list_links_only_indexed_columns(browser, large):
    page = text(browser.get("/r/person"))
    assert _linked(page) == {"email", "age"}
    # The others are still named, as plain headings.
    assert {"name", "score", "vip"} <= {h.lower() for h in _headings(page)}
    # A later page of a large list is large too.
    nxt = re.search(r'href="([^"]*after=[^"]*)"', page).group(1).replace("&amp;", "&")
    assert _linked(text(browser.get(nxt))) == {"email", "age"}


def test_a_filter_that_narrows_a_large_list_brings_the_links_back(browser, large):
    page = text(browser.get("/r/person?ff=age&fo=gte&fv=30"))  # P0, P2, P4: three, on two pages
    assert _linked(page) == {"name", "email", "age", "score", "vip"}
    assert _names(text(browser.get("/r/person?ff=age&fo=gte&fv=30&sort=-score"))) == ["P0", "P2"]
    assert _linked(text(browser.get("/r/person?q=P1"))) == {"name", "email", "age", "score", "vip"}


def test_a_slow_sort_asked_by_url_is_refused_naming_the_field(browser, large):
    r = browser.get("/r/person?sort=-score")
    page = text(r)
    assert r.status_code == 200
    assert 'role="alert"' in page and "/sort/0" in page
    assert "more than 3 records" in page and "Score" in page and "indexes" in page
    assert _names(page) == []  # not an unsorted list that reads as sorted
    # An indexed field is sorted at any size.
    assert _names(text(browser.get("/r/person?sort=-age"))) == ["P2", "P4"]


def test_the_refusal_in_persian(browser, large):
    browser.post("/lang", {"lang": "fa", "next": "/r/person"})
    page = text(browser.get("/r/person?sort=-score"))
    assert 'role="alert"' in page and "/sort/0" in page and _names(page) == []


def test_rest_and_cli_still_answer_every_sort(platform, browser, large, cli):
    # The public contract: a sort answered before is answered now, whatever the list's size.
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = browser.client.get("/api/v1/records/person?sort=-score&limit=2", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert [item["data"]["name"] for item in r.json["items"]] == ["P0", "P2"]
    res = cli("records", "list", "person", "--sort", "-score", "--limit", "2", "--json")
    assert res.exit_code == 0, res.output
    assert [item["data"]["name"] for item in json.loads(res.output)] == ["P0", "P2"]
