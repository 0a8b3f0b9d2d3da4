"""The stylesheet's colours meet WCAG 2.1 AA contrast: every text colour on every background
colour it declares at least 4.5:1, and the border that shows an input or a button, and the
focus ring, at least 3:1 (1.4.11) — computed from xrm_core/web/static/style.css itself, so a
colour changed there is checked without a browser (tests/web/test_a11y_browser.py checks
the pages as drawn)."""
from __future__ import annotations

import re
from pathlib import Path

CSS = (Path(__file__).parents[2] / "xrm_core" / "web" / "static" / "style.css").read_text()

#: Custom properties that colour text, and those that fill a background.
TEXT = ("--fg", "--muted", "--accent", "--err-fg", "--new-fg", "--danger")
BACKGROUNDS = ("--bg", "--th", "--ok", "--err")


def _variables() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS, re.S).group(1)
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", root))


def _hex(colour: str) -> tuple[float, float, float]:
    h = colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def ratio(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours."""
    def lum(colour):
        r, g, b_ = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in _hex(colour))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_ratio_is_computed_as_wcag_defines_it():
    assert round(ratio("#000", "#fff"), 2) == 21.0
    assert round(ratio("#767676", "#fff"), 2) == 4.54  # the well-known lightest AA grey on white
    assert ratio("#d9dee7", "#fff") < 1.5  # the old input border


def test_every_text_colour_is_readable_on_every_background():
    v = _variables()
    backgrounds = {"#fff": "#fff", **{name: v[name] for name in BACKGROUNDS}}
    low = [(t, b, round(ratio(v[t], colour), 2)) for t in TEXT for b, colour in backgrounds.items()
           if ratio(v[t], colour) < 4.5]
    assert low == []


def test_controls_and_the_focus_ring_stand_out_from_their_background():
    v = _variables()
    assert re.search(r"input, select, textarea \{[^}]*border: 1px solid var\(--control\)", CSS)
    assert re.search(r"button, \.button \{[^}]*border: 1px solid var\(--control\)", CSS)
    assert re.search(r":focus-visible[^{]*\{ outline: 3px solid var\(--accent\)", CSS)
    for part in ("--control", "--accent"):
        for bg in ("#fff", v["--bg"]):
            assert ratio(v[part], bg) >= 3, (part, bg)


def test_no_text_colour_is_written_outside_the_checked_variables():
    """A colour written straight into a rule would escape the checks above."""
    body = re.sub(r":root\s*\{.*?\}", "", CSS, count=1, flags=re.S)
    literal = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6}|rgb[^;]*)", body)
    assert literal == []
    used = set(re.findall(r"(?<![-\w])color:\s*var\((--[\w-]+)\)", body))
    assert used <= set(TEXT), used - set(TEXT)
    fills = set(re.findall(r"background(?:-color)?:\s*var\((--[\w-]+)\)", body))
    assert fills <= set(BACKGROUNDS), fills - set(BACKGROUNDS)
    assert set(re.findall(r"background(?:-color)?:\s*(#[0-9a-fA-F]{3,6})", body)) <= {"#fff"}
