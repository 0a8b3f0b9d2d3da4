"""UI audit 12: a library's member relations, used by a new organisation in Persian and
Chinese — members, loans and fines (money) in branches (units); a branch librarian must not
see another branch's records anywhere."""
from __future__ import annotations

import html
import io
import re

import pytest


from test_ui_support import DeclaredPlugin, one_to_many, signed_in, text, units_with_staff

L = lambda en, fa, zh: {"en": en, "fa": fa, "zh": zh}  # noqa: E731

MEMBER = {
    "name": "member", "label": L("Member", "عضو", "会员"), "plural_label": L("Members", "اعضا", "会员列表"),
    "title_field": "name", "unique": ["card"],
    "field_labels": {"name": L("Name", "نام", "姓名"), "card": L("Card number", "شماره کارت", "借书证号"),
                     "tier": L("Tier", "سطح", "等级")},
    "value_labels": {"tier": {"adult": L("Adult", "بزرگسال", "成人"), "child": L("Child", "کودک", "儿童")}},
    "schema": {"type": "object", "required": ["name", "card"], "properties": {
        "name": {"type": "string", "minLength": 2},
        "card": {"type": "string", "pattern": "^L[0-9]{5}$", "description": "L and five digits"},
        "tier": {"enum": ["adult", "child"]},
        "joined": {"type": "string", "format": "date"}}},
}
LOAN = {
    "name": "loan", "label": L("Loan", "امانت", "借阅"), "plural_label": L("Loans", "امانت‌ها", "借阅列表"),
    "title_field": "title",
    "field_labels": {"title": L("Book title", "عنوان کتاب", "书名"), "due": L("Due", "سررسید", "应还日期")},
    "schema": {"type": "object", "required": ["title", "due"], "properties": {
        "title": {"type": "string"}, "due": {"type": "string", "format": "date"},
        "member": {"type": "string", "x-ref": "member"}}},
}
FINE = {
    "name": "fine", "label": L("Fine", "جریمه", "罚款"), "plural_label": L("Fines", "جریمه‌ها", "罚款列表"),
    "title_field": "reason",
    "field_labels": {"reason": L("Reason", "علت", "原因"), "amount": L("Amount", "مبلغ", "金额")},
    "schema": {"type": "object", "required": ["reason", "amount"], "properties": {
        "reason": {"type": "string"}, "amount": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "IRR", "CNY"]}, "paid": {"type": "boolean"}}},
}


class LibraryPlugin(DeclaredPlugin):
    """library — members, loans and fines."""

    __name__ = "library"
    types = [MEMBER, LOAN, FINE]
    relationship_types = [
        one_to_many("member_loan", "member", "loan", "cascade", L("borrowed", "امانت گرفت", "借了"),
                    L("borrowed by", "امانت‌گیرنده", "借阅人")),
        one_to_many("member_fine", "member", "fine", "restrict", L("owes", "بدهکار است", "欠"),
                    L("owed by", "بدهکار", "欠款人"))]
    activity_kinds = [{"name": "reminder", "label": L("Reminder", "یادآوری", "提醒")}]
    roles = [{"name": "librarian", "label": L("Librarian", "کتابدار", "馆员"),
              "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]}]
    kpis = [{"name": "fines_total", "label": L("Fines total", "جمع جریمه‌ها", "罚款总额"), "unit": "EUR",
             "entity": "fine", "measure": {"sum": "amount"}},
            {"name": "members_count", "label": L("Members", "اعضا", "会员数"), "unit": "count",
             "entity": "member", "measure": {"count": True}}]


@pytest.fixture
def library(make_platform):
    """Branches east and west of the library, a librarian in each, members, loans and fines."""
    p = make_platform(LibraryPlugin())
    units_with_staff(p, "library", ("east", "west"), [("lib", "librarian", "pw")])
    ids = {}
    for unit, n in (("east", 1), ("west", 2)):
        with p.session(f"lib_{unit}") as s:
            m = s.create("member", {"name": f"Reader {unit}", "card": f"L{n}0001", "tier": "adult"})
            loan = s.create("loan", {"title": f"Book {unit}", "due": "2026-12-01", "member": m.id})
            fine = s.create("fine", {"reason": f"Late {unit}", "amount": 2.5 * n, "currency": "EUR"})
            s.relate("member_loan", m.id, loan.id)
            s.relate("member_fine", m.id, fine.id)
            s.log(m.id, "reminder", f"secret note {unit}")
            ids.update({f"member_{unit}": m.id, f"loan_{unit}": loan.id, f"fine_{unit}": fine.id})
    return p, ids


def _visible(page: str) -> str:
    """The page's text as read, without tags, scripts and the bidi isolation marks."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    page = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return page.replace("\u2068", "").replace("\u2069", "")


@pytest.fixture
def across(library):
    """East's member also borrowed a west book (an admin linked them): a link across branches."""
    p, ids = library
    with p.session("lib_west") as s:
        atlas = s.create("loan", {"title": "Atlas west", "due": "2026-12-02"}).id
        s.log(atlas, "reminder", "west note on atlas")
    with p.session("admin") as s:
        s.relate("member_loan", ids["member_east"], atlas)
    return p, {**ids, "atlas": atlas}


WEST = ("west", "Reader west", "Book west", "Late west", "Atlas west")


@pytest.mark.parametrize("lang", ["fa", "zh"])
def test_a_branch_librarian_sees_nothing_of_another_branch(across, lang):
    p, ids = across
    b = signed_in(p, "lib_east", "pw", lang)
    pages = ["/", "/r/member", "/r/loan", "/r/fine", f"/r/member/{ids['member_east']}",
             f"/r/member/{ids['member_east']}/delete", "/r/loan/new", f"/r/loan/{ids['loan_east']}/edit",
             f"/r/fine/{ids['fine_east']}", "/r/fine/export.csv", "/r/loan?sort=-title"]
    for path in pages:
        r = b.get(path)
        assert r.status_code == 200, path
        page = text(r)
        assert not [w for w in WEST if w in page], path
        assert ids["member_west"] not in page and ids["atlas"] not in page, path
    # The KPIs count the branch's own records only (2.5 of east's, not 7.5 with west's).
    dashboard = _visible(text(b.get("/")))
    assert ("۲٫۵" if lang == "fa" else "2.5") in dashboard
    for path in (f"/r/member/{ids['member_west']}", f"/r/loan/{ids['atlas']}", f"/r/fine/{ids['fine_west']}/edit"):
        assert b.get(path).status_code == 404


def test_a_removed_link_is_said_by_its_label_in_the_timeline(library):
    p, ids = library
    b = signed_in(p, "lib_east", "pw", "fa")
    with p.session("lib_east") as s:
        rel_id = next(r["relationship"]["id"] for r in s.related(ids["member_east"])
                      if r["relationship"]["type"] == "member_loan")
        s.unrelate(rel_id)
    shown = _visible(text(b.get(f"/r/member/{ids['member_east']}")))
    # It read "پیوند برداشته شد · lib_east member_loan → 01a2… removed": the core's English, an id.
    assert "removed" not in shown and "member_loan" not in shown
    assert "پیوند برداشته شد · lib_east امانت گرفت امانت: Book east" in shown
    # On the other end too, by the inverse label.
    shown = _visible(text(b.get(f"/r/loan/{ids['loan_east']}")))
    assert "پیوند برداشته شد · lib_east امانت‌گیرنده عضو: Reader east" in shown


def test_the_delete_page_says_a_cascade_into_a_record_the_user_cannot_see_refuses_it(across):
    """It said "Deleted with it: 1 record you cannot see" (a count of another branch's
    records) for a delete the core then refused: a cascade into a record the user may not
    read or delete refuses the whole delete. Now it says the refusal, counting nothing."""
    p, ids = across
    with p.session("admin") as s:  # no restrict link left: the cascades decide
        s.unrelate(next(r["relationship"]["id"] for r in s.related(ids["member_east"])
                        if r["relationship"]["type"] == "member_fine"))
    b = signed_in(p, "lib_east", "pw", "fa")
    page = _visible(text(b.get(f"/r/member/{ids['member_east']}/delete")))
    assert "همراه آن حذف می‌شود: Book east" in page
    assert not re.search(r"همراه آن حذف می‌شود: ۱ رکورد", page) and "Atlas west" not in page
    b.post("/lang", {"lang": "en", "next": "/"})
    page = _visible(text(b.get(f"/r/member/{ids['member_east']}/delete")))
    assert "cannot see" not in page
    assert "Cannot be deleted: cannot delete " in page and "'member_loan' relationships cascade to a record you may not delete" in page
    # as the delete then says
    b.post(f"/r/member/{ids['member_east']}/delete", {"version": "1"})
    with p.session("admin") as s:
        assert s.get(ids["member_east"]) and s.get(ids["atlas"])


def test_a_csv_import_with_invalid_rows_changes_nothing_and_says_where(library):
    p, ids = library
    b = signed_in(p, "lib_east", "pw", "zh")
    b.get("/r/member/import")
    data = "name,card,tier\nAli,L10002,adult\nBad,X1,adult\nZed,L10003,teen\n".encode()
    r = b.post("/r/member/import", {"file": (io.BytesIO(data), "members.csv")}, content_type="multipart/form-data")
    assert r.status_code == 422
    report = _visible(re.search(r"<table.*?</table>", text(r), re.S).group(0))
    # By line of the file (the header is line 1), the field by its label and its pointer.
    assert re.search(r"3 借书证号 /card .*L and five digits", report)
    assert re.search(r"4 等级 /tier", report)
    with p.session("admin") as s:
        assert sorted(m.data["name"] for m in s.list("member", {})) == ["Reader east", "Reader west"]
