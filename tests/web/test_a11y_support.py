"""Shared helpers of the accessibility tests (no tests here): a small HTML tree and the
WCAG 2.1 AA checks that can be made on a page's markup alone.

:func:`audit` returns every problem of a page as a sentence naming the element, so a failing
test says what to fix: a control without a name, an error not tied to its input, a skipped
heading level, a table without headings, a missing landmark or skip link, a broken id
reference, a missing ``lang``/``dir``.
"""
from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
CONTROLS = {"input", "select", "textarea"}
#: Input types that need no label of their own (a button's name is its value or text).
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}
LANG_DIR = {"en": "ltr", "fa": "rtl", "zh": "ltr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: "Node | None"):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        """The text inside, as a screen reader would read it (aria-hidden parts left out)."""
        if self.attrs.get("aria-hidden") == "true":
            return ""
        return " ".join(c.text() if isinstance(c, Node) else c for c in self.children).strip()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def ancestors(self):
        n = self.parent
        while n is not None:
            yield n
            n = n.parent

    def describe(self) -> str:
        keys = ("id", "name", "type", "class", "href")
        shown = " ".join(f'{k}="{self.attrs[k]}"' for k in keys if self.attrs.get(k))
        return f"<{self.tag} {shown}>".replace(" >", ">")


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        if data.strip():
            self.cur.children.append(data.strip())


def parse(html: str) -> Node:
    b = _Builder()
    b.feed(html)
    return b.root


def accessible_name(node: Node, doc: Node) -> str:
    """The name a control or link gets: aria-labelledby, aria-label, a ``<label for>``, a
    wrapping label, then its own text (buttons, links) — the order of the accname spec."""
    ids = {n.attrs["id"]: n for n in doc.iter() if n.attrs.get("id")}
    if node.attrs.get("aria-labelledby"):
        return " ".join(ids[i].text() for i in node.attrs["aria-labelledby"].split() if i in ids).strip()
    if node.attrs.get("aria-label", "").strip():
        return node.attrs["aria-label"].strip()
    if node.tag in CONTROLS and node.attrs.get("id"):
        labels = [n for n in doc.iter() if n.tag == "label" and n.attrs.get("for") == node.attrs["id"]]
        if labels:
            return " ".join(lbl.text() for lbl in labels).strip()
    if node.tag in CONTROLS:
        wrapping = next((a for a in node.ancestors() if a.tag == "label"), None)
        if wrapping is not None:
            return wrapping.text()
        return node.attrs.get("title", "").strip()
    return node.text() or node.attrs.get("title", "").strip()


def audit(html: str, language: str | None = None) -> list[str]:
    """Every markup problem of a page (empty when there is none)."""
    doc = parse(html)
    problems = []
    nodes = list(doc.iter())
    by_tag = lambda t: [n for n in nodes if n.tag == t]  # noqa: E731
    [root] = by_tag("html") or [Node("html", {}, None)]
    lang, direction = root.attrs.get("lang"), root.attrs.get("dir")
    if lang not in LANG_DIR or direction != LANG_DIR[lang]:
        problems.append(f"<html> has lang={lang!r} dir={direction!r}")
    if language and lang != language:
        problems.append(f"<html lang={lang!r}> on a page asked for in {language}")
    titles = by_tag("title")
    if len(titles) != 1 or not titles[0].text() or titles[0].text().startswith("·"):
        problems.append(f"the page's <title> is {[t.text() for t in titles]!r}")
    # Landmarks: one banner, one main (the skip link's target), every nav named and distinct.
    mains = by_tag("main")
    if len(mains) != 1 or mains[0].attrs.get("id") != "main":
        problems.append(f"{len(mains)} <main> elements, or the one has no id 'main'")
    if len(by_tag("header")) != 1:
        problems.append("no single <header> (banner landmark)")
    # A landmark's name is its aria-label(ledby) only, never its content.
    navs = [accessible_name(n, doc) if n.attrs.get("aria-label") or n.attrs.get("aria-labelledby") else ""
            for n in by_tag("nav")]
    if any(not name for name in navs) or len(set(navs)) != len(navs):
        problems.append(f"<nav> landmarks need distinct names, got {navs!r}")
    links = by_tag("a")
    if not links or links[0].attrs.get("href") != "#main" or "skip" not in links[0].attrs.get("class", ""):
        problems.append("the first link is not the skip link to #main")
    # Headings: exactly one h1, first; no level skipped on the way down.
    levels = [int(n.tag[1]) for n in nodes if n.tag in ("h1", "h2", "h3", "h4", "h5", "h6")]
    if levels.count(1) != 1 or levels[0] != 1:
        problems.append(f"headings {levels}: one h1, first")
    for a, b in zip(levels, levels[1:]):
        if b > a + 1:
            problems.append(f"heading level skipped: h{a} then h{b}")
    for n in by_tag("h1") + by_tag("h2") + by_tag("h3"):
        if not n.text():
            problems.append(f"empty heading {n.describe()}")
    # Ids: unique, and every reference to one resolves to text.
    ids: dict[str, Node] = {}
    for n in nodes:
        i = n.attrs.get("id")
        if i is not None:
            if i in ids:
                problems.append(f"id {i!r} used twice")
            ids[i] = n
    for n in nodes:
        for attr in ("aria-describedby", "aria-labelledby"):
            for ref in n.attrs.get(attr, "").split():
                if ref not in ids:
                    problems.append(f"{n.describe()} {attr} names the missing id {ref!r}")
                elif not ids[ref].text():
                    problems.append(f"{n.describe()} {attr} names {ref!r}, which has no text")
        if n.attrs.get("for") and n.attrs["for"] not in ids:
            problems.append(f"<label for={n.attrs['for']!r}> names no element")
    # Every control has a name; an invalid one says why.
    for n in nodes:
        if n.tag in CONTROLS and n.attrs.get("type", "text") not in UNLABELLED_INPUTS:
            if not accessible_name(n, doc):
                problems.append(f"control without a label: {n.describe()}")
            if n.attrs.get("aria-invalid") == "true":
                described = [ids[r] for r in n.attrs.get("aria-describedby", "").split() if r in ids]
                if not any(d.text() for d in described):
                    problems.append(f"invalid control {n.describe()} is not described by a message")
        if n.tag == "button" and not accessible_name(n, doc):
            problems.append(f"button without a name: {n.describe()}")
        if n.tag == "a" and n.attrs.get("href") is not None and not accessible_name(n, doc):
            problems.append(f"link without text: {n.describe()}")
        if n.attrs.get("role") == "img" and not n.attrs.get("aria-label", "").strip():
            problems.append(f"image without a text alternative: {n.describe()}")
        if n.tag == "a" and n.attrs.get("href", "").startswith("#") and len(n.attrs["href"]) > 1:
            if n.attrs["href"][1:] not in ids:
                problems.append(f"in-page link to a missing id: {n.describe()}")
    # Tables: column headings, none empty; a table without them (a timeline's diff, whose
    # rows other tools read cell by cell) says what its columns are in a caption.
    for t in by_tag("table"):
        ths = [n for n in t.iter() if n.tag == "th"]
        captions = [n for n in t.children if isinstance(n, Node) and n.tag == "caption" and n.text()]
        if not ths and not captions:
            problems.append(f"table without headings or a caption naming its columns: {t.describe()}")
        for th in ths:
            if not th.text():
                problems.append(f"empty table heading in {t.describe()}")
    return problems
