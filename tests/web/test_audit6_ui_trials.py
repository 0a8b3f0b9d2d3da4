"""Audit 6: the admin UI as the staff of two trial sites use it, with a plugin the platform's
developers had not seen (``audit6_trials``: sites, participants, visits — nested objects,
arrays of objects, enums with Persian and Chinese values, ``oneOf``, ``if/then/else``,
formats date, date-time, email and uri).

What was found and is checked here:
- a JSON input (an object, a list of objects) said only "JSON": it now shows an example of
  the shape its schema asks for, tied to the input;
- ``oneOf``/``anyOf``/``not`` errors read "… is not valid under any of the schemas listed in
  the 'oneOf' keyword" on every page, in English on the Persian and Chinese ones too;
- lists could not be sorted: each column heading sorts (``aria-sort``), pages follow the
  order, a bad sort or a forged cursor is said on the page;
- the timeline named related records and the other ends of links by their ids; it names
  them by title now, and a record outside the user's scope still by its id only.
And what held: refused forms keep what was typed with each error at its input, nothing is
written; filters by nested fields and by a value's label in any language; the import page's
error per line; no other unit's record in lists, counts, pickers, link candidates, exports,
search, KPIs or by id.
"""
from __future__ import annotations

import html
import io
import re

import pytest

from xrm_core import accounts

from audit6_trials import TrialsPlugin, two_sites
from test_ui_support import Browser, signed_in, text


@pytest.fixture
def trials(make_platform):
    p = make_platform(TrialsPlugin())
    return p, two_sites(p)


def _as(p, user: str, lang: str = "en") -> Browser:
    return signed_in(p, user, "pw-coord-1", lang)


def _errors(page: str) -> dict:
    """``{input id: message}`` of the record form's errors."""
    return {k: html.unescape(v) for k, v in re.findall(r'<span class="error" id="err-([\w-]+)">([^<]*)</span>', page)}


def _tag(page: str, input_id: str) -> str:
    return re.search(r'<(?:input|select|textarea) id="f-%s"[^>]*>' % re.escape(input_id), page).group(0)


def _count(p, type_name: str) -> int:
    with p.session() as s:
        return s.count(type_name)


BAD = {"code": "P-01", "arm": "دارونما", "status": "withdrawn", "born": "2026-02-30",
       "contact": '{"email": "not-an-email", "address": {"city": 5}}',
       "consents": '[{"kind": "main"}, {"kind": "other", "given_at": "2026-13-01T00:00:00Z"}]',
       "identifier": '{"mrn": "1", "passport": "X"}'}


@pytest.mark.parametrize("lang, one_of", [
    ("en", "fits none of the allowed forms"),
    ("fa", "با هیچ‌یک از شکل‌های مجاز جور نیست"),
    ("zh", "不符合任何一种允许的格式"),
])
def test_a_refused_participant_keeps_what_was_typed_with_each_error_at_its_input(trials, lang, one_of):
    p, _ = trials
    b = _as(p, "coord_tehran", lang)
    before = _count(p, "participant")
    b.get("/r/participant/new")
    r = b.post("/r/participant/new", BAD)
    page = text(r)
    assert r.status_code == 422 and _count(p, "participant") == before
    errors = _errors(page)
    # Every refused input, nested pointers inside the JSON ones, the if/then rule at its field.
    assert set(errors) == {"code", "withdrawn_on", "born", "contact", "consents", "identifier"}
    # Where inside the value, by the labels of its members (a list's items counted from 1).
    assert errors["contact"].startswith("Address › City: ") and "address/city" not in errors["contact"]
    items = [part.split(" › ")[1].split(":")[0] for part in errors["consents"].split("; ")]
    assert items == ["Given at", "Given at", "Kind"] and "0/given_at" not in errors["consents"]
    assert errors["identifier"] == one_of  # not the validator's "'oneOf' keyword"
    assert "oneOf" not in page and "schemas listed" not in page
    for name in errors:
        tag = _tag(page, name)
        assert 'aria-invalid="true"' in tag and f"err-{name}" in re.search(r'aria-describedby="([^"]*)"', tag).group(1)
    # What was typed is there again, the choices too.
    assert html.unescape(BAD["consents"]) in html.unescape(page)
    assert '<option value="withdrawn" selected>' in page and '<option value="دارونما" selected>' in page
    assert 'value="2026-02-30"' in page and 'value="P-01"' in page
    if lang == "fa":
        assert 'dir="rtl"' in page and 'textarea id="f-contact" name="contact" rows="6" class="code" dir="ltr"' in page


def test_a_json_input_shows_the_shape_its_schema_asks_for(trials):
    p, _ = trials
    page = text(_as(p, "coord_tehran").get("/r/participant/new"))
    examples = {k: html.unescape(v) for k, v in
                re.findall(r'<small class="muted example" id="ex-(\w+)">For example: <code dir="ltr">([^<]*)</code>', page)}
    # The object, the list of objects and the oneOf of objects with members of their own
    # have an input per member now (nested_inputs.py, ui13): no JSON box, so no example.
    assert examples == {}
    assert 'name="identifier"' not in page
    for name in ("contact.email", "contact.address.city", "consents.0.kind", "consents.0.given_at",
                 "identifier.mrn", "identifier.passport"):
        assert f'name="{name}"' in page, name
    # A JSON box's text posted under the property's name is still read (an older page's form):
    # objects shaped like the old examples save.
    b = _as(p, "coord_tehran")
    b.get("/r/participant/new")
    r = b.post("/r/participant/new", {
        "code": "P-100", "arm": "治疗组", "status": "screening",
        "contact": '{"email":"name@example.org","address":{"city":"…","postcode":"…"}}',
        "consents": '[{"kind":"main","given_at":"2026-01-31T09:30:00Z","form":"https://example.org/x"}]'})
    assert r.status_code == 302, _errors(text(r))


def test_a_nested_edit_saves_and_the_timeline_names_records_by_title(trials):
    p, ids = trials
    b = _as(p, "coord_tehran")
    path = f"/r/participant/{ids['p_tehran']}"
    form = text(b.get(path + "/edit"))
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    r = b.post(path + "/edit", {"version": version, "code": "P-001", "arm": "دارونما", "status": "withdrawn",
                                "withdrawn_on": "2026-03-01", "site_id": ids["site_tehran"],
                                "contact": '{"email": "new@example.org", "address": {"city": "تهران"}}',
                                "consents": '[{"kind": "main", "given_at": "2026-01-05T09:00:00Z"},'
                                            ' {"kind": "genetic", "given_at": "2026-02-01T10:00:00Z"}]'})
    assert r.status_code == 302, _errors(text(r))
    page = text(b.get(path))
    timeline = page[page.index('id="timeline"'):]
    # The diff names the nested pointers; the related visit and the links by title, not id.
    assert sorted(re.findall(r"<tr><td><code>([^<]+)</code>", timeline)) == [
        "/consents", "/contact/address", "/contact/email", "/status", "/withdrawn_on"]
    assert f'<a href="/r/visit/{ids["v_tehran"]}">Baseline THR</a>' in timeline
    assert f'<a href="/r/trial_site/{ids["site_tehran"]}">THR</a>' in timeline
    assert f'>{ids["v_tehran"]}</a>' not in timeline
    # The adverse event of the participant's visit is on the participant's timeline.
    assert "headache after dose at THR" in timeline


def test_a_timeline_never_names_a_record_outside_the_users_scope(trials):
    """A link the sponsor made to another site's visit: the coordinator's page names neither
    the visit nor its id (the titles the timeline now looks up are of visible records only)."""
    p, ids = trials
    with p.session("coord_shanghai") as s:
        visit = s.create("visit", {"label": "Follow-up SHA", "at": "2026-02-06T09:00:00Z"})
    with p.session() as s:  # the administrator, who sees both sites
        s.relate("participant_visit", ids["p_tehran"], visit.id)
    page = text(_as(p, "coord_tehran").get(f"/r/participant/{ids['p_tehran']}"))
    assert "Follow-up SHA" not in page and visit.id not in page
    assert "Baseline THR" in page
    # The administrator sees its title.
    assert "Follow-up SHA" in text(_as(p, "admin").get(f"/r/participant/{ids['p_tehran']}"))


def _codes(page: str) -> list[str]:
    return re.findall(r'<a href="/r/participant/\w+">(P-\d{3})</a>', page)


def test_lists_sort_by_a_column_and_page_in_that_order(trials):
    p, _ = trials
    with p.session("coord_tehran") as s:
        for i in range(3, 58):
            s.create("participant", {"code": f"P-{i:03d}", "arm": "治疗组" if i % 2 else "دارونما",
                                     "status": "screening", **({"born": f"19{50 + i % 40}-01-01"} if i % 3 == 0 else {})})
    b = _as(p, "coord_tehran")
    first = text(b.get("/r/participant?sort=-code"))
    codes = _codes(first)
    assert codes[0] == "P-057" and codes == sorted(codes, reverse=True) and len(codes) == 50
    assert re.search(r'<th scope="col" aria-sort="descending"><a class="sort" href="/r/participant\?sort=code">', first)
    nxt = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert "sort=-code" in nxt
    second = text(b.get(nxt))
    # The second page goes on in the same order, without repeating a record.
    assert _codes(second) == ["P-007", "P-006", "P-005", "P-004", "P-003", "P-001"]
    assert 'sort=-code' in re.search(r'<a href="([^"]+)">First page</a>', second).group(1)
    # Sorting keeps the filter, the filter form keeps the sort.
    filtered = text(b.get("/r/participant?ff=arm&fo=eq&fv=Placebo&sort=code"))
    assert _codes(filtered)[:3] == ["P-001", "P-004", "P-006"]
    assert '<input type="hidden" name="sort" value="code">' in filtered
    assert "ff=arm" in re.search(r'<a class="sort" href="([^"]+sort=arm[^"]*)"', filtered).group(1)
    # A bad sort and a forged cursor are said on the page, as a bad filter is.
    for bad in ("/r/participant?sort=nope", "/r/participant?sort=code&after=bm90IGEgY3Vyc29y"):
        r = b.get(bad)
        assert r.status_code == 200 and 'role="alert"' in text(r) and "Traceback" not in text(r), bad
        assert _codes(text(r)) == []
    # By a field most records lack: the pages still hold every record once, on both engines.
    for order in ("born", "-born"):
        page = text(b.get(f"/r/participant?sort={order}"))
        seen = _codes(page)
        seen += _codes(text(b.get(html.unescape(re.search(r'<a rel="next" href="([^"]+)"', page).group(1)))))
        assert sorted(seen) == sorted(f"P-{i:03d}" for i in [1, *range(3, 58)]), order
        dated = [c for c in seen if int(c[2:]) % 3 == 0]
        births = [f"19{50 + int(c[2:]) % 40}" for c in dated]
        assert births == sorted(births, reverse=order.startswith("-")), order
    # The CSV export follows the list's order.
    csv = b.get("/r/participant/export.csv?sort=-code").get_data(as_text=True).splitlines()
    assert csv[1].split(",")[1] == "P-057"


@pytest.mark.parametrize("lang, label", [("en", "Placebo"), ("fa", "دارونما"), ("zh", "安慰剂")])
def test_filters_by_a_nested_field_and_by_a_values_label(trials, lang, label):
    p, ids = trials
    b = _as(p, "coord_tehran", lang)
    assert _codes(text(b.get(f"/r/participant?ff=arm&fo=eq&fv={label}"))) == ["P-001"]
    assert _codes(text(b.get("/r/participant?ff=contact.email&fo=eq&fv=p-001@example.org"))) == ["P-001"]
    assert _codes(text(b.get("/r/participant?ff=contact.email&fo=eq&fv=p-002@example.org"))) == []


def test_logging_an_interaction_keeps_what_was_typed_when_refused(trials):
    p, ids = trials
    b = _as(p, "coord_tehran", "fa")
    path = f"/r/visit/{ids['v_tehran']}"
    b.get(path)
    r = b.post(path + "/log", {"kind": "phone_follow_up", "summary": "x" * 2001})
    page = text(r)
    assert r.status_code == 422 and 'aria-invalid="true"' in re.search(r'<input name="summary"[^>]*>', page).group(0)
    assert '<option value="phone_follow_up" selected>' in page and 'value="' + "x" * 2001 + '"' in page
    r = b.post(path + "/log", {"kind": "no_such_kind", "summary": "called"})
    assert r.status_code == 422 and 'aria-invalid="true"' in re.search(r'<select name="kind"[^>]*>', text(r)).group(0)
    with p.session() as s:
        assert [a["summary"] for a in s.history(ids["v_tehran"]) if a["kind"] not in ("created", "related")] == \
            ["headache after dose at THR"]
    r = b.post(path + "/log", {"kind": "phone_follow_up", "summary": "called back, fine"})
    assert r.status_code == 302
    assert "پیگیری تلفنی" in text(b.get(path))


def test_an_import_with_bad_rows_says_each_line_and_changes_nothing(trials):
    p, _ = trials
    b = _as(p, "coord_tehran", "fa")
    before = _count(p, "participant")
    b.get("/r/participant/import")
    body = ("code,arm,status,contact.email,withdrawn_on\n"
            "P-200,دارونما,screening,a@example.org,\n"
            "P-2,治疗组,screening,b@example.org,\n"
            "P-202,placebo,withdrawn,not-an-email,\n").encode()
    r = b.post("/r/participant/import", {"file": (io.BytesIO(body), "participants.csv")},
               content_type="multipart/form-data")
    page = text(r)
    assert r.status_code == 422 and _count(p, "participant") == before
    rows = re.findall(r'<tr><td>([^<]+)</td><td>[^<]* <bdi class="pointer" dir="ltr"><code>([^<]+)</code></bdi></td>', page)
    lines = {line for line, _ in rows}
    assert lines == {"۳", "۴"}  # the file's own line numbers (the header is line 1), Persian digits
    assert ("۳", "/code") in rows and ("۴", "/arm") in rows and ("۴", "/withdrawn_on") in rows
    assert ("۴", "/contact/email") in rows


def test_a_coordinator_never_sees_the_other_sites_records(trials):
    p, ids = trials
    b = _as(p, "coord_tehran")
    lists = {t: text(b.get(f"/r/{t}")) for t in ("participant", "trial_site", "visit")}
    assert "P-001" in lists["participant"] and "P-002" not in lists["participant"]
    assert "SHA" not in lists["trial_site"] and "Baseline SHA" not in lists["visit"]
    assert "SHA" not in text(b.get("/r/trial_site?q=SHA")) .split("<tbody>")[1]
    for t in ("participant", "trial_site", "visit"):
        assert b.get(f"/r/{t}/{ids[{'participant': 'p', 'trial_site': 'site', 'visit': 'v'}[t] + '_shanghai']}").status_code == 404
    # Counts on the types page and the dashboard's KPI.
    types_page = text(b.get("/types/"))
    assert re.findall(r"<td>(\d+)</td>\s*</tr>", types_page) == ["1", "1", "1"]
    assert re.search(r'id="kpi-enrolled">.*?<p class="n">n = 1</p>', text(b.get("/")), re.S)
    # The reference picker, the link candidates, the export.
    form = text(b.get("/r/participant/new"))
    assert ids["site_shanghai"] not in form and ">SHA<" not in form
    link = text(b.get(f"/r/participant/{ids['p_tehran']}/link?rel=site_enrols:in&q="))
    assert "SHA" not in link and "THR" in link
    csv = b.get("/r/participant/export.csv").get_data(as_text=True)
    assert "P-002" not in csv and "P-001" in csv
    # Typing the other site's id or title into the reference is refused, naming nothing.
    b.get("/r/participant/new")
    for typed in (ids["site_shanghai"], "SHA"):
        r = b.post("/r/participant/new", {"code": "P-300", "arm": "دارونما", "status": "screening",
                                          "site_id": typed})
        assert r.status_code == 422 and "SHA" not in _errors(text(r)).get("site_id", "SHA?")
    # Linking to it through a forged form is refused too.
    b.get(f"/r/participant/{ids['p_tehran']}")
    b.post(f"/r/trial_site/{ids['site_tehran']}/link", {"rel": "site_enrols:out", "other": ids["p_shanghai"]})
    with p.session() as s:
        assert [i["record"].id for i in s.related(ids["site_tehran"], "site_enrols")] == [ids["p_tehran"]]


def test_the_role_picker_says_what_a_site_coordinator_may_do(trials):
    p, _ = trials
    page = text(_as(p, "admin").get("/admin/users"))
    box = re.search(r'<input type="checkbox" name="roles" value="site_coordinator"[^>]*>', page).group(0)
    help_id = re.search(r'aria-describedby="([^"]+)"', box).group(1)
    assert re.search(r'<small class="role-help" id="%s">Runs one site: its participants and visits, nobody else&#39;s.</small>'
                     % help_id, page)
    with p.connection() as conn:
        assert accounts.get_user(conn, "coord_tehran")["roles"] == ["site_coordinator"]
