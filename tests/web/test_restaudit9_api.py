"""REST audit 9: a university's student-relations office (students, advisors, courses,
advising contacts) integrated through the REST API alone — a mobile app and a nightly sync —
with users of several units and grant depths. Runs on SQLite and, with
XRM_TEST_DATABASE_URL, on PostgreSQL.

Each test pins a defect the audit found; what already held is in the audit's report.
"""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from xrm_core import db, relationships

from test_restaudit9_support import Api, UniversityPlugin, student


@pytest.fixture
def api(make_platform):
    return Api(make_platform(UniversityPlugin()))


def _problem(r, status):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    body = r.json
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in r.get_data(as_text=True)
    return body


# -- a deleted record's timeline -----------------------------------------------------------
def test_a_deleted_records_timeline_stays_readable_to_its_readers(api):
    # The core keeps a deleted record's history visible to whoever could read the record
    # (Session.history, `xrm history ID`); the REST timeline looked the record up first and
    # answered 404, so the nightly sync could never learn who deleted a student, and when.
    sid = api.create("off_p", "student", student("Pia", 4))
    assert api("off_p", "POST", f"/records/student/{sid}/history",
               json={"kind": "advising", "summary": "intake"}).status_code == 201
    assert api("off_p", "DELETE", f"/records/student/{sid}").status_code == 204
    for user in ("off_p", "fac_s", "reg", "admin"):
        r = api(user, "GET", f"/records/student/{sid}/history")
        assert r.status_code == 200, (user, r.get_data(as_text=True))
        assert [a["kind"] for a in r.json["items"]] == ["created", "advising", "deleted"]
        assert r.json["items"][-1]["actor"] == "off_p" and r.json["next"] is None
    r = api("reg", "GET", f"/records/student/{sid}/history?order=newest&limit=1")
    assert [a["kind"] for a in r.json["items"]] == ["deleted"] and r.json["next"]
    cursor = r.json["next"]
    r = api("reg", "GET", f"/records/student/{sid}/history?order=newest&limit=5&cursor={cursor}")
    assert [a["kind"] for a in r.json["items"]] == ["advising", "created"]
    # The record itself stays gone, and the timeline is no way around the scope or the type.
    _problem(api("reg", "GET", f"/records/student/{sid}"), 404)
    unknown = _problem(api("reg", "GET", "/records/student/00000000000000000000/history"), 404)
    for user, path in [("off_a", f"/records/student/{sid}/history"),
                       ("adv_p2", f"/records/student/{sid}/history"),
                       ("nobody", f"/records/student/{sid}/history"),
                       ("off_a", f"/records/student/{sid}/history?order=newest&limit=5&cursor={cursor}"),
                       ("reg", f"/records/course/{sid}/history")]:
        problem = _problem(api(user, "GET", path), 404)
        assert problem["detail"].replace(sid, "ID") == unknown["detail"].replace("00000000000000000000", "ID")
    # Nothing is logged on a record that is gone.
    _problem(api("off_p", "POST", f"/records/student/{sid}/history", json={"kind": "advising", "summary": "x"}), 404)


# -- relating a record that a concurrent request deleted -----------------------------------
def test_relating_a_record_deleted_meanwhile_is_404_not_already_related(api, monkeypatch):
    # A relate checks both records, then inserts. An advisor deleted by another request in
    # between (PostgreSQL, read committed) failed the insert's foreign key, which the core
    # reported as "A and S are already related by 'advises', or its one-to-many
    # cardinality refuses it": a 409 with no pointer, telling the app to look for a link
    # that does not exist. The advisor is gone: 404 at /source, as a later retry says.
    advisor = api.create("off_p", "advisor", {"name": "Dr Who"})
    sid = api.create("off_p", "student", student("Pia", 4))
    check = relationships._check_cardinality

    def deleted_meanwhile(s, rt, source_id, target_id):
        check(s, rt, source_id, target_id)
        # What the other request's committed delete leaves: no row (this advisor had no links).
        s.conn.execute(delete(db.records).where(db.records.c.id == advisor))

    monkeypatch.setattr(relationships, "_check_cardinality", deleted_meanwhile)
    r = api("off_p", "POST", "/relationships", json={"type": "advises", "source": advisor, "target": sid})
    problem = _problem(r, 404)
    assert problem["errors"] == [{"pointer": "/source", "message": "no such record"}]
    assert "already related" not in problem["detail"]
    monkeypatch.undo()
    # Refused whole: the delete above was the simulation's, in the refused request's transaction.
    assert api("off_p", "GET", f"/records/advisor/{advisor}").status_code == 200
    assert api("off_p", "GET", f"/records/student/{sid}/related").json["items"] == []


# -- a number no double holds -----------------------------------------------------------------
@pytest.mark.parametrize("number", [b"1e400", b"-1E+999", b"17976931348623159e292"])
def test_a_number_beyond_a_double_is_a_422_at_its_pointer_not_malformed_json(api, number):
    # RFC 8259 §6 lets any magnitude be written; a GPA of 1e400 is valid JSON that no
    # engine can store. It was "400 malformed JSON: number is infinity when parsed as
    # double" with no pointer, while an integer beyond 64 bits is a 422 at its pointer.
    sid = api.create("off_p", "student", student("Pia", 4, gpa=3.0))
    body = b'{"data": {"address": {"city": "Paris"}, "tags": ["a", ' + number + b'], "gpa": ' + number + b"}}"
    r = api("off_p", "PATCH", f"/records/student/{sid}", data=body, content_type="application/json")
    problem = _problem(r, 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/data/tags/1", "/data/gpa"]
    assert "malformed" not in problem["detail"]
    assert all("double" in e["message"] for e in problem["errors"])
    r = api("off_p", "POST", "/records/student", data=b'{"data": {"n~/x": ' + number + b"}}",
            content_type="application/json")
    assert _problem(r, 422)["errors"][0]["pointer"] == "/data/n~0~1x"
    r = api("off_p", "POST", f"/records/student/{sid}/history", data=b'{"kind": "advising", "summary": "x", '
            b'"payload": {"hours": [' + number + b"]}}", content_type="application/json")
    assert _problem(r, 422)["errors"][0]["pointer"] == "/payload/hours/0"
    assert api("off_p", "GET", f"/records/student/{sid}").json["version"] == 1
    assert [a["kind"] for a in api("off_p", "GET", f"/records/student/{sid}/history").json["items"]] == ["created"]
    # Malformed JSON stays a 400, a tiny number (read as 0.0 by every parser) is a number.
    _problem(api("off_p", "PATCH", f"/records/student/{sid}", data=b'{"data": {"gpa": 1e400,}}',
                 content_type="application/json"), 400)
    assert api("off_p", "PATCH", f"/records/student/{sid}", data=b'{"data": {"gpa": 1e-400}}',
               content_type="application/json").status_code == 200


# -- a filter value the field's enum cannot hold ---------------------------------------------
def test_a_list_filter_value_no_record_can_hold_is_a_400_not_an_empty_page(api):
    # The nightly sync asked for filter[status]=activ and got {"items": [], "next": null}:
    # "no active students", silently. A KPI's filter refuses a value its field's enum cannot
    # hold for the same reason (kpi_measures); a list query is the same filter language. An
    # `in` list with one possible value still lists what it finds.
    api.create("off_p", "student", student("Pia", 4))
    for query, param in [("filter[status]=activ", "filter[status]"),
                         ("filter[status][eq]=Active", "filter[status][eq]"),
                         ("filter[status][in]=activ,graduatd", "filter[status][in]"),
                         ("filter[address.city]=Paris&filter[status]=activ", "filter[status]")]:
        problem = _problem(api("off_p", "GET", f"/records/student?{query}"), 400)
        assert [e["pointer"] for e in problem["errors"]] == [f"/query/{param}"], query
        assert "active, withdrawn, graduated" in problem["errors"][0]["message"]
    # What the enum holds, and ne / exists / another field, still answer as before.
    for query, n in [("filter[status]=active", 1), ("filter[status][in]=withdrawn,graduated", 0),
                     ("filter[status][in]=active,graduatd", 1),
                     ("filter[status][ne]=activ", 1), ("filter[status][exists]=true", 1),
                     ("filter[name]=activ", 0)]:
        r = api("off_p", "GET", f"/records/student?{query}")
        assert r.status_code == 200 and len(r.json["items"]) == n, (query, r.get_data(as_text=True))
