"""Languages of the UI: English, Persian (right-to-left) and Chinese through Flask-Babel.

The user picks a language in the page header; the choice is kept in the session and in a
long-lived cookie so it survives logging out. Entity and field labels come from the type
definitions, which may carry ``{"en", "fa", "zh"}`` translations (:func:`tr`).
"""
from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel, get_locale

from .common import safe_next

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


def tr(label, default: str = "") -> str:
    """A definition label in the current language: a plain string, or a ``{lang: text}`` dict
    (falling back to English, then any translation, then ``default``)."""
    if isinstance(label, dict):
        return label.get(lang()) or label.get("en") or next(iter(label.values()), None) or default
    return label or default


def digits(value) -> str:
    """``value`` as text, with Persian digits when the UI is in Persian."""
    text = "" if value is None else str(value)
    return text.translate(_PERSIAN_DIGITS) if lang() == "fa" else text


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
    app.jinja_env.filters["digits"] = digits
