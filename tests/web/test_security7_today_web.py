"""Security review of the day's admin UI and REST changes (helper-G), on both engines.

- Record pickers inside groups and rows offer and accept only records the user may read, of
  the input's type: a posted id of a hidden record, of another type or of a deleted record
  is refused with the words an unknown id gets; a title is matched exactly among the
  records the user reads (LIKE's ``%`` and ``_`` taken literally), a hidden namesake does
  not make it ambiguous; the edit form names no hidden record.
- The schema's defaults store nothing the user did not fill in (a new record's optional
  group, a new row).
- Filter values and keyset cursors a user sends (UI list filters, REST ``filter[...]`` and
  ``after``) are refused, never a server error: NUL characters, integers past 64 bits,
  numbers JSON does not spell.
- An import report's rewording reads only the upload's own temporary copy.
"""
from __future__ import annotations

import io
import os
import re

import pytest

from xrm_core import accounts, entity_types
from xrm_core.web import create_app, query

from test_nested_form_inputs import Form
from test_ui_open_items7 import _data, _form, _types
from test_ui_support import Browser, text

NO_RECORD = "no Place record with this id or title"


@pytest.fixture
def scoped(make_platform):
    """Card and place types (test_ui_open_items7._types); places in units a and b; ``clerk``
    reads and creates every type in unit a only."""
    p = make_platform()
    target, name = _types(p)
    with p.connection() as conn:
        accounts.create_unit(conn, "a")
        accounts.create_unit(conn, "b")
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "unit"}]})
        accounts.create_user(conn, "clerk", "a", ["clerk"], "pw")
    with p.session() as s:
        places = {"mine": s.create(target, {"name": "Kashan"}, unit="a").id,
                  "hidden": s.create(target, {"name": "Secret Yazd"}, unit="b").id,
                  "twin_a": s.create(target, {"name": "Twin"}, unit="a").id,
                  "twin_b": s.create(target, {"name": "Twin"}, unit="b").id,
                  "gone": s.create(target, {"name": "Gone"}, unit="a").id,
                  "card": s.create(name, {"name": "Kashan"}, unit="a").id}
        s.delete(places["gone"])
    b = Browser(p)
    b.login("clerk", "pw")
    return p, b, name, target, places


def test_a_nested_picker_offers_only_the_records_the_user_reads(scoped):
    p, b, name, target, places = scoped
    form, page = _form(b, f"/r/{name}/new")
    options = re.search(rf'<datalist id="dl-ref-{target}">(.*?)</datalist>', page, re.S).group(1)
    assert places["mine"] in options and places["twin_a"] in options
    for hidden in ("hidden", "twin_b", "gone", "card"):
        assert places[hidden] not in page, hidden
    assert "Secret Yazd" not in page


@pytest.mark.parametrize("which", ["hidden", "gone", "card", "unknown"])
def test_a_posted_id_of_a_hidden_deleted_or_other_type_record_is_refused_as_an_unknown_one(scoped, which):
    p, b, name, target, places = scoped
    value = places.get(which, "0123456789abcdef0123")
    form, _page = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", form.submission(**{"name": "Trip", "visit.place": value,
                                                    "stops.0.place": value, "stops.0.order": "1"}))
    assert r.status_code == 422 and _data(p, name) == [{"name": "Kashan"}]
    again = Form(text(r))
    assert again.error_of("visit.place") == NO_RECORD and again.error_of("stops.0.place") == NO_RECORD
    assert "Secret Yazd" not in text(r) and "Gone" not in text(r)


def test_a_title_is_matched_exactly_among_the_records_the_user_reads(scoped):
    p, b, name, target, places = scoped
    form, _page = _form(b, f"/r/{name}/new")
    for typed in ("Secret Yazd", "%", "K_shan", "Kash", "%ashan"):
        r = b.post(f"/r/{name}/new", form.submission(**{"name": "T", "visit.place": typed}))
        assert r.status_code == 422, typed
        assert Form(text(r)).error_of("visit.place") == NO_RECORD, typed
    # a namesake the user cannot see makes no ambiguity, and is not the one taken
    r = b.post(f"/r/{name}/new", form.submission(**{"name": "T", "visit.place": "Twin",
                                                    "stops.0.place": "Kashan"}))
    assert r.status_code == 302, text(r)[:2000]
    stored = [d for d in _data(p, name) if d["name"] == "T"]
    assert stored == [{"name": "T", "visit": {"place": places["twin_a"]}, "stops": [{"place": places["mine"]}]}]


def test_an_edit_form_names_no_hidden_record_and_keeps_a_stored_reference_to_it(scoped):
    p, b, name, target, places = scoped
    with p.session() as s:
        rec = s.create(name, {"name": "Old", "visit": {"place": places["hidden"]},
                              "stops": [{"place": places["hidden"], "order": 1}]}, unit="a")
    form, page = _form(b, f"/r/{name}/{rec.id}/edit")
    assert "Secret Yazd" not in page
    assert form.controls["visit.place"]["value"] == places["hidden"]
    # saved unchanged: kept; the same hidden id typed into another place: refused
    r = b.post(f"/r/{name}/{rec.id}/edit", form.submission(**{"name": "Old 2"}))
    assert r.status_code == 302, text(r)[:2000]
    with p.session() as s:
        assert s.get(rec.id).data["visit"] == {"place": places["hidden"]}
    form, _page = _form(b, f"/r/{name}/{rec.id}/edit")
    r = b.post(f"/r/{name}/{rec.id}/edit", form.submission(**{"stops.1.place": places["hidden"]}))
    assert r.status_code == 422 and Form(text(r)).error_of("stops.1.place") == NO_RECORD
    with p.session() as s:
        assert s.get(rec.id).version == 2


def test_the_rows_route_re_renders_a_hidden_id_without_its_title(scoped):
    p, b, name, target, places = scoped
    form, _page = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new/rows", {**form.submission(**{"name": "R", "stops.0.place": places["hidden"]}),
                                       "~add": "stops"})
    assert r.status_code == 200 and "Secret Yazd" not in text(r)
    assert _data(p, name) == [{"name": "Kashan"}]


def test_defaults_store_nothing_the_user_did_not_fill_in(scoped):
    p, b, name, target, places = scoped
    form, _page = _form(b, f"/r/{name}/new")
    # the rows route added two rows the user left as filled in: no item
    r = b.post(f"/r/{name}/new/rows", {**form.submission(name="D"), "~add": "phones"})
    again = Form(text(r))
    assert again.controls["phones.1.label"]["value"] == "mobile"
    r = b.post(f"/r/{name}/new", again.submission())
    assert r.status_code == 302, text(r)[:2000]
    assert [d for d in _data(p, name) if d["name"] == "D"] == [{"name": "D"}]


# -- filters and cursors a user sends --------------------------------------------------------------
@pytest.fixture
def loose(make_platform):
    """A type with a field of several types (compared by the value's own JSON type)."""
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, {"name": "loose", "title_field": "t", "schema": {"type": "object", "properties": {
            "t": {"type": "string"}, "n": {"type": ["integer", "string"]}, "age": {"type": "integer"}}}})
    with p.session() as s:
        rid = s.create("loose", {"t": "x", "n": 1, "age": 2}).id
    return p, rid


@pytest.fixture
def api(loose):
    p, _rid = loose
    app = create_app(p)
    client = app.test_client()
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")

    def call(path, **kw):
        return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kw)
    return call


@pytest.mark.parametrize("sort,values", [
    ("t", ["\u0000"]), ("n", ["a\u0000"]), ("n", [2**63]), ("n", [2**64 - 1]), ("t", [2**63]), ("age", [2**63]),
    ("t", ["x"]), ("age", [1]),
])
def test_a_forged_cursor_is_refused_as_input_never_a_server_error(api, loose, sort, values):
    p, rid = loose
    r = api("/records/loose", query_string={"sort": sort, "cursor": query.cursor_encode([sort], [*values, rid])})
    assert r.status_code in (200, 400), (r.status_code, r.get_data(as_text=True)[:500])
    if values[0] in ("x", 1):  # a cursor as the API gives it
        assert r.status_code == 200
    else:
        assert r.status_code == 400


@pytest.mark.parametrize("cursor_id", ["\u0000", "a\u0000b"])
def test_a_cursor_whose_record_id_holds_a_nul_is_no_server_error(api, loose, cursor_id):
    r = api("/records/loose", query_string={"sort": "t", "cursor": query.cursor_encode(["t"], ["x", cursor_id])})
    assert r.status_code == 400 and r.get_json()["errors"][0]["pointer"] == "/query/cursor", r.get_data(as_text=True)[:500]


def test_a_timeline_cursor_whose_time_holds_a_nul_is_no_server_error(api, loose):
    p, rid = loose
    r = api(f"/records/loose/{rid}/history", query_string={"cursor": query.cursor_encode(["oldest"], ["\u0000", 1])})
    assert r.status_code == 400 and r.get_json()["errors"][0]["pointer"] == "/query/cursor", r.get_data(as_text=True)[:500]


@pytest.mark.parametrize("value", ["1e400", "9" * 5000, "1" * 4400 + ".5", "1e" + "9" * 400, "-0", "1_0", "١",
                                   "9223372036854775808", "18446744073709551616", "nan", " 1", "0x1"])
@pytest.mark.parametrize("field", ["age", "n", "t"])
def test_rest_filter_numbers_are_refused_or_read_never_a_server_error(api, value, field):
    for op in ("", "[gt]", "[in]"):
        r = api("/records/loose", query_string={f"filter[{field}]{op}": value})
        assert r.status_code in (200, 400), (field, op, value[:20], r.status_code, r.get_data(as_text=True)[:300])


@pytest.mark.parametrize("value", ["1e400", "9" * 5000, "١٢", "۱۲٫۵", "1_0", "nan", "٣e٣", "\u0000", "9" * 20,
                                   "9223372036854775808", "18446744073709551615", "1e2", "-0"])
def test_ui_list_filters_are_refused_or_read_never_a_server_error(loose, value):
    p, _rid = loose
    b = Browser(p)
    b.login()
    for field in ("age", "n", "t"):
        for op in ("eq", "gt", "in"):
            r = b.get("/r/loose", query_string={"ff": field, "fo": op, "fv": value})
            assert r.status_code in (200, 400, 422), (field, op, value[:20], r.status_code)


# -- an import report's rewording -------------------------------------------------------------------
def test_an_import_reads_again_only_its_own_copy_of_the_upload(scoped, tmp_path, monkeypatch):
    p, b, name, *_ = scoped
    b.get(f"/r/{name}/import")
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", spy)
    body = "name,prefs.lang\nA,fa\n,en\nC,de\n"
    r = b.post(f"/r/{name}/import", {"file": (io.BytesIO(body.encode()), "../../../../tmp/x/evil.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 422, text(r)[:2000]
    reread = [path for path in opened if path.endswith("evil.csv")]
    assert len(reread) >= 2   # imported, then read again to word its errors
    for path in reread:
        assert os.path.basename(os.path.dirname(path)).startswith("xrm-import-") and ".." not in path
        assert not os.path.exists(path)   # the temporary copy is gone with its directory


def test_a_title_is_found_among_more_than_fifty_records_holding_it(scoped):
    """The typed title is looked up by the title field itself: a record titled "Kashan" is
    found when sixty records titled "Kashan …" come first (a search of 50 then compared
    exactly refused it as "no record")."""
    p, b, name, target, places = scoped
    with p.session() as s:
        s.create_many(target, [{"name": f"Kashan {i:02}"} for i in range(60)], "a")
        exact = s.create(target, {"name": "Kashan"}, unit="a").id   # after them
        s.delete(places["mine"])   # the only other exact namesake
    form, _page = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", form.submission(**{"name": "Far", "visit.place": "Kashan"}))
    assert r.status_code == 302, Form(text(r)).error_of("visit.place")
    assert [d for d in _data(p, name) if d["name"] == "Far"] == [{"name": "Far", "visit": {"place": exact}}]


def test_removing_a_row_before_a_stored_hidden_reference_keeps_it(scoped):
    """A reference left as stored is recognised by value among the list's stored items, not
    by its row number: removing an earlier row renumbers a stored reference to a hidden
    record, which is kept, not checked as newly typed and refused."""
    p, b, name, target, places = scoped
    with p.session() as s:
        rec = s.create(name, {"name": "Route", "stops": [{"place": places["mine"], "order": 1},
                                                         {"place": places["hidden"], "order": 2}]}, unit="a")
    form, _page = _form(b, f"/r/{name}/{rec.id}/edit")
    sent = {k: v for k, v in form.submission().items() if not k.startswith("stops.0.")}
    r = b.post(f"/r/{name}/{rec.id}/edit", sent)
    assert r.status_code == 302, Form(text(r)).error_of("stops.1.place")
    with p.session() as s:
        assert s.get(rec.id).data["stops"] == [{"place": places["hidden"], "order": 2}]
