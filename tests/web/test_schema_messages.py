"""Schema errors in the UI's language: a form in Persian or Chinese words each field's schema
error from its keyword (the limit, the format), not in the validator's English; English pages,
the REST API and errors a plugin raises keep their own text."""
from __future__ import annotations

import copy
import html
import re

import pytest

from xrm_core import ValidationError, accounts
from xrm_core.plugins import hookimpl

from test_ui_support import Browser, text

MEMBER = {
    "name": "member", "label": "Member", "title_field": "name",
    "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 40},
        "code": {"type": "string", "pattern": "^M[0-9]{4}$"},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 18, "maximum": 120},
        "score": {"type": "number", "exclusiveMaximum": 10, "multipleOf": 0.5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "address": {"type": "object", "required": ["city"], "additionalProperties": False,
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
    }},
}


class MemberPlugin:
    __name__ = "members"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [copy.deepcopy(MEMBER)]

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_create" and record.data.get("name") == "Refused by plugin":
            raise ValidationError("the plugin says no", [{"pointer": "/data/name", "message": "plugin rule"}])
        if event == "before_create" and record.data.get("name") == "Aged by plugin":
            record.data["age"] = 200  # beyond the schema's maximum: refused after the hook


BAD = {"name": "Al", "code": "X1", "email": "not-an-address", "age": "150", "score": "10",
       "tags": '["a", "a"]', "address": '{"zip": "1234", "street": "Main"}'}


@pytest.fixture
def browser(make_platform):
    p = make_platform(MemberPlugin())
    b = Browser(p)
    b.login()
    return p, b


def _field_errors(page: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'<span class="error" id="err-([^"]+)">([^<]*)</span>', page)}


def _errors_for(b, lang: str, form: dict, path="/r/member/new") -> dict[str, str]:
    b.post("/lang", {"lang": lang, "next": "/"})
    r = b.post(path, form)
    assert r.status_code == 422, text(r)
    return _field_errors(text(r))


def test_a_persian_form_words_every_schema_error_in_persian(browser):
    p, b = browser
    errors = _errors_for(b, "fa", BAD)
    assert errors["name"] == "باید دست‌کم ۳ نویسه باشد"
    # The pattern introduced in words, kept left to right (LRI … PDI) in the Persian sentence.
    assert errors["code"] == "شکل درخواستی را ندارد (الگویی که باید با آن جور باشد: \u2066^M[0-9]{4}$\u2069)"
    assert errors["email"] == "نشانی ایمیل معتبری نیست (مانند name@example.org)"
    assert errors["age"] == "باید حداکثر ۱۲۰ باشد"
    assert errors["score"] == "باید کمتر از ۱۰ باشد"
    assert errors["tags"] == "یک مورد بیش از یک بار آمده است"
    # Errors inside an object keep their place: the key, then the message.
    assert set(errors["address"].split("; ")) == {"City: الزامی است", "street: فیلدی از این نوع نیست"}
    with p.session() as s:
        assert s.list("member") == []


def test_a_chinese_form_and_the_plural_limits(browser):
    _p, b = browser
    errors = _errors_for(b, "zh", {"name": "x" * 41, "tags": '["a"]', "score": "2.25", "age": "17"})
    assert errors == {"name": "最多 40 个字符", "tags": "至少需要 2 项", "score": "必须是 0.5 的倍数",
                      "age": "不能小于 18"}


def test_the_type_of_a_value_inside_an_object_is_named(browser):
    _p, b = browser
    errors = _errors_for(b, "fa", {"name": "Alice", "address": '{"city": 12}'})
    assert errors == {"address": "City: باید متن باشد"}


def test_an_edit_words_its_errors_in_the_users_language(browser):
    p, b = browser
    with p.session() as s:
        rec = s.create("member", {"name": "Alice", "age": 30})
    errors = _errors_for(b, "zh", {"version": "1", "name": "Alice", "age": "200"}, f"/r/member/{rec.id}/edit")
    assert errors == {"age": "不能大于 120"}
    with p.session() as s:
        assert s.get(rec.id).data == {"name": "Alice", "age": 30}


def test_english_keeps_the_validators_words(browser):
    _p, b = browser
    errors = _errors_for(b, "en", {"name": "Al", "age": "150"})
    assert errors == {"name": '"Al" is shorter than 3 characters', "age": "150 is greater than the maximum of 120"}


def test_a_plugins_message_is_not_reworded(browser):
    _p, b = browser
    errors = _errors_for(b, "fa", {"name": "Refused by plugin"})
    assert errors == {"name": "plugin rule"}


def test_the_rest_api_answers_in_english_whatever_the_ui_language(browser):
    p, b = browser
    b.post("/lang", {"lang": "fa", "next": "/"})
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = b.client.post("/api/v1/records/member", json={"data": {"name": "Al"}},
                      headers={"Authorization": f"Bearer {token}", "Accept-Language": "fa"})
    assert r.status_code == 422
    assert r.get_json()["errors"] == [{"pointer": "/data/name", "message": '"Al" is shorter than 3 characters'}]


def test_an_error_on_a_value_a_plugin_set_names_the_plugin_in_the_users_language(browser):
    _p, b = browser
    assert _errors_for(b, "en", {"name": "Aged by plugin"}) == {
        "age": "200 is greater than the maximum of 120 (set by the before_create hook of plugin 'members')"}
    assert _errors_for(b, "fa", {"name": "Aged by plugin"}) == {
        "age": "باید حداکثر ۱۲۰ باشد (تعیین‌شده توسط افزونه: 'members')"}
    assert _errors_for(b, "zh", {"name": "Aged by plugin"}) == {"age": "不能大于 120 （由插件设置：'members'）"}
