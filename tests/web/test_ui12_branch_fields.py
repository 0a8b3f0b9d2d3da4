"""Record forms and fields the schema declares in some places only: a property declared in
one ``oneOf`` branch gets the input its declaration asks for (it got the raw JSON box), and
the required markers of the top level and of groups come from the whole schema (a member
required by a later ``allOf`` part, or by every branch, was not marked)."""
from __future__ import annotations

import re

import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

PAYMENT = {
    "name": "payment", "title_field": "ref",
    "schema": {
        "type": "object", "required": ["ref"],
        "properties": {"ref": {"type": "string"},
                       "address": {"type": "object", "properties": {"city": {"type": "string"},
                                                                    "street": {"type": "string"},
                                                                    "zip": {"type": "string"}}}},
        # Each branch declares its own member (and requires it there only).
        "oneOf": [
            {"properties": {"iban": {"type": "string", "minLength": 8}, "verified": {"type": "boolean"}},
             "required": ["iban"]},
            {"properties": {"card_last4": {"type": "string", "pattern": "^[0-9]{4}$"}},
             "required": ["card_last4"]},
        ],
        # A later part requires a group's member, and the amount, which it alone declares.
        "allOf": [{"properties": {"address": {"required": ["city"]}, "amount": {"type": "integer"}},
                   "required": ["amount"]},
                  {"properties": {"address": {"anyOf": [{"required": ["street", "zip"]}, {"required": ["street"]}]}}}],
    },
}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, PAYMENT)
    b = Browser(p)
    b.login()
    return p, b


def _control(page: str, name: str) -> str | None:
    """The tag of the control named ``name``."""
    m = re.search(r'<(?:select|textarea|input)\b[^>]*\bname="%s"[^>]*>' % re.escape(name), page)
    return m.group(0) if m else None


def _marked(page: str, dom_id: str) -> bool:
    """Whether the label of the input ``f-<dom_id>`` carries the required marker."""
    m = re.search(r'<label for="f-%s"[^>]*>(.*?)</label>' % re.escape(dom_id), page, re.S)
    return '<span class="req">*</span>' in m.group(1)


def test_a_field_of_one_branch_gets_its_own_input(site):
    p, b = site
    page = text(b.get("/r/payment/new"))
    assert _control(page, "iban").startswith("<input") and 'type="text"' in _control(page, "iban")
    assert _control(page, "card_last4").startswith("<input")
    # A boolean of one branch: a select that can leave it out ("—"), not a box.
    verified = re.search(r'<select[^>]*name="verified"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', verified) == ["", "true", "false"]
    assert ">yes<" in verified and ">no<" in verified
    # Each is required in its branch only: not marked.
    assert not _marked(page, "iban") and not _marked(page, "card_last4")


def test_a_field_of_one_branch_is_saved_and_left_empty(site):
    p, b = site
    r = b.post("/r/payment/new", {"ref": "P1", "amount": "5", "address.city": "Ghent", "address.street": "Main",
                                  "card_last4": "1234"})
    assert r.status_code == 302, text(r)[:2000]
    rid = r.headers["Location"].rsplit("/", 1)[1]
    with p.session() as s:
        assert s.get(rid).data == {"ref": "P1", "amount": 5, "card_last4": "1234",
                                   "address": {"city": "Ghent", "street": "Main"}}
    # The server judges: a pattern refused at its input, nothing stored.
    r = b.post("/r/payment/new", {"ref": "P2", "amount": "5", "address.city": "Ghent", "address.street": "Main",
                                  "card_last4": "12a4"})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in _control(text(r), "card_last4")
    with p.session() as s:
        assert [rec.data["ref"] for rec in s.list("payment", {})] == ["P1"]
    # Edited: the other branch's field in, this one's emptied (absent), the flag chosen.
    page = text(b.get(f"/r/payment/{rid}/edit"))
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = b.post(f"/r/payment/{rid}/edit", {"version": version, "ref": "P1", "amount": "5", "address.city": "Ghent",
                                          "address.street": "Main", "card_last4": "", "iban": "BE71096123456769",
                                          "verified": "false"})
    assert r.status_code == 302, text(r)[:2000]
    with p.session() as s:
        assert s.get(rid).data == {"ref": "P1", "amount": 5, "iban": "BE71096123456769", "verified": False,
                                   "address": {"city": "Ghent", "street": "Main"}}
    # And the flag left out again ("—"): absent, which a box could not say.
    page = text(b.get(f"/r/payment/{rid}/edit"))
    assert re.search(r'<option value="false" selected>', page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = b.post(f"/r/payment/{rid}/edit", {"version": version, "ref": "P1", "amount": "5", "address.city": "Ghent",
                                          "address.street": "Main", "iban": "BE71096123456769", "verified": ""})
    assert r.status_code == 302, text(r)[:2000]
    with p.session() as s:
        assert "verified" not in s.get(rid).data


def test_required_markers_come_from_the_whole_schema(site):
    p, b = site
    page = text(b.get("/r/payment/new"))
    # The allOf part requires the group's city, and the amount (the top level's own required: ref).
    assert _marked(page, "ref") and _marked(page, "amount")
    assert _marked(page, "address.city")
    assert 'aria-required="true"' in _control(page, "address.city")
    # Every branch of the anyOf requires street, only one zip.
    assert _marked(page, "address.street") and not _marked(page, "address.zip")


def test_a_member_marked_required_is_refused_empty_at_its_input(site):
    p, b = site
    r = b.post("/r/payment/new", {"ref": "P3", "amount": "1", "address.street": "Main", "card_last4": "1234"})
    assert r.status_code == 422
    page = text(r)
    assert 'aria-invalid="true"' in _control(page, "address.city")
    with p.session() as s:
        assert s.list("payment", {}) == []
