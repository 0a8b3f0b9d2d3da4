"""A nested object whose own ``oneOf``/``anyOf`` branches declare different members (a
``payment`` holding a ``bank`` and an ``iban``, or a ``card_last4``) gets an input for each
member its branches declare — it got the raw JSON box. An empty input is an absent member;
the server's validation judges which branch the value fits, and its errors land at the
input they are about."""
from __future__ import annotations

import re

import pytest

from xrm_core import entity_types

from test_ui12_branch_fields import _control
from test_ui_support import Browser, text

ORDER = {
    "name": "order", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref"], "properties": {
        "ref": {"type": "string"},
        "payment": {"type": "object", "title": "Payment", "properties": {"note": {"type": "string"}},
                    "oneOf": [
                        {"properties": {"bank": {"type": "string", "title": "Bank"},
                                        "iban": {"type": "string", "title": "IBAN", "minLength": 8}},
                         "required": ["iban"]},
                        {"properties": {"card_last4": {"type": "string", "title": "Card", "pattern": "^[0-9]{4}$"}},
                         "required": ["card_last4"]}]},
        # Required by every branch: marked. Declared with two types: a box of its own.
        "delivery": {"type": "object", "anyOf": [
            {"properties": {"street": {"type": "string"}, "code": {"type": "string"}}, "required": ["street"]},
            {"properties": {"street": {"type": "string"}, "code": {"type": "integer"}},
             "required": ["street", "code"]}]},
        # Alternatives between an object and a text: still the JSON box.
        "either": {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "string"}]},
    }},
}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, ORDER)
    b = Browser(p)
    b.login()
    return p, b


def _label(page: str, name: str) -> str:
    return re.search(r'<label for="f-%s"[^>]*>(.*?)</label>' % re.escape(name), page, re.S).group(1)


def _saved(p):
    with p.session() as s:
        return {r.data["ref"]: r.data for r in s.list("order", {})}


def test_each_member_a_branch_declares_gets_its_input(site):
    p, b = site
    page = text(b.get("/r/order/new"))
    assert _control(page, "payment") is None
    for name in ("payment.note", "payment.bank", "payment.iban", "payment.card_last4"):
        assert _control(page, name).startswith("<input") and 'type="text"' in _control(page, name), name
    assert re.search(r'<fieldset class="group" id="f-payment"[^>]*>\s*<legend>Payment', page)
    # Required in one branch only: not marked.
    assert '<span class="req">*</span>' not in _label(page, "payment.iban")
    assert '<span class="req">*</span>' not in _label(page, "payment.card_last4")
    # Required by every branch: marked; declared as text and as a number: a JSON box.
    assert '<span class="req">*</span>' in _label(page, "delivery.street")
    assert _control(page, "delivery.code").startswith("<textarea")
    assert _control(page, "either").startswith("<textarea") and _control(page, "either.a") is None


def test_branch_members_are_saved_empty_ones_absent(site):
    p, b = site
    r = b.post("/r/order/new", {"ref": "O1", "payment.bank": "", "payment.iban": "BE71096123456769",
                                "payment.card_last4": "", "payment.note": ""})
    assert r.status_code == 302, text(r)[:3000]
    r = b.post("/r/order/new", {"ref": "O2", "payment.card_last4": "1234", "delivery.street": "Main",
                                "delivery.code": "9000"})
    assert r.status_code == 302, text(r)[:3000]
    assert _saved(p) == {"O1": {"ref": "O1", "payment": {"iban": "BE71096123456769"}},
                         "O2": {"ref": "O2", "payment": {"card_last4": "1234"},
                                "delivery": {"street": "Main", "code": 9000}}}
    # Edited: the other branch's member typed, this one's emptied.
    rid = r.headers["Location"].rsplit("/", 1)[1]
    page = text(b.get(f"/r/order/{rid}/edit"))
    assert 'value="1234"' in _control(page, "payment.card_last4")
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = b.post(f"/r/order/{rid}/edit", {"version": version, "ref": "O2", "payment.card_last4": "",
                                        "payment.iban": "NL91ABNA0417164300", "payment.bank": "ABN",
                                        "delivery.street": "Main", "delivery.code": "9000"})
    assert r.status_code == 302, text(r)[:3000]
    assert _saved(p)["O2"]["payment"] == {"bank": "ABN", "iban": "NL91ABNA0417164300"}


def test_the_server_judges_and_its_errors_land_at_the_inputs(site):
    p, b = site
    # A member's own rule: at its input.
    page = text(b.post("/r/order/new", {"ref": "O3", "payment.card_last4": "12a4"}))
    assert 'aria-invalid="true"' in _control(page, "payment.card_last4")
    assert 'aria-invalid="true"' not in (_control(page, "payment.iban") or "")
    assert 'value="12a4"' in _control(page, "payment.card_last4")  # what was typed is kept
    # Both branches filled: it fits more than one — said at the group, nothing stored.
    r = b.post("/r/order/new", {"ref": "O4", "payment.card_last4": "1234", "payment.iban": "BE71096123456769"})
    assert r.status_code == 422
    page = text(r)
    assert re.search(r'<fieldset class="group invalid" id="f-payment"[^>]*aria-describedby="[^"]*err-payment', page)
    assert re.search(r'<a href="#f-payment">Payment</a>: fits more than one of the allowed forms', page)
    assert _saved(p) == {}
