"""What a Chinese-speaking administrator found walking the demo. The roles page: the grants
named each entity type by its technical name only (``case 读取 · 全部``) and the grant
form's type picker listed names; a Chinese label (经销商顾问) and a role's name
(call_center_agent) broke inside themselves when the table was narrow. An import's report:
a value outside an ``enum`` was "not one of the allowed values" without saying which ones
(the English report lists them), so the user could not correct the cell."""
from __future__ import annotations

import re

import pytest

from xrm_core import accounts, entity_types

from test_ui_support import Browser, text

TICKET = {"name": "ticket", "label": {"en": "Ticket", "zh": "工单"}, "title_field": "title",
          "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}


@pytest.fixture
def admin(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, TICKET)
        accounts.save_role(conn, {"name": "call_center_agent", "label": {"en": "Agent", "zh": "呼叫中心坐席"},
                                  "grants": [{"type": "ticket", "actions": ["read"], "depth": "all"},
                                             {"type": "*", "actions": ["read"], "depth": "unit"}]})
    b = Browser(p)
    b.login()
    b.post("/lang", {"lang": "zh", "next": "/"})
    return b


def test_grants_and_the_type_picker_name_types_by_their_labels(admin):
    page = text(admin.get("/admin/roles"))
    row = re.search(r"<tr><td[^>]*>call_center_agent</td>(.*?)</tr>", page, re.S).group(1)
    grants = re.findall(r"<li>(.*?)</li>", row)
    assert "工单 <code>ticket</code> 读取 · 全部" in grants and "所有类型 <code>*</code> 读取 · 本单位" in grants
    picker = re.search(r'<select name="type"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert '<option value="*">所有类型 (*)</option>' in picker
    assert '<option value="ticket">工单 (ticket)</option>' in picker


def test_a_roles_name_label_and_source_stay_on_one_line(admin):
    page = text(admin.get("/admin/roles"))
    assert re.search(r'<tr><td class="nowrap">call_center_agent</td><td class="nowrap">呼叫中心坐席</td>'
                     r'<td>[^<]*</td><td class="nowrap">admin</td>', page)
    r = admin.get("/static/style.css")
    assert "td.nowrap { white-space: nowrap; }" in text(r)
    r.close()


# -- an import's refused value: the values the cell may hold, in the page's language -------------

def _kind(schema, value):
    import jsonschema_rs
    return next(jsonschema_rs.validator_for(schema).iter_errors(value)).kind


@pytest.mark.parametrize("language, said", [
    ("zh", '不是允许的值之一："v0"、"v1"、"v2"、"v3"、"v4"、"v5"、"v6"、"v7"、"v8"、"v9"、"v10"、"v11"、"v12"、'
           '"v13"、"v14"、"v15"、"v16"、"v17"、"v18"、"v19" 等另外 3 个'),
    ("fa", 'از مقادیر مجاز نیست: \u2066"v0"، "v1"، "v2"، "v3"، "v4"، "v5"، "v6"، "v7"، "v8"، "v9"، "v10"، "v11"، '
           '"v12"، "v13"، "v14"، "v15"، "v16"، "v17"، "v18"، "v19"\u2069 و ۳ مقدار دیگر'),
])
def test_a_value_outside_an_enum_lists_the_values_it_may_take(make_platform, language, said):
    from xrm_core.web import create_app
    from xrm_core.web.ui import schema_messages
    app = create_app(make_platform(), {"TESTING": True, "SECRET_KEY": "test"})
    with app.test_request_context(headers={"Accept-Language": language}):
        assert schema_messages.worded(_kind({"enum": [f"v{i}" for i in range(23)]}, "x")) == said
        const = schema_messages.worded(_kind({"const": "a"}, "b"))
        assert const == {"zh": '必须是 "a"', "fa": 'باید \u2066"a"\u2069 باشد'}[language]
        # An empty enum allows nothing: said as a "not" is, with no empty list.
        assert schema_messages.worded(_kind({"enum": []}, "b")) == schema_messages.worded(_kind({"not": {}}, "b"))
