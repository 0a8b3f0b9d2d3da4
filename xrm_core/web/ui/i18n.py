"""Languages of the UI: English, Persian (right-to-left) and Chinese through Flask-Babel.

The user picks a language in the page header; the choice is kept in the session and in a
long-lived cookie so it survives logging out. Text a plugin declares (labels of types,
fields, values, relationships, activity kinds, roles; a KPI's label, description and unit)
comes from its definitions, which may carry ``{"en", "fa", "zh"}`` translations, and from
the declaring plugin's own gettext catalogue (:func:`tr`, :mod:`.plugin_catalogues`).

Times are written, and a form's date-time inputs read, in the user's time zone
(:func:`select_timezone`): the user's own (stored with the user: the preferences page,
``xrm users set-time-zone``), else the browser's (the ``xrm_tz`` cookie ``time-zone.js``
sets), else the server's default (``XRM_BABEL_DEFAULT_TIMEZONE``, else UTC).
"""
from __future__ import annotations

import decimal
import math
from datetime import date, datetime, timedelta, timezone
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal
from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel, get_locale, get_timezone
from markupsafe import Markup

from ... import accounts
from . import jalali
from .common import safe_next
from .plugin_catalogues import translate

LANGUAGES = {"en": "English", "fa": "فارسی", "zh": "中文"}
RTL = {"fa"}
COOKIE = "xrm_lang"
#: The browser's time zone, as static/time-zone.js writes it (an IANA name, URL-encoded).
ZONE_COOKIE = "xrm_tz"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The session's choice, else the cookie's, else the browser's best match, else English."""
    for lang in (session.get("lang"), request.cookies.get(COOKIE)):
        if lang in LANGUAGES:
            return lang
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def browser_zone() -> str | None:
    """The browser's time zone from the ``xrm_tz`` cookie, in its IANA spelling; None when
    there is none or it names no zone the server knows (a cookie is the client's to write:
    it is never opened as a path or shown unchecked)."""
    raw = request.cookies.get(ZONE_COOKIE) if request else None
    return accounts.known_time_zone(unquote(raw)) if raw else None


def zone_source() -> str:
    """Whose time zone the page uses: "own" (the user's), "browser" or "server"."""
    if accounts.known_time_zone(g.get("time_zone")):
        return "own"
    return "browser" if browser_zone() else "server"


def select_timezone():
    """Flask-Babel's time zone of the request: the logged-in user's own zone (read with the
    session, ``auth._load_user``), else the browser's, else None (Flask-Babel then uses
    ``BABEL_DEFAULT_TIMEZONE``). A stored zone the system's database no longer knows is
    passed over rather than failing every page."""
    zone = accounts.known_time_zone(g.get("time_zone")) or browser_zone()
    return ZoneInfo(zone) if zone else None


def zone_name() -> str:
    """The IANA name of the page's time zone (``Asia/Tehran``, ``UTC``)."""
    return str(get_timezone() or "UTC")


def local_zone() -> ZoneInfo:
    """The page's time zone as a ``ZoneInfo``, for reading a typed local time (Flask-Babel
    gives the server's default as a pytz zone, which ``datetime.replace`` misreads)."""
    try:
        return ZoneInfo(zone_name())
    except (ValueError, OSError):  # a default pytz knows and zoneinfo does not
        return ZoneInfo("UTC")


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
# English and Chinese pages write ASCII digits. In every language a number from
# GROUPED_FROM on is grouped, and a time or date is written as the language writes one
# (Babel's CLDR patterns; a Persian page's dates in the Solar Hijri calendar, :mod:`.jalali`),
# the stored text kept in ``<time datetime>``.

def digits(value) -> str:
    """``value`` as text, with Persian digits when the UI is in Persian."""
    text = "" if value is None else str(value)
    return text.translate(_PERSIAN_DIGITS) if lang() == "fa" else text


#: A number from this size on is grouped (17,200,000,000; ۱۷٬۲۰۰٬۰۰۰٬۰۰۰): CLDR's "minimum
#: grouping digits" of 2, so that a four-digit number — a year, a model number — reads as
#: written (2026, not 2,026).
GROUPED_FROM = 10000


def number(value) -> str:
    """A number (a JSON number of a record, an already formatted number's text) as the page
    writes it: a JSON number with the separators of the page's language (Babel's
    ``format_decimal``, every decimal kept), grouped from :data:`GROUPED_FROM` on; on a
    Persian page in Persian digits with ٬ between groups and ٫ for the decimal point, a
    minus kept left of the digits (a left-to-right mark: a right-to-left line put it on
    their right). Text (already formatted) keeps its grouping as it is."""
    text = _grouped(value)
    if text is None:
        text = "" if value is None else str(value)
        if lang() == "fa":
            text = text.replace(".", "\u066b")
    if lang() != "fa":
        return text
    text = digits(text)
    return "\u200e" + text if text.startswith("-") else text


def _grouped(value) -> str | None:
    """A JSON number in the page's locale's symbols, or None for anything else (text, a
    boolean, an infinity, an integer too long for Babel's decimal context)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return format_decimal(value, locale=lang(), numbering_system="default", decimal_quantization=False,
                              group_separator=abs(value) >= GROUPED_FROM)
    except (decimal.InvalidOperation, ValueError, OverflowError):
        return None


def when(at) -> datetime | None:
    """A time the platform stored (RFC 3339 text, or a datetime) as an aware datetime, or None."""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(at, datetime):
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def moment(at) -> Markup:
    """A time the platform stored (``2026-11-27T18:59:03.123456+00:00``: a record's last
    change, an activity, a token's expiry) as a reader of the page's language writes it,
    to the minute (en "Nov 27, 2026, 6:59 PM", zh "2026年11月27日 18:59", fa in the Solar Hijri
    calendar "۶ آذر ۱۴۰۵، ۱۸:۵۹"), in the user's time zone (:func:`select_timezone`; Flask-Babel's
    ``BABEL_DEFAULT_TIMEZONE``, UTC unless set, when neither the user nor the browser has
    one) — inside ``<time datetime=…>`` holding the stored value for machines, and its
    UTC minute as the element's title. Text that is no time is shown as it is."""
    if at is None or at == "":
        return Markup("")
    dt = when(at)
    if dt is None:
        return Markup("%s") % digits(at)
    local = dt.astimezone(get_timezone() or timezone.utc)
    iso = at if isinstance(at, str) else dt.isoformat()
    title = dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="%s" title="%s">%s</time>') % (iso, title, digits(_date_and_time(local)))


def _date_and_time(at: datetime) -> str:
    """``at``'s date (medium: "Nov 27, 2026"; Jalali on a Persian page: "6 آذر 1405") and
    time to the minute, joined as the page's language joins them, in ASCII digits."""
    here = lang()
    pattern = Locale.parse(here).datetime_formats.get("medium", "{1} {0}")
    return pattern.replace("{1}", day_text(at.date())) \
                  .replace("{0}", format_time(at, "short", tzinfo=at.tzinfo, locale=here))


def day_text(day: date) -> str:
    """A date as the page's language writes one, in ASCII digits: "Nov 27, 2026", "2026年11月27日";
    on a Persian page in the Solar Hijri calendar, "6 آذر 1405" (:mod:`.jalali`)."""
    if lang() == "fa":
        return jalali.long_date(day)
    return format_date(day, "medium", locale=lang())


def stored_time(value, fmt: str) -> Markup | None:
    """A record's ``date`` or ``date-time`` value as a reader of the page's language writes
    it ("Feb 18, 2025"; on a Persian page in the Solar Hijri calendar, "۳۰ بهمن ۱۴۰۳", the
    stored text as the title; a date-time in the offset it was stored with, which is said:
    "Feb 18, 2025, 5:45 PM GMT+03:30", "… UTC"), inside ``<time datetime=…>`` holding the
    stored text. None for another format or a text that is no such date."""
    if not isinstance(value, str):
        return None
    if fmt == "date":
        try:
            said = day_text(date.fromisoformat(value))
        except ValueError:
            return None
    elif fmt == "date-time":
        dt = when(value)
        if dt is None or "T" not in value.upper():
            return None
        zone = "UTC" if not dt.utcoffset() else format_time(dt, "ZZZZ", tzinfo=dt.tzinfo, locale=lang())
        said = f"{_date_and_time(dt)} {zone}"
    else:
        return None
    if lang() == "fa":  # the Gregorian text stored, for a reader who wants it
        return Markup('<time datetime="%s" title="%s">%s</time>') % (value, value, digits(said))
    return Markup('<time datetime="%s">%s</time>') % (value, digits(said))


def month(day) -> Markup:
    """The month of a date (``2026-11-01``: the first day of a KPI's period) as the page's
    language names it ("Nov 2026", "نوامبر ۲۰۲۶" in Persian words and digits, "2026年11月"),
    inside ``<time datetime="2026-11">``. Text that is no date is shown as it is."""
    try:
        first = date.fromisoformat(str(day)[:10])
    except ValueError:
        return Markup("%s") % digits(day)
    if lang() == "fa":
        # The period is a Gregorian month, which no Jalali month matches: its Jalali days
        # are said in the title ("10 آبان 1405 – 9 آذر 1405").
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        span = f"{jalali.long_date(first)} – {jalali.long_date(last)}"
        return Markup('<time datetime="%s" title="%s">%s</time>') % (first.strftime("%Y-%m"), digits(span),
                                                                      month_text(first))
    return Markup('<time datetime="%s">%s</time>') % (first.strftime("%Y-%m"), month_text(first))


def month_text(day) -> str:
    """The month of a date (a ``date`` or ISO text) in the page's words and digits, as
    :func:`month` shows it; the text as it is when it is no date."""
    try:
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
    except ValueError:
        return digits(day)
    return digits(format_skeleton("yMMM", day, locale=lang()))


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
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(tr=tr, lang=lang, LANGUAGES=LANGUAGES, zone_name=zone_name,
                                 text_direction=lambda: "rtl" if lang() in RTL else "ltr")
    # isolated: a title in <title>, which holds no <bdi>, keeps its bidi controls to itself.
    app.jinja_env.filters.update(digits=digits, number=number, moment=moment, month=month, isolated=isolated)
