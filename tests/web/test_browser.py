"""The admin UI in a real browser: Playwright driving Debian's Chromium against ``xrm serve``.

One server for the module: ``xrm init`` + ``xrm demo --scale 0.1`` on a temporary SQLite
database, then ``xrm serve`` on a free loopback port as a subprocess. Each test gets a fresh
browser context (own cookies, so a language choice does not leak into the next test).

Screenshots of the main pages are taken on every run; with ``XRM_UPDATE_SCREENSHOTS=1`` they
replace those in ``docs/screenshots/`` (shown in the README), else they go to a temporary
folder so a test run leaves the checkout clean.

Outside CI the tests are skipped when Chromium or the ``playwright`` package is missing; with
``CI`` set they must run, so a missing browser fails them instead.
"""
from __future__ import annotations

import os
import tempfile
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("XRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("XRM_UPDATE_SCREENSHOTS")
         else Path(tempfile.mkdtemp(prefix="xrm-screenshots-")))
ADMIN_PASSWORD = "secret"
# Runs the CLI of the installed package, whatever directory ``xrm`` was installed into.
XRM = [sys.executable, "-c", "from xrm_core.cli.main import main; main()"]


def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


_why = _missing()
if _why:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser tests must run in CI: {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _xrm(url: str, *args: str) -> str:
    r = subprocess.run([*XRM, "--db", url, *args], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "XRM_DATABASE_URL": url})
    assert r.returncode == 0, f"xrm {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``(base_url, db_url)`` of a running ``xrm serve`` with the demo data."""
    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'xrm.db'}"
    _xrm(url, "init", "--admin-password", ADMIN_PASSWORD)
    _xrm(url, "demo", "--scale", "0.1")
    port = _free_port()
    log = open(tmp / "serve.log", "w+")
    proc = subprocess.Popen([*XRM, "--db", url, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "XRM_DATABASE_URL": url, "XRM_SECRET_KEY": "browser-tests"})
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
        yield base, url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, site):
    context = chromium.new_context(base_url=site[0], viewport={"width": 1280, "height": 860},
                                   locale="en-GB")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def _login(page, user="admin", password=ADMIN_PASSWORD):
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("section.login button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("header .who")).to_have_text(user)


def _shot(page, name: str, full_page: bool = False):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _records(db_url: str, user: str, type_name: str, **where):
    """Records ``user`` sees, read straight from the database (not through the UI)."""
    from xrm_core import Platform
    p = Platform(db_url)
    try:
        with p.session(user) as s:
            return s.list(type_name, where or None, limit=1000)
    finally:
        p.dispose()


def test_dashboard_and_list(page):
    _login(page)
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("h1")).to_have_text("Dashboard")
    assert page.locator("article.card").count() > 0
    assert page.locator("article.card svg.spark").count() > 0  # monthly trends are drawn
    _shot(page, "dashboard")
    page.click("section.records-nav a:text-is('Customers')")
    page.wait_for_url(re.compile(r"/r/customer$"))
    expect(page.locator("h1")).to_have_text("Customers")
    assert page.locator("table.records tbody tr").count() == 50  # one page of the demo's customers
    _shot(page, "list")


def test_create_with_field_error_then_edit_and_see_the_diff(page, site):
    name = "Browser Test Customer"
    _login(page)
    page.goto("/r/customer/new")
    page.fill("#f-name", name)
    page.select_option("#f-kind", "person")
    page.fill("#f-national_id", "no!")  # the schema wants 5–20 letters or digits
    page.fill("#f-mobile", "+989121234567")
    page.click("form.record button[type=submit]")
    # The error is shown next to that field, the values are kept, nothing was stored.
    field = page.locator("div.field.invalid")
    expect(field).to_have_count(1)
    expect(field.locator("#f-national_id")).to_have_value("no!")
    # Said in words: the schema's description of the pattern.
    expect(field.locator("#err-national_id")).to_contain_text("is not in the required form: 5 to 20 Latin letters and digits")
    expect(page.locator("#f-name")).to_have_value(name)
    expect(page.locator("#f-mobile")).to_have_value("+989121234567")
    _shot(page, "form-error", full_page=True)
    assert _records(site[1], "admin", "customer", name=name) == []

    page.fill("#f-national_id", "BT12345")
    page.click("form.record button[type=submit]")
    page.wait_for_url(re.compile(r"/r/customer/[^/]+$"))
    expect(page.locator("h1")).to_contain_text(name)
    expect(page.locator("p.flash.ok")).to_have_text("Created.")
    [rec] = _records(site[1], "admin", "customer", name=name)
    assert rec.data == {"name": name, "kind": "person", "national_id": "BT12345", "mobile": "+989121234567"}
    assert page.url.endswith(f"/r/customer/{rec.id}")

    page.click("a.button:text-is('Edit')")
    page.wait_for_url(re.compile(r"/edit$"))
    page.fill("#f-mobile", "+989351112233")
    page.fill("#f-region", "Tehran")
    page.click("form.record button[type=submit]")
    page.wait_for_url(re.compile(rf"/r/customer/{rec.id}$"))
    expect(page.locator("p.flash.ok")).to_have_text("Saved.")
    # The timeline shows the update with each changed field, old → new.
    update = page.locator("#timeline li.activity.updated").first
    expect(update).to_be_visible()
    rows = {row.locator("code").inner_text(): (row.locator("td.old").inner_text(), row.locator("td.new").inner_text())
            for row in update.locator("table.diff tr").all()}
    assert rows == {"/mobile": ("+989121234567", "+989351112233"), "/region": ("—", "Tehran")}
    expect(page.locator("#timeline li.activity.created")).to_have_count(1)
    page.fill("input[name=summary]", "Called about the new mobile number")
    page.click("form.log button[type=submit]")
    expect(page.locator("#timeline li.activity.call").first).to_contain_text("Called about the new mobile number")
    _shot(page, "record", full_page=True)


def test_persian_is_right_to_left_and_the_choice_sticks(page):
    _login(page)
    page.click("form.lang button[value=fa]")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.locator("h1")).to_have_text("داشبورد")
    expect(page.locator("section.records-nav")).to_contain_text("مشتریان")  # type label from the plugin
    _shot(page, "dashboard-fa")
    page.goto("/r/customer")  # the choice sticks on the next page
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("مشتریان")
    expect(page.locator("table.records thead")).to_contain_text("نام")
    # …and survives logging out and in again.
    page.click("form.logout button")
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("ورود")


def test_chinese_list(page):
    _login(page)
    page.goto("/r/customer")
    page.click("form.lang button[value=zh]")
    page.wait_for_url(re.compile(r"/r/customer$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("h1")).to_have_text("客户")
    expect(page.locator("table.records thead")).to_contain_text("姓名")
    _shot(page, "list-zh")


def test_a_dealer_sees_only_its_own_records(page, site):
    mine = _records(site[1], "dealer1", "customer")
    theirs = _records(site[1], "dealer2", "customer")
    assert mine and theirs and {r.unit for r in mine} == {"D01"} and {r.unit for r in theirs} == {"D02"}
    _login(page, "dealer1", "demo")
    page.goto("/r/customer")
    units = page.locator("table.records tbody tr td:nth-last-child(2)").all_inner_texts()
    assert units and set(units) == {"D01"}
    assert len(units) == min(len(mine), 50)
    # Another dealer's record is a 404, exactly like an id that does not exist.
    other = theirs[0]
    for path in (f"/r/customer/{other.id}", f"/r/customer/{other.id}/edit"):
        resp = page.goto(path)
        assert resp.status == 404, path
        assert other.data["name"] not in page.content()
    assert page.goto("/r/customer/does-not-exist").status == 404
    # Searching by the other dealer's customer name finds nothing either.
    page.goto("/r/customer?q=" + urllib.request.quote(other.data["name"]))
    expect(page.locator("table.records")).to_be_visible()
    assert f"/r/customer/{other.id}" not in page.content()
    resp = page.request.get("/r/customer/export.csv")
    assert resp.status == 200 and other.id not in resp.text()
