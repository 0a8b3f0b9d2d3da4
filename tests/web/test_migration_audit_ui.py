"""Audit of the import page: uploads whose names a file system would refuse, and the
report's escaping of hostile cells and names."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from xrm_core import db

from test_ui_support import Browser, text


@pytest.fixture
def browser(org):
    return Browser(org)


def upload(browser, name: str, body: bytes, **form):
    browser.get("/r/person/import")
    return browser.post("/r/person/import", {"file": (io.BytesIO(body), name), **form},
                        content_type="multipart/form-data")


@pytest.mark.parametrize("name, shown", [
    ("é" * 150 + ".csv", "é" * 98 + ".csv"),  # 304 bytes of UTF-8: more than a file name may hold
    ("x" * 250 + ".csv", "x" * 196 + ".csv"),  # shortened before the extension, which names the format
])
def test_long_file_names_are_shortened_not_a_server_error(browser, org, name, shown):
    browser.login("manager_a", "pw")
    r = upload(browser, name, b"name\nAnn\n")
    assert r.status_code == 200 and f"Report for {shown}" in text(r) and "1 row read, 1 imported." in text(r)
    with org.session("manager_a") as s:
        (ann,) = s.list("person", {"name": "Ann"})
        assert s.history(ann.id)[0]["summary"] == f"imported from {shown} line 2"


def test_hostile_cells_and_names_are_escaped(browser, org):
    browser.login("manager_a", "pw")
    r = upload(browser, "<img src=x onerror=alert(1)>.csv", b'name,age\n<script>alert(1)</script>,"<b>x</b>"\n')
    page = text(r)
    assert r.status_code == 422 and "Nothing was imported." in page
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    with org.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.records)).scalar_one() == 0
