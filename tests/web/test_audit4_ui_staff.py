"""Audit 4, the admin UI as an organisation's staff uses it in Persian, Chinese and English:
KPI values and units written the way each language writes them, a timeline and error pages
in the user's language, list filters that take the labels the list shows, the roles page's
words translated, stale forms (a delete confirmation, a type definition) refused instead of
undoing someone else's change, and refused admin forms that keep what was typed."""
from __future__ import annotations

import html
import re

import pytest

from xrm_core.plugins import hookimpl

from test_ui_support import Browser, text


class RevenuePlugin:
    __name__ = "revenue"

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "avg_score", "label": {"en": "Average score", "fa": "میانگین امتیاز"},
                 "unit": "rial", "entity": "person", "measure": {"avg": "score"}},
                {"name": "share_vip", "label": "VIP share", "unit": "percent", "entity": "person",
                 "measure": {"share": {"vip": True}}},
                {"name": "mean_age", "label": "Mean age", "unit": "score (1–7)", "entity": "person",
                 "measure": {"avg": "age"}}]


@pytest.fixture
def site(make_platform):
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), RevenuePlugin())
    b = Browser(p)
    b.login()
    return p, b


def _value(page: str) -> str:
    return re.search(r'id="kpi-avg_score">.*?<p class="value[^"]*">(.*?) <span', page, re.S).group(1)


def test_a_huge_kpi_value_uses_the_languages_separators_and_a_smaller_font(site):
    """In Persian the value was 18,499,084,761.9 in Persian digits, with a comma for the
    groups; the card wrapped it after ۱۸,۴۹۹,۰۸۴,۷۶ — which reads as a decimal — and showed
    ۱.۹ on the next line."""
    p, b = site
    with p.session() as s:
        s.create("person", {"name": "A", "score": 18499084761.9})
    page = text(b.get("/"))
    assert _value(page) == "18,499,084,761.9"
    assert '<p class="value long">' in page  # too long for the large font: it wrapped
    b.post("/lang", {"lang": "fa", "next": "/"})
    assert _value(text(b.get("/"))) == "۱۸٬۴۹۹٬۰۸۴٬۷۶۱٫۹"  # Persian group and decimal signs
    b.post("/lang", {"lang": "zh", "next": "/"})
    assert _value(text(b.get("/"))) == "18,499,084,761.9"


def test_a_negative_kpi_value_keeps_its_minus_on_the_left_in_persian(site):
    p, b = site
    with p.session() as s:
        s.create("person", {"name": "A", "score": -12.5})
        s.create("person", {"name": "B", "score": -0.004})
    page = text(b.get("/"))
    assert _value(page) == "-6.25" and '<p class="value">' in page  # short: the large font
    b.post("/lang", {"lang": "fa", "next": "/"})
    # A left-to-right mark binds the sign to the digits (as CLDR's Persian minus does).
    assert _value(text(b.get("/"))) == "\u200e-۶٫۲۵"


def test_a_related_records_timeline_entry_names_its_type_in_the_users_language(site):
    """The record page's timeline showed a related record's entries as "(person ID)": the
    type's name, English inside a Persian page."""
    p, b = site
    with p.session() as s:
        a = s.create("person", {"name": "A"})
        c = s.create("person", {"name": "C"})
        s.relate("knows", a.id, c.id)
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get(f"/r/person/{a.id}"))
    timeline = page[page.index('id="timeline"'):]
    assert f'(شخص <a href="/r/person/{c.id}">C</a>)' in timeline
    assert "(person <a" not in timeline
    b.post("/lang", {"lang": "zh", "next": "/"})
    assert f'(人 <a href="/r/person/{c.id}">' in text(b.get(f"/r/person/{a.id}"))


def _unit(page: str, kpi: str) -> str:
    return re.search(rf'id="kpi-{kpi}">.*?<span class="unit">(.*?)</span>', page, re.S).group(1)


def test_common_kpi_units_are_worded_in_the_users_language(site):
    """The cards of a Persian dashboard said "percent", "hours", "score (0–100)"."""
    p, b = site
    page = text(b.get("/"))
    assert (_unit(page, "share_vip"), _unit(page, "mean_age"), _unit(page, "avg_score")) == (
        "percent", "score (1–7)", "rial")
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get("/"))
    # A unit the UI does not know stays as the plugin wrote it.
    assert (_unit(page, "share_vip"), _unit(page, "mean_age"), _unit(page, "avg_score")) == (
        "درصد", "امتیاز (۱–۷)", "rial")
    b.post("/lang", {"lang": "zh", "next": "/"})
    page = text(b.get("/"))
    assert (_unit(page, "share_vip"), _unit(page, "mean_age")) == ("百分比", "分数 (1–7)")


def test_a_delete_confirmed_on_a_stale_page_is_refused_and_changes_nothing(site):
    """The confirmation page carried no version: a record someone changed while it was open
    (or that came back through the browser's history) was deleted unseen."""
    p, b = site
    with p.session() as s:
        rec = s.create("person", {"name": "A"})
    page = text(b.get(f"/r/person/{rec.id}/delete"))
    assert '<input type="hidden" name="version" value="1">' in page
    with p.session() as s:
        s.update(rec.id, {"name": "A, changed"})
    b.post("/lang", {"lang": "fa", "next": "/"})
    r = b.post(f"/r/person/{rec.id}/delete", {"version": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/r/person/{rec.id}")
    assert "حذف نشد: این رکورد پس از درخواست حذف شما" in text(b.followed)
    assert "نسخه ۲ است" in text(b.followed)
    with p.session() as s:
        assert s.get(rec.id).data == {"name": "A, changed"}
    # A version that is no number matches nothing; the current version deletes.
    assert b.post(f"/r/person/{rec.id}/delete", {"version": "x"}).status_code == 302
    with p.session() as s:
        assert s.get(rec.id).version == 2
    r = b.post(f"/r/person/{rec.id}/delete", {"version": "2"})
    assert r.headers["Location"].endswith("/r/person")
    with p.session() as s:
        assert not s.list("person")


def test_the_roles_page_words_actions_and_depths_in_the_users_language(site):
    """A Persian roles page listed grants as "read, create · all" and offered the actions
    and depths as English words."""
    p, b = site
    assert b.post("/admin/roles", {"action": "create", "name": "desk"}).status_code == 302
    assert b.post("/admin/roles", {"action": "grant", "name": "desk", "type": "person",
                                   "actions": ["read", "update"], "depth": "subtree"}).status_code == 302
    page = text(b.get("/admin/roles"))
    assert "<code>person</code> read, update · subtree</li>" in page  # English: the stored words
    b.post("/lang", {"lang": "fa", "next": "/admin/roles"})
    page = text(b.get("/admin/roles"))
    assert "<code>person</code> خواندن، ویرایش · واحد و زیرمجموعه‌ها</li>" in page
    assert '<input type="checkbox" name="actions" value="delete"> حذف</label>' in page
    assert '<option value="own">رکوردهای خود</option>' in page
    b.post("/lang", {"lang": "zh", "next": "/admin/roles"})
    assert "<code>person</code> 读取、修改 · 本单位及下级</li>" in text(b.get("/admin/roles"))


def test_a_list_filter_takes_the_values_label_as_the_list_shows_it(make_platform):
    """The list shows a field's values by their labels ("در حال انجام", "High"), but its
    filter matched the stored values only: typing what the list showed found nothing."""
    from test_value_labels import TicketPlugin
    p = make_platform(TicketPlugin())
    b = Browser(p)
    b.login()
    with p.session() as s:
        s.create("ticket", {"title": "Brakes", "status": "in_progress", "level": 3})
        s.create("ticket", {"title": "Wipers", "status": "open", "level": 1})
        s.create("ticket", {"title": "Horn", "status": "closed", "level": 2})

    def titles(query: str) -> set:
        page = text(b.get("/r/ticket?" + query))
        assert 'class="flash error"' not in page, page
        return set(re.findall(r'<a href="/r/ticket/\w+">(\w+)</a>', page))
    b.post("/lang", {"lang": "fa", "next": "/"})
    assert titles("ff=status&fo=eq&fv=در حال انجام") == {"Brakes"}
    assert titles("ff=status&fo=ne&fv=باز") == {"Brakes", "Horn"}
    assert titles("ff=level&fo=eq&fv=زیاد") == {"Brakes"}  # an integer's label
    assert titles("ff=status&fo=in&fv=باز, Closed") == {"Wipers", "Horn"}
    # Any case, any language; the stored value still works; a range compares stored values.
    assert titles("ff=status&fo=eq&fv=in PROGRESS") == {"Brakes"}
    assert titles("ff=status&fo=eq&fv=in_progress") == {"Brakes"}
    assert titles("ff=level&fo=gte&fv=2") == {"Brakes", "Horn"}
    assert titles("ff=status&fo=eq&fv=nothing") == set()


def test_applying_a_type_definition_edited_from_an_older_version_is_refused(site):
    """Two administrators edit the same type: the second "Apply" put the definition back as
    its (older) text had it, undoing the first one's change unseen."""
    import orjson
    p, b = site
    page = text(b.get("/types/note"))
    assert '<input type="hidden" name="version" value="1">' in page
    # The definition's text area is named by its heading (it had no label at all).
    assert '<h2 id="definition-label">' in page and 'aria-labelledby="definition-label"' in page
    with p.session() as s:
        first = dict(s.entity_type("note").definition)
    other = Browser(p)
    other.login()
    changed = {**first, "field_labels": {"text": "Text of the note"}}
    r = other.post("/types/note", {"definition": orjson.dumps(changed).decode(), "action": "apply", "version": "1"})
    assert r.status_code == 302
    mine = orjson.dumps({**first, "description": "Notes"}).decode()
    b.post("/lang", {"lang": "fa", "next": "/"})
    for action in ("check", "apply"):
        r = b.post("/types/note", {"definition": mine, "action": action, "version": "1"})
        page = text(r)
        assert r.status_code == 422 and "این نوع پس از باز کردن آن توسط شخص دیگری تغییر کرده است" in page
        assert "(اکنون نسخه ۲ است)" in page
        assert '<input type="hidden" name="version" value="1">' in page  # still the text's version
        assert '"description":"Notes"' in html.unescape(page)  # what was typed is kept
    with p.session() as s:
        et = s.entity_type("note")
        assert et.version == 2 and et.definition.get("field_labels") == {"text": "Text of the note"}
        assert "description" not in et.definition
    # Edited from the current version, it applies.
    r = b.post("/types/note", {"definition": orjson.dumps({**changed, "description": "Notes"}).decode(),
                               "action": "apply", "version": "2"})
    assert r.status_code == 302
    with p.session() as s:
        assert s.entity_type("note").definition["description"] == "Notes"


def test_an_error_page_is_headed_in_the_users_language(site):
    """A Persian user opening a record outside their scope (or a stale link) got a page
    headed "Not found" in English, and nothing in Persian saying what it means."""
    p, b = site
    b.post("/lang", {"lang": "fa", "next": "/"})
    r = b.get("/r/person/nothing")
    page = text(r)
    assert r.status_code == 404 and "<h1>پیدا نشد</h1>" in page and "<title>پیدا نشد · xRM</title>" in page
    assert "<p>وجود ندارد، یا خارج از محدوده‌ای است که اجازهٔ دیدن آن را دارید.</p>" in page
    assert "no record &#39;nothing&#39;" in page  # the detail stays
    r = b.post("/admin/users/admin", {"unit": "root"})  # the last administrator: refused at the form
    assert r.status_code == 409 and "این با داده‌های ذخیره‌شده ناسازگار است." in text(r)
    b.post("/lang", {"lang": "en", "next": "/"})
    assert "<h1>Not found</h1>" in text(b.get("/r/person/nothing"))


def test_a_refused_admin_form_is_shown_again_with_what_was_typed(site):
    """Creating a user whose name was taken, a unit under a parent that is gone or a grant
    without an action led to a bare error page: everything chosen was lost."""
    p, b = site
    b.get("/admin/units")
    assert b.post("/admin/units", {"name": "east", "parent": "root"}).status_code == 302
    assert b.post("/admin/roles", {"action": "create", "name": "desk", "label": "Desk"}).status_code == 302
    r = b.post("/admin/users", {"name": "admin", "unit": "east", "roles": ["desk"], "password": "long enough pw"})
    page = text(r)
    assert r.status_code == 409 and 'class="flash error summary" role="alert"' in page
    assert "user &#39;admin&#39; already exists</span>" in page  # at the name, which is marked
    assert '<input name="name" value="admin" required id="user-name" aria-invalid="true" ' \
           'aria-describedby="user-name-error">' in page
    assert '<option value="east" selected>east</option>' in page
    assert '<input type="checkbox" name="roles" value="desk" checked>' in page
    assert 'value="long enough pw"' not in page  # a password is never sent back
    r = b.post("/admin/units", {"name": "north", "parent": "gone"})
    assert r.status_code == 404 and '<input name="name" value="north" required id="unit-name">' in text(r)
    r = b.post("/admin/roles", {"action": "grant", "name": "desk", "type": "person", "depth": "subtree"})
    page = text(r)
    assert r.status_code in (400, 422) and 'role="alert"' in page
    assert '<option value="desk" selected>desk</option>' in page and '<option value="person" selected>' in page
    assert '<option value="subtree" selected>' in page
    assert '<input name="name" value="" required id="role-name">' in page  # the other form stays empty
    with p.connection() as conn:
        from xrm_core import accounts
        assert [u["name"] for u in accounts.list_users(conn)] == ["admin"]
        assert {u["name"] for u in accounts.list_units(conn)} == {"root", "east"}
        assert next(r for r in accounts.list_roles(conn) if r["name"] == "desk")["grants"] == []


def test_a_failed_kpi_card_says_so_in_the_users_language(make_platform):
    from conftest import PersonPlugin
    from test_ui_admin import KpiPlugin  # its "broken" KPI raises
    p = make_platform(PersonPlugin(), KpiPlugin())
    b = Browser(p)
    b.login()
    b.post("/lang", {"lang": "fa", "next": "/"})
    card = re.search(r'id="kpi-broken">(.*?)</article>', text(b.get("/")), re.S).group(1)
    assert "شاخص broken در افزونهٔ &#39;peoplekpis&#39; با خطا روبه‌رو شد (گزارش سرور را ببینید)" in card
    assert "oops" not in card


def test_the_log_form_stops_at_the_longest_summary_the_core_takes(site):
    """A summary over the core's limit was refused by a redirect that lost what was typed;
    the input now has the limit, so the browser stops there."""
    from xrm_core.session import MAX_SUMMARY
    p, b = site
    with p.session() as s:
        rec = s.create("person", {"name": "A"})
    page = text(b.get(f"/r/person/{rec.id}"))
    assert f'aria-label="Summary" required maxlength="{MAX_SUMMARY}">' in page
    assert b.post(f"/r/person/{rec.id}/log", {"kind": "call", "summary": "x" * MAX_SUMMARY}).status_code == 302
    with p.session() as s:
        assert [h["kind"] for h in s.history(rec.id)] == ["created", "call"]


def test_a_list_filter_reads_numbers_and_lists_typed_the_persian_or_chinese_way(site):
    """"score = ۱٫۵" (the Persian decimal sign) and "age is one of ۵، ۵۰" (the Persian comma)
    were refused as "not a number"."""
    p, b = site
    with p.session() as s:
        s.create("person", {"name": "A", "age": 5, "score": 1.5})
        s.create("person", {"name": "B", "age": 50, "score": 2500})
        s.create("person", {"name": "C", "age": 7, "tags": ["x"]})

    def names(query: str) -> set:
        page = text(b.get("/r/person?" + query))
        assert 'class="flash error"' not in page, page
        return set(re.findall(r'<a href="/r/person/\w+">(\w+)</a>', page))
    b.post("/lang", {"lang": "fa", "next": "/"})
    assert names("ff=score&fo=eq&fv=۱٫۵") == {"A"}
    assert names("ff=score&fo=gte&fv=۲٬۰۰۰") == {"B"}
    assert names("ff=age&fo=in&fv=۵، ۵۰") == {"A", "B"}
    assert names("ff=age&fo=in&fv=5、7") == {"A", "C"}
    assert names("ff=name&fo=in&fv=A，B") == {"A", "B"}
    # A text field keeps the signs as typed: they may be part of the text.
    assert names("ff=name&fo=eq&fv=۱٫۵") == set()
