"""Languages of the UI: English, Persian (right-to-left) and Chinese through Flask-Babel.

The user picks a language in the page header; the choice is kept in the session and in a
long-lived cookie so it survives logging out. Text a plugin declares (labels of types,
fields, values, relationships, activity kinds, roles; a KPI's label, description and unit)
comes from its definitions, which may carry ``{"en", "fa", "zh"}`` translations, and from
the declaring plugin's own gettext catalogue (:func:`tr`, :mod:`.plugin_catalogues`).
"""
from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel, get_locale

from .common import safe_next
from .plugin_catalogues import translate

LANGUAGES = {"en": "English", "fa": "فارسی", "zh": "中文"}
RTL = {"fa"}
COOKIE = "xrm_lang"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The session's choice, else the cookie's, else the browser's best match, else English."""
    for lang in (session.get("lang"), request.cookies.get(COOKIE)):
        if lang in LANGUAGES:
            return lang
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def lang() -> str:
    return str(get_locale() or "en")


def tr(label, default: str = "", plugin: str | None = None) -> str:
    """A declared text in the current language.

    ``label`` is a plain string or a ``{lang: text}`` dict; ``plugin`` the ``source`` of
    the definition it comes from (a plugin's name, "core", or "admin"). A dict's own text in
    the language comes first; then the declaring plugin's catalogue translates the plain
    string, or the dict's English; then the dict falls back to English, then to any
    translation. ``default`` is shown when there is no text at all."""
    if isinstance(label, dict):
        here = lang()
        if label.get(here):
            return label[here]
        english = label.get("en")
        if plugin and isinstance(english, str) and english:
            translated = translate(plugin, english, here)
            if translated != english:
                return translated
        return english or next(iter(label.values()), None) or default
    if plugin and isinstance(label, str) and label:
        return translate(plugin, label, lang())
    return label or default


# What a page shows in Persian (the one rule, applied through these helpers): every number
# the UI writes — a count, a version, a line or item number, a KPI value, a number stored in
# a record, a date or a time (the platform's, and a record's ``date``/``date-time``/``time``
# values) — in Persian digits, a decimal number with the Persian decimal mark ٫. Left as they
# are: what a form's input holds (the user types it, the server reads it), and text that is
# data rather than a number (ids, codes, e-mail, URLs, free text), in every language.
# English and Chinese pages write ASCII digits.

def digits(value) -> str:
    """``value`` as text, with Persian digits when the UI is in Persian."""
    text = "" if value is None else str(value)
    return text.translate(_PERSIAN_DIGITS) if lang() == "fa" else text


def number(value) -> str:
    """A number (a JSON number of a record, an already formatted number's text) as the page
    writes it: on a Persian page in Persian digits with ٫ for the decimal point, a minus
    kept left of the digits (a left-to-right mark: a right-to-left line put it on their
    right). Grouping is left to the caller: a stored number is shown as stored (a year
    grouped as ۲٬۰۲۶ would read wrong)."""
    text = "" if value is None else str(value)
    if lang() != "fa":
        return text
    text = digits(text.replace(".", "\u066b"))
    return "\u200e" + text if text.startswith("-") else text


def moment(at) -> str:
    """A time the platform stored (``2026-11-27T18:59:03.123456+00:00``: a record's last
    change, an activity, a token's expiry) to the minute, in the page's digits."""
    return digits(at[:16]) if isinstance(at, str) else ""


#: Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): in a title they
#: would reach past it, an override reversing the words after it, a PDI closing our isolate.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def isolated(text: str) -> str:
    """``text`` kept in its own reading order inside a right-to-left sentence (FSI … PDI): a
    Latin title with a number at its end ("Ward 3") would else be read around the Persian
    words next to it. A flash message is text, so the marks stand in for ``<bdi>``. The
    text's own bidi controls are dropped, in every language: they would act on the rest of
    the sentence."""
    text = text.translate(_BIDI_CONTROLS)
    return f"\u2068{text}\u2069" if lang() in RTL else text


@bp.post("/lang")
def set_language():
    """Remember the chosen language and go back to the page the user was on."""
    choice = request.form.get("lang", "")
    resp = redirect(safe_next(request.form.get("next")))
    if choice in LANGUAGES:
        session["lang"] = choice
        resp.set_cookie(COOKIE, choice, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return resp


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(tr=tr, lang=lang, LANGUAGES=LANGUAGES,
                                 text_direction=lambda: "rtl" if lang() in RTL else "ltr")
    app.jinja_env.filters.update(digits=digits, number=number, moment=moment)
