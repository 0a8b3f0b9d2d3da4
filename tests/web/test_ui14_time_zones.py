"""Each user's own time zone in the admin UI (ui14): the user's preference, else the browser's
zone (the ``xrm_tz`` cookie the page's script sets, checked), else XRM_BABEL_DEFAULT_TIMEZONE.
The platform's times are written in it; a date-time input is typed in it and stored with
that zone's offset at the time typed."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_time

from xrm_core import accounts, hookimpl

from test_ui_support import Browser, text

MEETING = {"name": "meeting", "title_field": "topic", "schema": {
    "type": "object", "required": ["topic"],
    "properties": {"topic": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                   "slots": {"type": "array", "items": {"type": "string", "format": "date-time"}}}}}


class MeetingPlugin:
    __name__ = "ui14meetings"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [MEETING]


@pytest.fixture
def tehran_beijing(make_platform, monkeypatch):
    """A platform with users in Tehran and Beijing (zones stored), and one with none."""
    monkeypatch.delenv("XRM_BABEL_DEFAULT_TIMEZONE", raising=False)
    p = make_platform(MeetingPlugin())
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "all"}]})
        accounts.create_user(conn, "reza", "root", ["clerk"], "pw", time_zone="Asia/Tehran")
        accounts.create_user(conn, "li", "root", ["clerk"], "pw", time_zone="Asia/Shanghai")
        accounts.create_user(conn, "sam", "root", ["clerk"], "pw")
    return p


def signed_in(p, user, **cookies) -> Browser:
    b = Browser(p)
    for name, value in cookies.items():
        b.client.set_cookie(name, value)
    b.login(user, "pw")
    return b


def _meeting(p, data):
    with p.session() as s:
        return s.create("meeting", data)


def _stored(p, rid):
    with p.session() as s:
        return s.get(rid)


def test_the_platforms_times_are_written_in_each_users_zone(tehran_beijing):
    p = tehran_beijing
    rec = _meeting(p, {"topic": "Quarterly review"})
    for user, zone in (("reza", "Asia/Tehran"), ("li", "Asia/Shanghai"), ("sam", "UTC")):
        page = text(signed_in(p, user).get(f"/r/meeting/{rec.id}"))
        stamps = re.findall(r'<time datetime="([^"]+)" title="[^"]+">([^<]+)</time>', page)
        assert stamps, page
        for stored, shown in stamps:  # the stored UTC value kept for machines
            at = datetime.fromisoformat(stored.replace("Z", "+00:00"))
            assert at.utcoffset().total_seconds() == 0
            expected = format_time(at, "short", tzinfo=ZoneInfo(zone), locale="en")
            assert expected.replace("\u202f", " ") in shown.replace("\u202f", " "), (user, stored, shown)


def test_a_date_time_is_typed_in_the_users_zone_and_stored_with_its_offset(tehran_beijing):
    p = tehran_beijing
    reza, li = signed_in(p, "reza"), signed_in(p, "li")
    page = text(reza.get("/r/meeting/new"))
    assert "Asia/Tehran" in page and ">UTC</small>" not in page  # the input says its zone
    r = reza.post("/r/meeting/new", {"topic": "Kick-off", "at": "2026-03-10T09:00",
                                      "slots.0": "2026-03-11T10:15"})
    assert r.status_code == 302, text(r)
    rid = r.headers["Location"].rsplit("/", 1)[1]
    assert _stored(p, rid).data == {"topic": "Kick-off", "at": "2026-03-10T09:00:00+03:30",
                                    "slots": ["2026-03-11T10:15:00+03:30"]}
    # Beijing sees the same instant in its own time: 05:30 UTC = 13:30 in Beijing.
    form = text(li.get(f"/r/meeting/{rid}/edit"))
    assert 'value="2026-03-10T13:30"' in form and "Asia/Shanghai" in form
    r = li.post(f"/r/meeting/{rid}/edit", {"topic": "Kick-off", "at": "2026-03-10T13:30",
                                           "slots.0": "2026-03-11T14:45", "version": "1"})
    assert r.status_code == 302, text(r)
    assert _stored(p, rid).version == 1  # sent back as shown: nothing rewritten
    r = li.post(f"/r/meeting/{rid}/edit", {"topic": "Kick-off", "at": "2026-03-10T14:00",
                                           "slots.0": "2026-03-11T14:45", "version": "1"})
    assert r.status_code == 302, text(r)
    assert _stored(p, rid).data["at"] == "2026-03-10T14:00:00+08:00"


def test_without_a_zone_times_stay_utc_as_before(tehran_beijing):
    p = tehran_beijing
    sam = signed_in(p, "sam")
    assert ">UTC</small>" in text(sam.get("/r/meeting/new"))
    r = sam.post("/r/meeting/new", {"topic": "Call", "at": "2026-03-10T09:00"})
    assert _stored(p, r.headers["Location"].rsplit("/", 1)[1]).data["at"] == "2026-03-10T09:00:00Z"


def test_a_time_the_clocks_skip_is_refused(tehran_beijing):
    p = tehran_beijing
    with p.connection() as conn:
        accounts.set_time_zone(conn, "sam", "Europe/Berlin")
    sam = signed_in(p, "sam")
    r = sam.post("/r/meeting/new", {"topic": "Call", "at": "2026-03-29T02:30"})
    assert r.status_code == 422 and "Europe/Berlin" in text(r)
    r = sam.post("/r/meeting/new", {"topic": "Call", "at": "2026-07-01T12:00"})
    assert _stored(p, r.headers["Location"].rsplit("/", 1)[1]).data["at"] == "2026-07-01T12:00:00+02:00"


def test_the_browsers_zone_counts_when_the_user_has_none(tehran_beijing):
    p = tehran_beijing
    sam = signed_in(p, "sam", xrm_tz="Asia/Tehran")
    assert "Asia/Tehran" in text(sam.get("/r/meeting/new"))
    r = sam.post("/r/meeting/new", {"topic": "Call", "at": "2026-03-10T09:00"})
    assert _stored(p, r.headers["Location"].rsplit("/", 1)[1]).data["at"] == "2026-03-10T09:00:00+03:30"
    # The user's own zone comes before the browser's; an unknown zone is ignored.
    assert "Asia/Shanghai" in text(signed_in(p, "li", xrm_tz="Asia/Tehran").get("/r/meeting/new"))
    for junk in ("Mars/Olympus", "../../etc/passwd", "x" * 300):
        assert ">UTC</small>" in text(signed_in(p, "sam", xrm_tz=junk).get("/r/meeting/new"))


def test_the_server_default_when_neither_is_known(tehran_beijing, monkeypatch):
    monkeypatch.setenv("XRM_BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    sam = signed_in(tehran_beijing, "sam")
    assert "Asia/Shanghai" in text(sam.get("/r/meeting/new"))


def test_every_page_carries_the_zone_script(tehran_beijing):
    b = Browser(tehran_beijing)
    assert '<script src="/static/time-zone.js" defer></script>' in text(b.get("/login"))
    with b.client.get("/static/time-zone.js") as js:
        assert js.status_code == 200 and b"Intl.DateTimeFormat().resolvedOptions().timeZone" in js.data


def test_a_user_sets_and_clears_the_zone_on_the_preferences_page(tehran_beijing):
    p = tehran_beijing
    sam = signed_in(p, "sam", xrm_tz="Asia/Tehran")
    page = text(sam.get("/preferences"))
    assert 'name="csrf_token"' in page and '<option value="Asia/Shanghai">' in page
    assert "Asia/Tehran" in page  # what is used now: the browser's
    assert 'href="/preferences"' in text(sam.get("/"))  # reachable from the header
    r = sam.post("/preferences", {"time_zone": "Asia/Shanghai"})
    assert r.status_code == 302
    with p.connection() as conn:
        assert accounts.time_zone_of(conn, "sam") == "Asia/Shanghai"
    assert '<option value="Asia/Shanghai" selected>' in text(sam.get("/preferences"))
    r = sam.post("/preferences", {"time_zone": ""})
    with p.connection() as conn:
        assert accounts.time_zone_of(conn, "sam") is None


def test_an_unknown_zone_or_a_forged_form_changes_nothing(tehran_beijing):
    p = tehran_beijing
    reza = signed_in(p, "reza")
    r = reza.post("/preferences", {"time_zone": "Asia/Beijing"})
    assert r.status_code == 422 and "Asia/Beijing" in text(r) and 'aria-invalid="true"' in text(r)
    r = reza.post("/preferences", {"time_zone": "Asia/Shanghai"}, token=False)
    assert r.status_code == 400
    with p.connection() as conn:
        assert accounts.time_zone_of(conn, "reza") == "Asia/Tehran"


@pytest.mark.parametrize("lang, words", [("fa", "منطقهٔ زمانی"), ("zh", "时区")])
def test_the_preferences_page_is_translated(tehran_beijing, lang, words):
    b = signed_in(tehran_beijing, "reza")
    b.post("/lang", {"lang": lang, "next": "/"})
    page = text(b.get("/preferences"))
    assert words in page
    assert words in text(b.post("/preferences", {"time_zone": "Nowhere/City"}))


def test_anonymous_visitors_are_sent_to_log_in(tehran_beijing):
    b = Browser(tehran_beijing)
    r = b.get("/preferences")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
