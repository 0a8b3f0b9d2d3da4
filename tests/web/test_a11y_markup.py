"""Accessibility of every admin UI page's markup (WCAG 2.1 AA basics), in English, Persian
and Chinese: a name for every control, errors tied to their inputs and summarised with links
to them, one h1 and no skipped heading level, labelled landmarks and a skip link, ``lang``
and ``dir`` on <html>, tables with headings, distinct page titles.

Runs on both engines through the Flask test client; tests/web/test_a11y_browser.py checks
in Chromium what only a browser shows (focus, keyboard, contrast as drawn)."""
from __future__ import annotations

import html
import re
from datetime import date

import pytest

from test_a11y_support import accessible_name, audit, parse
from test_ui_support import Browser, text


@pytest.fixture
def site(org):
    """The test plugin's people with a nested address, tags and links; an administrator."""
    with org.session() as s:
        ada = s.create("person", {"name": "Ada", "age": 36, "tags": ["vip", "north"],
                                  "address": {"city": "Tehran", "line1": "Vali-e Asr"}, "national_id": "AB123"})
        bob = s.create("person", {"name": "Bob"})
        s.relate("knows", ada.id, bob.id)
        s.update(ada.id, {"age": 37})
        s.log(ada.id, "call", "Called about the address")
    b = Browser(org)
    b.login()
    return org, b, ada, bob


def _pages(ada, bob) -> list[str]:
    return ["/", "/r/person", "/r/person?ff=age&fo=gt&fv=x", f"/r/person/{ada.id}", "/r/person/new",
            f"/r/person/{ada.id}/edit", f"/r/person/{ada.id}/delete", f"/r/person/{ada.id}/link?rel=knows:out",
            "/types/", "/types/person", "/admin/units", "/admin/users", "/admin/users/manager_a",
            "/admin/roles", "/admin/tokens", "/r/person/nothing"]


@pytest.mark.parametrize("language", ["en", "fa", "zh"])
def test_every_page_passes_the_markup_audit(site, language):
    org, b, ada, bob = site
    b.post("/lang", {"lang": language, "next": "/"})
    titles = {}
    for path in _pages(ada, bob):
        r = b.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        page = text(r)
        assert audit(page, language) == [], path
        titles[path] = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    # Each page's title says which page it is: no two alike (the filtered list is the list).
    distinct = {p: t for p, t in titles.items() if "?ff=" not in p}
    assert len(set(distinct.values())) == len(distinct), titles
    # The login page and a refused login, logged out.
    anon = Browser(org)
    anon.post("/lang", {"lang": language, "next": "/login"})
    assert audit(text(anon.get("/login")), language) == []
    refused = text(anon.post("/login", {"username": "admin", "password": "wrong"}))
    assert audit(refused, language) == []


def test_a_refused_login_marks_both_inputs_with_the_message(site):
    org, _b, _ada, _bob = site
    anon = Browser(org)
    page = text(anon.post("/login", {"username": "admin", "password": "wrong"}))
    doc = parse(page)
    [message] = [n for n in doc.iter() if n.attrs.get("id") == "login-error"]
    assert message.attrs["role"] == "alert" and message.text() == "Wrong user name or password."
    inputs = [n for n in doc.iter() if n.tag == "input" and n.attrs.get("name") in ("username", "password")]
    assert [(i.attrs.get("aria-invalid"), i.attrs.get("aria-describedby")) for i in inputs] == \
        [("true", "login-error")] * 2
    # Not marked before anything was typed.
    assert "aria-invalid" not in text(anon.get("/login"))


def _field_errors(page: str) -> dict:
    return {k: html.unescape(v) for k, v in re.findall(r'<span class="error" id="err-([^"]+)">([^<]*)</span>', page)}


@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_refused_form_ties_each_error_to_its_input_and_links_to_it(site, language):
    """A nested object with a wrong member and an array with a wrong item: each input says
    it is invalid, is described by its own message, and the summary at the top links to it."""
    org, b, ada, _bob = site
    b.post("/lang", {"lang": language, "next": "/"})
    b.get("/r/person/new")
    r = b.post("/r/person/new", {"name": "", "age": "-4", "tags": '["ok", 5]', "address": '{"city": 7}'})
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    doc = parse(page)
    invalid = {n.attrs["name"]: n for n in doc.iter() if n.attrs.get("aria-invalid") == "true"}
    assert set(invalid) == {"name", "age", "tags", "address"} == set(_field_errors(page))
    for name, node in invalid.items():
        assert f"err-{name}" in node.attrs["aria-describedby"].split()
        assert node.tag == ("textarea" if name in ("tags", "address") else "input")
    summary = next(n for n in doc.iter() if "summary" in n.attrs.get("class", "").split())
    assert summary.attrs["role"] == "alert"
    targets = [a.attrs["href"] for a in summary.iter() if a.tag == "a"]
    assert targets == ["#f-name", "#f-age", "#f-tags", "#f-address"]  # in the form's order
    # The JSON inputs say they take JSON in their name, not only in a note beside them.
    assert "JSON" in accessible_name(invalid["address"], doc) and "JSON" in accessible_name(invalid["tags"], doc)
    # The asterisk is explained.
    assert "*" in next(n for n in doc.iter() if n.tag == "p" and "*" in n.text()).text()
    with org.session() as s:
        assert [p.data["name"] for p in s.list("person")] == ["Ada", "Bob"]  # nothing stored


def test_a_refused_list_filter_marks_its_row(site):
    org, b, _ada, _bob = site
    page = text(b.get("/r/person?ff=age&fo=gt&fv=x&ff=name&fo=eq&fv=Ada"))
    doc = parse(page)
    error = next(n for n in doc.iter() if n.attrs.get("id") == "filter-error")
    assert error.attrs["role"] == "alert" and "/where/age" in error.text()
    rows = [n for n in doc.iter() if "filter-row" in n.attrs.get("class", "")]
    marked = [[c.attrs.get("name") for c in row.iter() if c.attrs.get("aria-invalid") == "true"] for row in rows]
    assert marked == [["ff", "fv"], [], []]  # the age row only; the empty row to add one is not
    names = [accessible_name(c, doc) for c in rows[1].iter() if c.tag in ("select", "input")]
    assert names == ["Filter 2: field", "Filter 2: operator", "Filter 2: value"]


def test_a_kpi_trend_is_read_as_its_values(make_platform):
    """The trend chart was named only by the KPI's label: a screen reader heard the heading
    twice and none of the twelve values."""
    from conftest import PersonPlugin
    from xrm_core.plugins import hookimpl

    class Kpis:
        __name__ = "kpis"

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return [{"name": "people", "label": "People", "unit": "count", "entity": "person",
                     "time_field": "born", "measure": {"count": True}}]

    p = make_platform(PersonPlugin(), Kpis())
    with p.session() as s:
        s.create("person", {"name": "A", "born": date.today().isoformat()})
    b = Browser(p)
    b.login()
    page = text(b.get("/"))
    [label] = re.findall(r'<svg class="spark"[^>]*aria-label="([^"]*)"', page)
    assert label.startswith("People by month, ") and label.count(",") >= 12, label
    b.post("/lang", {"lang": "fa", "next": "/"})
    [label] = re.findall(r'<svg class="spark"[^>]*aria-label="([^"]*)"', text(b.get("/")))
    assert "People" in label and "by month" not in label and re.search("[۰-۹]{4}", label), label


def test_the_unit_tree_is_a_nested_list(site):
    """The units page listed every unit at one level, indented by a class: a screen reader
    could not tell which unit is inside which."""
    _org, b, _ada, _bob = site
    doc = parse(text(b.get("/admin/units")))
    item = next(n for n in doc.iter() if n.tag == "li" and n.children and n.children[0] == "dealer_a")
    outer = [a.children[0] for a in item.ancestors() if a.tag == "li"]
    assert outer == ["north", "hq", "root"]
    top = next(n for n in doc.iter() if n.tag == "ul" and "tree" in n.attrs.get("class", ""))
    assert [c.children[0] for c in top.children] == ["root"]  # one root; the rest inside it


def test_messages_after_an_action_are_announced(site):
    """"Created.", "Saved.", "Not deleted: …" appeared at the top of the next page without a
    live region: a screen reader said nothing of them."""
    org, b, ada, bob = site
    b.get(f"/r/person/{bob.id}")
    b.post(f"/r/person/{bob.id}/log", {"kind": "call", "summary": "Called"})
    assert '<div class="flashes" role="status"><p class="flash ok">Interaction logged.</p></div>' in text(b.followed)
    r = b.post(f"/r/person/{bob.id}/log", {"kind": "fax", "summary": "x"})  # shown again, said at the form
    assert re.search(r'<div class="flash error summary" role="alert" id="log-errors" tabindex="-1">.*?<li>Not logged: unknown '
                     r'activity kind', text(r), re.S)


def test_the_audit_finds_what_it_looks_for():
    """Each check can fail: a page with one of each problem gets one report of each."""
    bad = """<!doctype html><html lang="fa" dir="ltr"><head><title> · xRM</title></head><body>
      <header><nav><a href="/">x</a></nav><nav><a href="/">y</a></nav></header>
      <main><h2>Late</h2><h1>One</h1><h1>Two</h1><h4>Deep</h4>
      <input name="q"><input name="x" aria-invalid="true"><select id="s" aria-describedby="gone"></select>
      <button></button><a href="/z"></a><svg role="img"></svg><a href="#nowhere">go</a>
      <table><tr><td>1</td></tr></table><p id="d">a</p><p id="d">b</p></main></body></html>"""
    problems = "\n".join(audit(bad))
    for expected in ("lang='fa' dir='ltr'", "<title>", "no id 'main'", "distinct names", "skip link",
                     "headings [2, 1, 1, 4]", "h1 then h4", "control without a label: <input name=\"q\">",
                     "invalid control <input name=\"x\">", "missing id 'gone'", "button without a name",
                     "link without text", "image without a text alternative", "in-page link to a missing id",
                     "table without headings", "id 'd' used twice"):
        assert expected in problems, (expected, problems)
