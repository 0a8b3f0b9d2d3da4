"""Importing a CSV or JSONL file from the admin UI: the import of ``xrm import`` as the
logged-in user — the report on the page, all or nothing, check only, skip invalid rows and
update by a key field."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from xrm_core import db

from test_ui_support import Browser, text


@pytest.fixture
def browser(org):
    return Browser(org)


def upload(browser, name: str, body: str, **form):
    browser.get("/r/person/import")
    data = {"file": (io.BytesIO(body.encode()), name), **form}
    return browser.post("/r/person/import", data, content_type="multipart/form-data")


def people(org, user="admin") -> dict:
    with org.session(user) as s:
        return {r.data["name"]: r for r in s.list("person", limit=100)}


def counts(org) -> tuple:
    with org.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (db.records, db.activities))


def test_a_valid_file_is_imported_as_the_user_with_history(browser, org):
    browser.login("manager_a", "pw")
    page = text(browser.get("/r/person"))
    assert 'href="/r/person/import"' in page
    r = upload(browser, "people.csv", "name,age\nAnn,30\nBob,40\n")
    assert r.status_code == 200 and "2 rows read, 2 imported." in text(r)
    got = people(org, "manager_a")
    assert sorted(got) == ["Ann", "Bob"] and got["Ann"].data["age"] == 30 and got["Ann"].unit == "dealer_a"
    with org.session() as s:
        assert s.history(got["Bob"].id)[0]["summary"] == "imported from people.csv line 3"


def test_invalid_rows_are_listed_and_nothing_is_imported(browser, org):
    browser.login("manager_a", "pw")
    before = counts(org)
    r = upload(browser, "people.csv", "name,age\nAnn,-1\n,5\nCy,x\n")
    page = text(r)
    assert r.status_code == 422 and "Nothing was imported." in page
    # The field by its label, the pointer after it.
    rows = re.findall(r'<tr><td>(\d+)</td><td>([^<]*) <bdi class="pointer" dir="ltr"><code>([^<]*)</code></bdi></td>'
                      r'<td>([^<]*)</td></tr>', page)
    assert [(line, label, pointer) for line, label, pointer, _ in rows] == [
        ("2", "Age", "/age"), ("3", "Name", "/name"), ("4", "Age", "/age")]
    assert counts(org) == before
    # the options: check only writes nothing; skipping imports the valid row
    r = upload(browser, "people.csv", "name,age\nAnn,1\nBob,-1\n", dry_run="1", skip_invalid="1")
    assert r.status_code == 200 and "Checked only: 1 of 2 rows are valid; nothing was written." in text(r)
    assert counts(org) == before
    r = upload(browser, "people.csv", "name,age\nAnn,1\nBob,-1\n", skip_invalid="1")
    assert r.status_code == 200 and "2 rows read, 1 imported." in text(r)
    assert sorted(people(org)) == ["Ann"]


def test_update_by_a_key_field(browser, org):
    with org.session("manager_a") as s:
        s.create("person", {"name": "Ann", "national_id": "A1", "age": 30})
    browser.login("manager_a", "pw")
    page = text(browser.get("/r/person/import"))
    assert '<option value="national_id">' in page and '<option value="tags">' not in page  # arrays name nothing
    r = upload(browser, "p.jsonl", '{"national_id": "A1", "age": 31}\n{"national_id": "B2", "name": "Bo"}\n',
               update_by="national_id")
    assert r.status_code == 200 and "2 rows read: 1 created, 1 updated, 0 unchanged." in text(r)
    got = people(org, "manager_a")
    assert (got["Ann"].data["age"], got["Ann"].version) == (31, 2) and "Bo" in got
    assert upload(browser, "p.csv", "name\nX\n", update_by="tags").status_code == 400


def test_refusals_without_rows(browser, org):
    browser.login("manager_a", "pw")
    r = upload(browser, "people.xlsx", "PK\x03\x04")
    assert r.status_code == 422 and "neither" in text(r)
    browser.get("/r/person/import")
    r = browser.post("/r/person/import", {}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Choose a file to import." in text(r)
    r = upload(browser, "bad.csv", "nope\n1\n")  # a column the schema does not have: a whole-file refusal
    assert r.status_code == 422 and "Nothing was imported." in text(r) and "nope" in text(r)
    # the file's name is only a base name in a directory of the import's own
    r = upload(browser, "../../etc/people.csv", "name\nZed\n")
    assert r.status_code == 200 and "Report for people.csv" in text(r) and "1 row read, 1 imported." in text(r)


def test_permissions(browser, org):
    browser.login("north_lead", "pw")  # may read persons, not create them
    assert browser.get("/r/person/import").status_code == 403
    assert 'href="/r/person/import"' not in text(browser.get("/r/person"))
    before = counts(org)
    assert upload(browser, "people.csv", "name\nAnn\n").status_code == 403
    assert counts(org) == before
    browser.get("/r/person/import")
    r = browser.post("/r/person/import", {"file": (io.BytesIO(b"name\nX\n"), "p.csv")}, token=False,
                     content_type="multipart/form-data")
    assert r.status_code in (400, 403) and counts(org) == before
