"""Per-user time zones in a real browser (ui14): the page's script tells the server the
browser's zone, used while the user has none of their own; the preferences page sets one.

``xrm init`` and ``xrm serve`` on a temporary SQLite database (no demo data: nothing here
needs it), Chromium with a given zone per browser context. Skipped or failed like
``test_browser.py`` when Chromium or Playwright is missing (must run with ``CI`` set).
"""
from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request

import pytest

from test_browser import ADMIN_PASSWORD, XRM, _free_port, _xrm, chromium  # noqa: F401 — fixture by name
from playwright.sync_api import expect

LI_PASSWORD = "li-password-1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The base URL of a running ``xrm serve`` with ``admin`` (no zone) and ``li`` (Asia/Shanghai)."""
    tmp = tmp_path_factory.mktemp("ui14")
    url = f"sqlite:///{tmp / 'xrm.db'}"
    _xrm(url, "init", "--admin-password", ADMIN_PASSWORD)
    _xrm(url, "users", "create", "li", "--unit", "root", "--password", LI_PASSWORD, "--time-zone", "Asia/Shanghai")
    port = _free_port()
    env = {**os.environ, "XRM_DATABASE_URL": url, "XRM_SECRET_KEY": "ui14-browser"}
    env.pop("XRM_BABEL_DEFAULT_TIMEZONE", None)
    with open(tmp / "serve.log", "w+") as log:
        proc = subprocess.Popen([*XRM, "--db", url, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/login", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"xrm serve did not come up:\n{log.read()}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def in_tehran(chromium, site):  # noqa: F811
    """A page of a browser whose clock is set to Tehran's time zone."""
    context = chromium.new_context(base_url=site, timezone_id="Asia/Tehran", locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _login(page, user, password):
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("section.login button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_a_user_without_a_zone_sees_the_browsers(in_tehran):
    _login(in_tehran, "admin", ADMIN_PASSWORD)
    cookies = {c["name"]: c["value"] for c in in_tehran.context.cookies()}
    assert cookies.get("xrm_tz") == "Asia%2FTehran"  # set by time-zone.js, no build step
    in_tehran.click("header a.prefs")
    expect(in_tehran.locator("#zone-now")).to_contain_text("Asia/Tehran")
    expect(in_tehran.locator("#zone-now")).to_contain_text("your browser's time zone")


def test_the_users_own_zone_comes_first_and_is_changed_on_the_page(in_tehran):
    _login(in_tehran, "li", LI_PASSWORD)
    in_tehran.goto("/preferences")
    expect(in_tehran.locator("#zone-now")).to_contain_text("Asia/Shanghai")
    expect(in_tehran.locator("#zone-now")).to_contain_text("your own choice")
    in_tehran.select_option("select[name=time_zone]", "Asia/Tokyo")
    in_tehran.click("main form button[type=submit]")
    expect(in_tehran.locator(".flash.ok")).to_have_text("Preferences saved.")
    expect(in_tehran.locator("#zone-now")).to_contain_text("Asia/Tokyo")
    in_tehran.select_option("select[name=time_zone]", "")  # automatic: the browser's again
    in_tehran.click("main form button[type=submit]")
    expect(in_tehran.locator("#zone-now")).to_contain_text("Asia/Tehran")
