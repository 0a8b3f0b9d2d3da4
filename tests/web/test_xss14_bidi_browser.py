"""A record title's open bidi override stays inside its link, in Chromium (the stylesheet's
``unicode-bidi: isolate``): the record page's related list and timeline, the link page.

The pages come from the Flask test client; Chromium lays them out with the UI's own
stylesheet, and a script finds every text node holding the hostile title, climbs to the
nearest box that ends a bidi run (an isolate, a block, an inline-block) and reports any
text the page writes after the title inside it. Skipped or failed like ``test_browser.py``
when Chromium or Playwright is missing (must run with ``CI`` set).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import xrm_core.web
from test_browser import chromium  # noqa: F401 — fixture by name
from test_ui_support import text
from test_xss14_bidi import Plug, site  # noqa: F401 — fixture by name

STYLE = Path(xrm_core.web.__file__).parent / "static" / "style.css"

FOLLOWED = """(hostile) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.data.includes(hostile)) continue;
    let box = n.parentElement;
    while (box !== document.body) {
      const cs = getComputedStyle(box);
      if (["isolate", "isolate-override", "plaintext"].includes(cs.unicodeBidi) || cs.display !== "inline") break;
      box = box.parentElement;
    }
    const after = document.createRange();
    after.setStartAfter(n);
    after.setEnd(box, box.childNodes.length);
    if (after.toString().trim()) found.push(box.tagName + ": " + box.textContent.replace(/\\s+/g, " ").trim());
  }
  return found;
}"""


@pytest.mark.parametrize("page_of", ["own", "other", "other/link?rel=g2g:out", "own/link?rel=g2g:in"])
def test_a_title_s_override_does_not_reverse_the_rest_of_its_line(site, chromium, page_of):  # noqa: F811
    b, ann, cy = site
    where, _, query = page_of.partition("/")
    path = f"/r/gadget/{(ann if where == 'own' else cy).id}" + ("/" + query if query else "")
    html = text(b.get(path))
    hostile = ann.data["title"]
    assert hostile in html, path
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(html)
        page.add_style_tag(content=STYLE.read_text())
        assert page.evaluate(FOLLOWED, hostile) == [], path
    finally:
        context.close()
