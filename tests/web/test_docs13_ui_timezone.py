"""The admin UI's time zone setting that README.md and docs/deployment.md name.

`XRM_BABEL_DEFAULT_TIMEZONE` sets the zone in which the UI writes the platform's own times
(UTC when unset); a record's own date-time field keeps the offset it was stored with, and says it.
"""
from pathlib import Path

import pytest

from xrm_core.web import create_app
from xrm_core.web.ui import i18n

ROOT = Path(__file__).resolve().parents[2]
STORED = "2026-11-27T18:59:03.123456Z"


def written(app, value, fmt=None):
    with app.test_request_context("/"):
        shown = str(i18n.stored_time(value, fmt) if fmt else i18n.moment(value))
    return shown.replace("\u202f", " ")  # CLDR puts a narrow no-break space before AM/PM


def test_the_platforms_times_are_in_utc_unless_the_setting_names_a_zone(platform, monkeypatch):
    monkeypatch.delenv("XRM_BABEL_DEFAULT_TIMEZONE", raising=False)
    assert ">Nov 27, 2026, 6:59 PM</time>" in written(create_app(platform), STORED)
    monkeypatch.setenv("XRM_BABEL_DEFAULT_TIMEZONE", "Asia/Tehran")  # +03:30
    tehran = written(create_app(platform), STORED)
    assert ">Nov 27, 2026, 10:29 PM</time>" in tehran
    assert f'datetime="{STORED}"' in tehran  # the stored value kept for machines


def test_a_record_date_time_keeps_its_stored_offset_whatever_the_zone(platform, monkeypatch):
    monkeypatch.setenv("XRM_BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    shown = written(create_app(platform), "2024-11-16T19:10:00+03:30", "date-time")
    assert ">Nov 16, 2024, 7:10 PM GMT+03:30</time>" in shown


@pytest.mark.parametrize("page", ["README.md", "docs/deployment.md"])
def test_the_docs_name_the_setting(page):
    assert "`XRM_BABEL_DEFAULT_TIMEZONE`" in (ROOT / page).read_text(encoding="utf-8")
