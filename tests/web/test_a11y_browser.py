"""Accessibility in a real browser (Chromium through Playwright, the server and demo data of
tests/web/test_browser.py), in English, Persian and Chinese: what only the browser knows —
the accessible names Chromium computes, the contrast of the colours as drawn, a visible
focus on every stop of the keyboard, the skip link, no keyboard trap, and a form filled in
and corrected with the keyboard alone."""
from __future__ import annotations

import json
import re

import pytest

from test_browser import _login, _shot, _xrm, chromium, page, site  # noqa: F401 — fixtures used by name

#: Every text drawn on the page whose contrast with what is behind it is below WCAG 2.1 AA
#: (4.5:1; 3:1 for large text: 24px, or 18.66px bold). The background is the first opaque
#: one among the element and its ancestors, with translucent ones blended over it.
_LOW_CONTRAST = """() => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const st = getComputedStyle(el), r = el.getBoundingClientRect();
    if (st.visibility === 'hidden' || st.display === 'none' || r.width <= 1 || r.height <= 1 || el.closest('[aria-hidden=true]')) continue;
    if (el.closest('.visually-hidden') || (el.closest('a.skip') && document.activeElement !== el.closest('a.skip'))) continue;
    const fg = over(rgba(st.color), background(el));
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    let opacity = 1; for (let n = el; n; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
    if (ratio < need || opacity < 1) out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)} < ${need}`);
  }
  return out;
}"""

#: The element that has the focus and how its focus is drawn.
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const st = getComputedStyle(el), r = el.getBoundingClientRect();
  return {at: [...document.querySelectorAll('*')].indexOf(el), tag: el.tagName.toLowerCase(), text: (el.textContent || el.value || '').trim().slice(0, 30),
          name: el.getAttribute('name'), id: el.id, cls: el.className,
          outline: st.outlineStyle !== 'none' ? parseFloat(st.outlineWidth) : 0, shadow: st.boxShadow !== 'none',
          visible: r.width > 1 && r.height > 1 && r.bottom > -50};
}"""


def _pages(site) -> list[str]:
    """Pages of every kind on the demo data: lists, a record with links and history, forms."""
    made = json.loads(_xrm(site[1], "records", "list", "customer", "--limit", "1", "--json"))[0]
    rid = made["id"]
    return ["/", "/r/customer", f"/r/customer/{rid}", "/r/customer/new", f"/r/customer/{rid}/edit",
            f"/r/customer/{rid}/delete", "/types/", "/types/customer", "/admin/units", "/admin/users",
            "/admin/roles", "/admin/tokens", "/r/customer/nothing"]


def _names(page) -> list[str]:
    """Controls and links Chromium's accessibility tree gives no name."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    roles = {"textbox", "combobox", "checkbox", "button", "link", "searchbox", "spinbutton", "listbox", "radio"}
    out = []
    for n in nodes:
        role = (n.get("role") or {}).get("value")
        if role in roles and not n.get("ignored") and not ((n.get("name") or {}).get("value") or "").strip():
            out.append(f"{role} (backend node {n.get('backendDOMNodeId')})")
    cdp.detach()
    return out


@pytest.mark.parametrize("language", ["en", "fa", "zh"])
def test_every_page_has_names_for_its_controls_and_enough_contrast(page, site, language):  # noqa: F811
    _login(page)
    if language != "en":
        page.click(f"form.lang button[value={language}]")
    for path in _pages(site):
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == language
        assert _names(page) == [], path
        assert page.evaluate(_LOW_CONTRAST) == [], path
    # A form refused with errors, and the login page with a refused login.
    page.goto("/r/customer/new")
    page.click("form.record button[type=submit]")
    assert page.evaluate(_LOW_CONTRAST) == [] and _names(page) == []
    page.click("form.logout button")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("section.login button[type=submit]")
    assert page.locator("#login-error").is_visible()
    assert page.evaluate(_LOW_CONTRAST) == [] and _names(page) == []


def _region(page, handle):
    """A screenshot of the element and the few pixels around it (where a focus ring is drawn)."""
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    vw, vh = page.viewport_size["width"], page.viewport_size["height"]
    x, y = max(0, box["x"] - 6), max(0, box["y"] - 6)
    w, h = min(vw - x, box["width"] + 12), min(vh - y, box["height"] + 12)
    return page.screenshot(clip={"x": x, "y": y, "width": max(1, w), "height": max(1, h)}, animations="disabled")


def _tab_through(page, limit: int = 400) -> list[dict]:
    """Every stop of the keyboard from the page's start until the focus leaves the page, each
    with ``shown``: whether the stop looks different with the focus than right after it
    moved on (a focus drawn in any way: an outline, a ring Chromium draws inside a date
    input, a skip link that appears)."""
    # A blinking caret alone would tell the pictures apart: it is hidden (CSSOM, which the
    # page's CSP allows), so only a drawn focus counts.
    page.evaluate("() => document.documentElement.style.setProperty('caret-color', 'transparent')")
    stops, first = [], None
    previous = None  # (stop, handle, picture with the focus)
    for _ in range(limit):
        page.keyboard.press("Tab")
        here = page.evaluate(_FOCUSED)
        if previous is not None:
            stop, handle, focused = previous
            stop["shown"] = _region(page, handle) != focused
        if here is None or (first is not None and here == first):
            return stops
        first = first or here
        handle = page.evaluate_handle("() => document.activeElement")
        stops.append(here)
        previous = (here, handle, _region(page, handle))
    raise AssertionError(f"the focus did not leave the page after {limit} stops (a trap?): {stops[-5:]}")


@pytest.mark.parametrize("language", ["en", "fa"])
def test_the_keyboard_reaches_everything_with_a_visible_focus(page, site, language):  # noqa: F811
    _login(page)
    if language != "en":
        page.click(f"form.lang button[value={language}]")
    for path in _pages(site)[:6]:
        page.goto(path)
        stops = _tab_through(page)
        # The first stop is the skip link, shown once it has the focus.
        assert stops[0]["cls"] == "skip" and stops[0]["visible"], (path, stops[0])
        hidden = [s for s in stops if not s["shown"]]
        assert hidden == [], (path, hidden)  # every stop draws its focus
        # Everything the page offers is reached (no control left out of the tab order).
        reachable = page.evaluate("""() => { const all = [...document.querySelectorAll('*')];
            return [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
              .filter(e => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
              .map(e => all.indexOf(e)); }""")
        assert {s["at"] for s in stops} == set(reachable), path


def test_the_skip_link_moves_the_focus_to_the_page(page):  # noqa: F811
    _login(page)
    page.goto("/r/customer")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert skip.evaluate("e => e === document.activeElement") and skip.bounding_box()["y"] >= 0
    _shot(page, "a11y-skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is in the page, past the header's links and buttons
    assert page.evaluate("() => document.activeElement.closest('main') !== null")


def test_a_form_is_filled_and_corrected_with_the_keyboard_alone(page, site):  # noqa: F811
    """Persian: type into the form without a mouse, submit with Enter, follow the error
    summary's link to the refused input, correct it, save."""
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/r/customer/new")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Enter")
    while page.evaluate("() => document.activeElement.id") != "f-name":
        page.keyboard.press("Tab")
    page.keyboard.type("Keyboard Only")
    while page.evaluate("() => document.activeElement.id") != "f-national_id":
        page.keyboard.press("Tab")
    page.keyboard.type("no!")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector(".flash.summary")
    summary = page.locator(".flash.summary")
    assert summary.get_attribute("role") == "alert"
    link = summary.locator("a[href='#f-national_id']")
    assert link.count() == 1
    _shot(page, "a11y-form-error-fa", full_page=True)
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "f-national_id"
    field = page.locator("#f-national_id")
    assert field.get_attribute("aria-invalid") == "true"
    described = page.locator("#" + field.get_attribute("aria-describedby").split()[0]).inner_text()
    assert re.search("[\u0600-\u06ff]", described), described  # said in Persian
    page.keyboard.press("Control+a")
    page.keyboard.type("KB12345")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/r/customer/(?!new)[^/#]+(#.*)?$"))  # a redirect keeps the fragment
    assert "Keyboard Only" in page.locator("h1").inner_text()


def test_the_checks_find_what_they_look_for(chromium, site):  # noqa: F811
    """The checks above can fail: a faint text, a focus ring taken away and a label removed
    are each reported (the page's CSP is bypassed to add the faulty style)."""
    context = chromium.new_context(base_url=site[0], viewport={"width": 1280, "height": 860}, bypass_csp=True)
    page = context.new_page()  # noqa: F811
    _login(page)
    page.goto("/r/customer/new")
    assert page.evaluate(_LOW_CONTRAST) == [] and _names(page) == []
    page.add_style_tag(content=":focus, :focus-visible { outline: none !important; } "
                               "small.muted { color: #aab !important; }")
    assert any("small" in problem for problem in page.evaluate(_LOW_CONTRAST))
    page.evaluate("() => document.querySelector('label[for=f-name]').remove()")
    assert len(_names(page)) == 1
    stops = _tab_through(page)
    unseen = {s["id"] for s in stops if not s["shown"]}
    context.close()
    assert {"f-name", "f-name_latin", "f-national_id"} <= unseen
