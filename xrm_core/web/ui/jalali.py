"""The Solar Hijri (Jalali) calendar of Persian pages: dates shown, and dates typed, in it.

A Persian page (the UI's language is fa) writes every date in the Jalali calendar ("۷ آذر
۱۴۰۳"), and a form's ``date``/``date-time`` input on it shows and reads Jalali dates
("1403-09-07", "1403-09-07 14:30"). What is stored, and what the REST API and the CLI read
and write, stays the Gregorian ISO text; a page keeps it in ``<time datetime=…>``.

**Which calendar a typed date is in** (on a Persian page; other pages read only Gregorian):
a year below :data:`JALALI_BEFORE` (1700) is a Jalali year, one from it on a Gregorian one.
The two calendars' years in use are far apart (Jalali 1403 is Gregorian 2024/25), so
``1403-09-07`` and ``2024-11-27`` are read as the same day. The digits may be ASCII,
Persian (۰–۹) or Arabic-Indic (٠–٩), and the parts may be separated by ``-``, ``/`` or ``.``,
in any mix (``۱۴۰۳/۰۹/۰۷``, ``1403.9.7``). The conversion is ``jdatetime``'s.
"""
from __future__ import annotations

import re
from datetime import date, datetime

import jdatetime
from flask_babel import get_locale, gettext as _

#: A typed year below this is a Jalali year (on a Persian page); from it on a Gregorian one.
JALALI_BEFORE = 1700

#: Persian and Arabic-Indic digits (and the Arabic date separator ؍) as ASCII.
_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩؍", "01234567890123456789/")

#: A typed date: year, month and day with any of - / . between them.
_DATE = re.compile(r"(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,2})")
#: A typed date and time: the date, then ``T`` or spaces, then hours and minutes (seconds too).
_DATE_TIME = re.compile(r"(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,2})(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?")


def month_names() -> list[str]:
    """The Jalali months' Persian names, Farvardin first."""
    return list(jdatetime.date.j_months_fa)


def ascii_digits(text: str) -> str:
    """``text`` with Persian and Arabic-Indic digits written as ASCII ones."""
    return text.translate(_ASCII)


def to_jalali(day: date) -> jdatetime.date:
    """The Jalali date of a Gregorian ``day``."""
    return jdatetime.date.fromgregorian(date=day)


def jalali_iso(day: date) -> str:
    """``day`` as a Jalali ``YYYY-MM-DD`` in ASCII digits (what a Persian form's input holds)."""
    j = to_jalali(day)
    return f"{j.year:04d}-{j.month:02d}-{j.day:02d}"


def long_date(day: date) -> str:
    """``day`` as a Persian reader writes a date: "7 آذر 1403" (ASCII digits: the caller
    writes them in Persian, as it does every number)."""
    j = to_jalali(day)
    return f"{j.day} {month_names()[j.month - 1]} {j.year}"


def month_name(day: date) -> str:
    """The Jalali month and year of ``day``: "آذر 1403"."""
    j = to_jalali(day)
    return f"{month_names()[j.month - 1]} {j.year}"


def read_date(typed: str) -> str | None:
    """The Gregorian ISO date (``2024-11-27``) of a typed Jalali date (``1403-09-07``,
    ``۱۴۰۳/۹/۷``); None when ``typed`` is no date in Jalali form (a Gregorian ISO date,
    text that is no date: the caller keeps it as typed). ValueError with a message for the
    user when it is one in form but no day of the calendar (month 13, Esfand 30 of a year
    that is no leap year)."""
    m = _DATE.fullmatch(ascii_digits(typed.strip()))
    if not m:
        return None
    year, month, day = (int(p) for p in m.groups())
    if year >= JALALI_BEFORE:
        # A Gregorian date typed with Persian digits or slashes is written the ISO way.
        return f"{year:04d}-{month:02d}-{day:02d}" if year <= 9999 else None
    return _gregorian(year, month, day).isoformat()


def read_date_time(typed: str) -> str | None:
    """A typed Jalali local date and time (``1403-09-07 14:30``, ``۱۴۰۳/۰۹/۰۷T۱۴:۳۰:۰۵``) as
    the Gregorian local ``2024-11-27T14:30:00`` (seconds always written); None when it is
    no Jalali date and time in form; ValueError (a message) when the day does not exist."""
    m = _DATE_TIME.fullmatch(ascii_digits(typed.strip()))
    if not m:
        return None
    on, hours, minutes, seconds, fraction = m.groups()
    day = read_date(on)
    if day is None:
        return None
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise ValueError(_("%(typed)s: no such time of day", typed=typed.strip()))
    return f"{day}T{int(hours):02d}:{minutes}:{seconds or '00'}{fraction or ''}"


def _n(number: int) -> str:
    """A number of a message, in Persian digits on a Persian page (as every number it shows)."""
    from .i18n import digits  # local: i18n imports this module
    return digits(number)


def _gregorian(year: int, month: int, day: int) -> date:
    """The Gregorian date of a Jalali one; ValueError with a message when there is none."""
    if not 1 <= month <= 12:
        raise ValueError(_("%(month)s is no month: the Solar Hijri year has 12 (write year-month-day, "
                           "e.g. 1403-09-07)", month=_n(month)))
    if year < 1:
        raise ValueError(_("%(year)s is out of the range of dates", year=_n(year)))
    length = 31 if month <= 6 else 30 if month <= 11 else (30 if jdatetime.date(year, 1, 1).isleap() else 29)
    if not 1 <= day <= length:
        if month == 12 and day == 30:
            raise ValueError(_("%(year)s is no leap year: its Esfand has 29 days", year=_n(year)))
        raise ValueError(_("month %(month)s of the Solar Hijri calendar has %(days)s days",
                           month=_n(month), days=_n(length)))
    try:
        return jdatetime.date(year, month, day).togregorian()
    except (ValueError, OverflowError):
        raise ValueError(_("%(year)s is out of the range of dates", year=_n(year))) from None


def shown_date_time(local: datetime) -> str:
    """A local date-time as a Persian form's input holds it: ``1403-09-07 14:30`` (seconds
    when there are any)."""
    time = local.strftime("%H:%M:%S" if local.second else "%H:%M")
    return f"{jalali_iso(local.date())} {time}"


def filter_date(text: str) -> str:
    """A list filter's typed value on a ``date`` or ``date-time`` field (for the list page's
    filter rows, :func:`.listing.where_of`): on a Persian page a Jalali date, as typed into a
    form (``۱۴۰۳/۰۹/۰۷``), becomes its Gregorian ISO date, which the stored text is compared
    with (``gte 1403-09-07`` on a date-time: from that day on); anything else, and on other
    pages everything, stays as typed. ValueError with a message for a Jalali date that does
    not exist."""
    if str(get_locale() or "") != "fa":
        return text
    return read_date(text) or text
