"""Hostile bidi controls in record data stay inside the data on the record page.

A record title or an activity summary is anyone's text; one that ends in an unclosed
right-to-left override (U+202E, "invoice\u202egpj.exe") reverses whatever the page writes
after it in the same line: the type in the window title ("invoice · Customer" shown as
"invoice remotsuC ·"), the closing parenthesis and the other record's name in a timeline
entry, the unlink button of a related record. The page drops the controls where it cannot
hold markup (``<title>``, a sentence); the stylesheet isolates a title's link inside a line
(``test_xss14_bidi_browser.py`` proves it in Chromium), so this audit takes a link as isolated.
"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from xrm_core.plugins import hookimpl

from test_ui_support import Browser, text

RLO = "\u202e"
GADGET = {"name": "gadget", "label": {"en": "Gadget"}, "title_field": "title",
          "schema": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}}


class Plug:
    __name__ = "xss14bidi"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [GADGET]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "g2g", "source": "gadget", "target": "gadget", "cardinality": "many-to-many",
                 "label": "uses", "inverse_label": "used by"}]


#: Elements whose text is a line of its own: an override left open inside stops at their end.
BLOCKS = {"title", "div", "p", "li", "td", "th", "h1", "h2", "h3", "dt", "dd", "option", "button",
          "label", "legend", "caption", "textarea", "summary"}


class BidiAudit(HTMLParser):
    """Lines where the page writes more text after ``data`` (text ending in an open override),
    with no isolate (``<bdi>``, an element with ``dir``) around ``data``."""

    def __init__(self, data: str):
        super().__init__(convert_charrefs=True)
        self.data = data
        self.stack: list[tuple[str, list]] = [("#root", [])]
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "br", "img", "meta", "link", "hr"):
            return
        self.stack.append((tag, [] if tag in BLOCKS else self._line()))
        if tag in ("bdi", "a") or dict(attrs).get("dir"):
            self.stack[-1] = (tag, [])  # its own isolate: what is inside cannot leak out

    def _line(self) -> list:
        return self.stack[-1][1]

    def handle_endtag(self, tag):
        while len(self.stack) > 1:
            name, line = self.stack.pop()
            if name in BLOCKS or name == "bdi" or line is not self._line():
                self._check(name, line)
            if name == tag:
                return

    def handle_data(self, data):
        self._line().append(data)

    def _check(self, name, line):
        whole = "".join(line)
        if self.data in whole and whole.split(self.data, 1)[1].strip():
            self.problems.append(f"<{name}>: {' '.join(whole.split())!r}")


def leaks(page: str, data: str) -> list[str]:
    audit = BidiAudit(data)
    audit.feed(page)
    audit.close()
    return audit.problems


def test_the_audit_tells_an_open_override_followed_by_text_from_an_isolated_one():
    ann = "Ann" + RLO
    assert leaks(f"<li>Vehicle: <span>{ann}</span> (2)</li>", ann)
    assert leaks(f"<title>{ann} · Gadget · xRM</title>", ann)
    assert leaks(f"<h1>Delete Vehicle {ann}?</h1>", ann)
    assert not leaks(f"<li>Vehicle: <a href=x><bdi>{ann}</bdi></a> (2)</li>", ann)
    assert not leaks(f"<li>Vehicle: <span>{ann}</span></li><li>next</li>", ann)
    assert not leaks("<title>Ann · Gadget · xRM</title>", ann)


@pytest.fixture
def site(make_platform):
    p = make_platform(Plug())
    with p.session() as s:
        ann = s.create("gadget", {"title": "invoice" + RLO + "gpj.exe"})
        cy = s.create("gadget", {"title": "Cy"})
        s.relate("g2g", cy.id, ann.id)
    b = Browser(p)
    b.login()
    return b, ann, cy


@pytest.mark.parametrize("page", ["own", "other", "own/edit", "own/delete", "own/link?rel=g2g:in",
                                  "other/link?rel=g2g:out", "list", "list?q=inv"])
def test_a_title_s_override_stays_inside_the_title(site, page):
    """Its own record page (window title, timeline), the page of a record linked to it
    (related list, timeline), its edit, delete and link pages, the list and a search."""
    b, ann, cy = site
    where, _, query = page.partition("?")
    path = {"own": f"/r/gadget/{ann.id}", "other": f"/r/gadget/{cy.id}", "list": "/r/gadget"}[where.split("/")[0]]
    path += where[len(where.split("/")[0]):] + ("?" + query if query else "")
    shown = text(b.get(path))
    hostile = ann.data["title"]
    # Shown as written inside <bdi>; inside a sentence or <title> (no markup) without its controls.
    assert hostile in shown or hostile.replace(RLO, "") in shown, path
    assert leaks(shown, hostile) == [], path
