"""REST API acceptance audit 6: an investor-relations plugin (investors, funds, commitments,
capital calls, meetings) used by one organisation's integrators, with users at every depth.
Runs on SQLite and, with XRM_TEST_DATABASE_URL, on PostgreSQL.

The first tests pin the defects the audit found; the rest keep what an integrator relies on
and what this domain's schemas (if/then/else, unevaluatedProperties, $ref to common
definitions, non-ASCII enums) exercise first.
"""
from __future__ import annotations

import pytest

from test_audit6_api_support import Api, InvestorPlugin, investor


#: The 422 of an individual without a tax id: the schema's if/then requires it, and says so.
TAX_ID_REQUIRED = '"tax_id" is required here because "kind" is "individual" (the schema\'s if/then)'


@pytest.fixture
def api(make_platform):
    return Api(make_platform(InvestorPlugin()))


def _problem(r, status):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert r.json["status"] == status and r.json["title"] and r.json["detail"]
    return r.json


# -- a write the caller may not make is a 403 whatever its preconditions say ----------------
@pytest.mark.parametrize("user, method, body", [
    ("reg_e", "PATCH", {"data": {"name": "Renamed"}}),  # reads the subtree, updates nothing
    ("aud", "PATCH", {"data": {"name": "Renamed"}}),    # reads everything, updates nothing
    ("off_p", "DELETE", None),                         # updates their own, deletes nothing
])
@pytest.mark.parametrize("header", [{"If-Match": '"7"'}, {"If-None-Match": '"1"'}, {"If-None-Match": "*"}])
def test_a_write_without_its_grant_is_403_not_412(api, user, method, body, header):
    # RFC 9110 §13.2.1: preconditions are ignored when the request fails without them.
    # With a 412 the client fetched the record, retried with its ETag, and only then met the 403.
    rid = api.create("off_p", "investor", investor("Ada"))
    kw = {"json": body} if body else {}
    problem = _problem(api(user, method, f"/records/investor/{rid}", headers=header, **kw), 403)
    action = "update" if method == "PATCH" else "delete"
    assert problem["detail"] == f"'{user}' may not {action} record '{rid}'"
    got = api("admin", "GET", f"/records/investor/{rid}")
    assert got.json["version"] == 1 and got.json["data"]["name"] == "Ada"


def test_a_stale_version_is_still_412_for_a_caller_who_may_write(api):
    rid = api.create("off_p", "investor", investor("Ada"))
    assert api("off_p", "PATCH", f"/records/investor/{rid}", json={"data": {"tier": "طلایی"}}).status_code == 200
    r = api("off_p", "PATCH", f"/records/investor/{rid}", json={"data": {"name": "X"}}, headers={"If-Match": '"1"'})
    assert _problem(r, 412)["detail"] == 'If-Match \'"1"\' does not match the record\'s ETag ("2")'
    r = api("desk_p", "DELETE", f"/records/investor/{rid}", headers={"If-Match": '"1"'})
    _problem(r, 412)
    r = api("desk_p", "DELETE", f"/records/investor/{rid}", headers={"If-Match": 'W/"2"'})
    assert r.status_code == 204
    # Out of scope stays a 404 with or without a condition: no grant check tells it exists.
    other = api.create("desk_a", "investor", investor("Apac"))
    for header in ({}, {"If-Match": '"9"'}):
        r = api("reg_e", "PATCH", f"/records/investor/{other}", json={"data": {"name": "X"}}, headers=header)
        assert _problem(r, 404)["detail"] == f"no record '{other}'"


# -- a body nothing reads is refused, as an unknown parameter is ------------------------------
@pytest.mark.parametrize("path", ["/records/investor/{id}", "/relationships/{rel}"])
def test_a_delete_with_a_body_deletes_nothing(api, path):
    ada = api.create("desk_p", "investor", investor("Ada"))
    meeting = api.create("desk_p", "meeting", {"topic": "AGM", "at": "2025-05-01T10:00:00Z"})
    rel = api.relate("desk_p", "attends", ada, meeting)
    for body in ({"json": {"dry_run": True}}, {"json": {"if_version": 7}}, {"data": b"x"},
                 {"data": b"{}", "headers": {"Content-Type": "application/json", "If-Match": '"1"'}}):
        p = _problem(api("desk_p", "DELETE", path.format(id=ada, rel=rel), **body), 400)
        assert p["errors"] == [{"pointer": "", "message": "DELETE takes no body"}]
        assert "takes no request body" in p["detail"]
    assert api("desk_p", "GET", f"/records/investor/{ada}").status_code == 200
    assert len(api("desk_p", "GET", f"/records/investor/{ada}/related").json["items"]) == 1
    # without one (an empty body with a Content-Type is none) it goes through
    r = api("desk_p", "DELETE", path.format(id=ada, rel=rel), data=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 204


@pytest.mark.parametrize("path", ["/records/investor", "/records/investor/{id}", "/records/investor/{id}/history",
                                  "/records/investor/{id}/related", "/kpis/investors_n", "/types", "/kpis"])
def test_a_read_with_a_body_is_refused_not_answered_as_if_unfiltered(api, path):
    ada = api.create("off_p", "investor", investor("Ada"))
    r = api("off_p", "GET", path.format(id=ada), json={"filter": {"name": "Someone else"}})
    assert _problem(r, 400)["errors"] == [{"pointer": "", "message": "GET takes no body"}]
    assert api("off_p", "GET", path.format(id=ada)).status_code == 200
    # unknown paths stay 404s, whatever they carry
    _problem(api("off_p", "GET", "/records/investor/x/nope", json={}), 404)


# -- the envelope mistakes integrators make first are named -----------------------------------
def test_a_bare_merge_patch_or_a_version_in_the_body_says_what_to_send(api):
    rid = api.create("off_p", "investor", investor("Ada"))
    # RFC 7396 sends the patch as the body; this API wraps it in "data"
    r = api("off_p", "PATCH", f"/records/investor/{rid}", data='{"name": "Ada Lovelace"}'.encode(),
            headers={"Content-Type": "application/merge-patch+json"})
    p = _problem(r, 422)
    assert p["detail"] == ('invalid request body: the record\'s fields go in a "data" member: '
                           'send {"data": {...}}, for a merge patch too')
    assert p["errors"] == [{"pointer": "/data", "message": "Missing data for required field."},
                           {"pointer": "/name", "message": "Unknown field."}]
    r = api("off_p", "PATCH", f"/records/investor/{rid}", json={"data": {"name": "X"}, "version": 1})
    assert _problem(r, 422)["detail"] == ('invalid request body: send the version to check in the If-Match '
                                          'header (If-Match: "3"), not in the body')
    r = api("off_p", "POST", "/records/investor", json={"data": investor("Bob"), "id": "mine"})
    assert _problem(r, 422)["detail"] == "invalid request body"
    assert api("off_p", "GET", f"/records/investor/{rid}").json["version"] == 1
    assert len(api("off_p", "GET", "/records/investor").json["items"]) == 1


# -- a relate naming nothing visible says which member -----------------------------------------
def test_a_relate_404_points_at_every_member_naming_nothing(api):
    mine = api.create("off_p", "investor", investor("Mine"))
    meeting = api.create("off_p", "meeting", {"topic": "AGM", "at": "2025-05-01T10:00:00Z"})
    theirs = api.create("off_p2", "meeting", {"topic": "Theirs", "at": "2025-05-01T10:00:00Z"})

    def relate(**body):
        return _problem(api("off_p", "POST", "/relationships",
                            json={"type": "attends", "source": mine, "target": meeting, **body}), 404)

    p = relate(target="nope")
    assert p["detail"] == "no record 'nope' (target)"
    assert p["errors"] == [{"pointer": "/target", "message": "no such record"}]
    p = relate(source="gone", target="nope")
    assert p["errors"] == [{"pointer": "/source", "message": "no such record"},
                           {"pointer": "/target", "message": "no such record"}]
    assert p["detail"] == "no record 'gone' (source); no record 'nope' (target)"
    p = relate(type="sits_on")
    assert p["errors"] == [{"pointer": "/type", "message": "unknown relationship type"}]
    # A record out of scope answers exactly as one that does not exist.
    hidden, unknown = relate(target=theirs), relate(target="x" * len(theirs))
    assert hidden["errors"] == unknown["errors"]
    assert hidden["detail"].replace(theirs, "ID") == unknown["detail"].replace("x" * len(theirs), "ID")
    assert api("admin", "GET", f"/records/investor/{mine}/related").json == {"items": [], "next": None}


# -- records of this domain's schemas -------------------------------------------------------
def test_if_then_else_unevaluated_and_common_refs_are_422s_pointing_at_the_data(api):
    r = api("off_p", "POST", "/records/investor", json={"data": {"name": "Ada", "kind": "individual"}})
    assert _problem(r, 422)["errors"] == [{"pointer": "/data/tax_id", "message": TAX_ID_REQUIRED}]
    r = api("off_p", "POST", "/records/investor", json={"data": investor(
        "Ada", email="nope", address={"city": "Paris", "country": "France"}, nickname="A",
        accounts=[{"iban": "FR76"}, {"primary": "yes"}])})
    assert [e["pointer"] for e in _problem(r, 422)["errors"]] == [
        "/data/accounts/1/iban", "/data/accounts/1/primary", "/data/address/country", "/data/email", "/data/nickname"]
    assert api("admin", "GET", "/records/investor").json == {"items": [], "next": None}


def test_merge_patch_removes_with_null_merges_nested_objects_and_replaces_arrays(api):
    rid = api.create("off_p", "investor", investor(
        "Ada", tier="طلایی", contact={"name": "Zoé", "languages": ["fr"]}, aliases={"fa": "آدا"},
        accounts=[{"iban": "FR76", "primary": True}]))
    r = api("off_p", "PATCH", f"/records/investor/{rid}", headers={"If-Match": '"1"'},
            json={"data": {"tier": None, "contact": {"name": None, "email": "ir@ada.example"},
                           "aliases": {"fa": None, "zh": "阿达"}, "accounts": [{"iban": "DE89"}]}})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert r.json["data"] == {"name": "Ada", "kind": "institution", "company_no": "C-Ada",
                              "contact": {"languages": ["fr"], "email": "ir@ada.example"},
                              "aliases": {"zh": "阿达"}, "accounts": [{"iban": "DE89"}]}
    # Switching the if/then/else branch needs the other branch's member in the same patch.
    r = api("off_p", "PATCH", f"/records/investor/{rid}", json={"data": {"kind": "individual"}})
    assert _problem(r, 422)["errors"] == [{"pointer": "/data/tax_id", "message": TAX_ID_REQUIRED}]
    r = api("off_p", "PATCH", f"/records/investor/{rid}",
            json={"data": {"kind": "individual", "company_no": None, "tax_id": "FR-1"}})
    assert r.json["version"] == 3 and "company_no" not in r.json["data"]
    changes = api("off_p", "GET", f"/records/investor/{rid}/history?order=newest&limit=1").json["items"][0]
    assert [c["pointer"] for c in changes["payload"]["changes"]] == ["/company_no", "/kind", "/tax_id"]


def test_delete_honours_restrict_cascade_and_unlink(api):
    ada = api.create("desk_p", "investor", investor("Ada"))
    fund = api.create("desk_p", "fund", {"name": "Fund I", "vintage": 2020, "target": {"amount": 1e8, "currency": "EUR"}})
    commitment = api.create("desk_p", "commitment", {"ref": "C-1", "amount": {"amount": 5e6, "currency": "EUR"},
                                                     "signed_on": "2024-01-15"})
    call = api.create("desk_p", "capital_call", {"ref": "K-1", "amount": 1e6, "due": "2024-03-01"})
    meeting = api.create("desk_p", "meeting", {"topic": "AGM", "at": "2024-05-01T10:00:00+02:00"})
    commits = api.relate("desk_p", "commits", ada, commitment)
    api.relate("desk_p", "commitment_to", fund, commitment)
    api.relate("desk_p", "calls", commitment, call)
    api.relate("desk_p", "attends", ada, meeting)
    # restrict: the investor stays while a commitment is left
    p = _problem(api("desk_p", "DELETE", f"/records/investor/{ada}"), 409)
    assert p["errors"] == [{"pointer": "/relationships", "message": f"commits → {commitment}"}]
    # unlink: the meeting goes, the investor only loses the link
    assert api("desk_p", "DELETE", f"/records/meeting/{meeting}").status_code == 204
    related = api("desk_p", "GET", f"/records/investor/{ada}/related").json["items"]
    assert [(i["relationship"]["type"], i["direction"]) for i in related] == [("commits", "outgoing")]
    # cascade: the fund takes its commitment and that commitment's calls along
    assert api("desk_p", "DELETE", f"/records/fund/{fund}").status_code == 204
    for type_name, rid in (("commitment", commitment), ("capital_call", call)):
        _problem(api("desk_p", "GET", f"/records/{type_name}/{rid}"), 404)
    _problem(api("desk_p", "DELETE", f"/relationships/{commits}"), 404)  # went with the commitment
    unlinked = [a["payload"] for a in api("desk_p", "GET", f"/records/investor/{ada}/history").json["items"]
                if a["kind"] == "unrelated"]
    assert [(u["type"], u["other"], u["reason"]) for u in unlinked] == [
        ("attends", meeting, "deleted"), ("commits", commitment, "deleted")]
    assert api("desk_p", "DELETE", f"/records/investor/{ada}").status_code == 204


def test_related_reads_both_directions_and_rel_narrows(api):
    ada = api.create("off_p", "investor", investor("Ada"))
    commitment = api.create("off_p", "commitment", {"ref": "C-1", "amount": {"amount": 1, "currency": "EUR"},
                                                    "signed_on": "2024-01-15"})
    fund = api.create("off_p", "fund", {"name": "F", "vintage": 2021, "target": {"amount": 1, "currency": "USD"}})
    api.relate("off_p", "commits", ada, commitment)
    api.relate("off_p", "commitment_to", fund, commitment)
    items = api("off_p", "GET", f"/records/commitment/{commitment}/related").json["items"]
    assert sorted((i["relationship"]["type"], i["direction"], i["record"]["id"]) for i in items) == [
        ("commitment_to", "incoming", fund), ("commits", "incoming", ada)]
    items = api("off_p", "GET", f"/records/investor/{ada}/related?rel=commits").json["items"]
    assert [(i["direction"], i["record"]["id"]) for i in items] == [("outgoing", commitment)]
    # one-to-many: a commitment has one fund
    fund2 = api.create("off_p", "fund", {"name": "G", "vintage": 2022, "target": {"amount": 1, "currency": "USD"}})
    r = api("off_p", "POST", "/relationships", json={"type": "commitment_to", "source": fund2, "target": commitment})
    assert _problem(r, 409)["errors"] == [{"pointer": "/target", "message": "already related"}]


# -- scope: each depth sees its records on every path ------------------------------------------
@pytest.fixture
def world(api):
    ids = {}
    for n, user in enumerate(("off_p", "off_p2", "desk_p", "desk_a")):
        ids[user] = api.create(user, "investor", investor(
            user, tier=("طلایی", "普通")[n % 2], accredited=n != 1, since=f"2024-0{n + 1}-15"))
        api.create(user, "capital_call", {"ref": f"K-{user}", "amount": 10.0 * (n + 1), "due": f"2024-0{n + 1}-28",
                                          "status": ("paid", "issued")[n % 2]})
    return api, ids


SEES = {"off_p": {"off_p"}, "off_p2": {"off_p2"}, "desk_p": {"off_p", "off_p2", "desk_p"},
        "reg_e": {"off_p", "off_p2", "desk_p"}, "aud": {"off_p", "off_p2", "desk_p", "desk_a"}}


@pytest.mark.parametrize("user", sorted(SEES))
def test_each_depth_sees_its_scope_in_lists_reads_and_kpis(world, user):
    api, ids = world
    sees = SEES[user]
    names = [i["data"]["name"] for i in api(user, "GET", "/records/investor?sort=name&limit=2").json["items"]]
    listed, nxt = [], None
    while True:
        page = api(user, "GET", "/records/investor?sort=-tier,name&limit=1" + (f"&cursor={nxt}" if nxt else "")).json
        listed += [i["data"]["name"] for i in page["items"]]
        if not (nxt := page["next"]):
            break
    assert sorted(listed) == sorted(sees) and names == sorted(sees)[:2]
    for owner, rid in ids.items():
        for path in (f"/records/investor/{rid}", f"/records/investor/{rid}/history", f"/records/investor/{rid}/related"):
            assert api(user, "GET", path).status_code == (200 if owner in sees else 404), (owner, path)
    n = len(sees)
    assert api(user, "GET", "/kpis/investors_n").json["value"] == n
    groups = api(user, "GET", "/kpis/investors_n?by=tier").json["groups"]
    assert sum(g["n"] for g in groups) == n and {g["key"] for g in groups} <= {"طلایی", "普通"}
    called = api(user, "GET", "/kpis/called_total").json
    assert called["n"] == n


def test_kpi_windows_group_and_python_kpi_keep_the_callers_scope(world):
    api, _ = world
    r = api("desk_p", "GET", "/kpis/called_total?from=2024-02-01&to=2024-03-31&by=status").json
    assert (r["value"], r["n"], r["from"], r["to"]) == (50, 2, "2024-02-01", "2024-03-31")
    assert r["groups"] == [{"key": "issued", "value": 20, "n": 1}, {"key": "paid", "value": 30, "n": 1}]
    r = api("desk_p", "GET", "/kpis/calls_paid_share?to=2024-01-28").json  # the last day counts
    assert (r["value"], r["n"]) == (100, 1)
    r = api("aud", "GET", "/kpis/accredited_share?by=accredited").json
    assert (r["value"], r["n"]) == (75, 4)
    assert [(g["key"], g["n"]) for g in r["groups"]] == [(False, 1), (True, 3)]
    _problem(api("nobody", "GET", "/kpis/called_total"), 403)
    assert api("nobody", "GET", "/kpis").json == []
    p = _problem(api("aud", "GET", "/kpis/called_total?by=accounts"), 400)
    assert p["errors"] == [{"pointer": "/query/by", "message": "unknown field"}]
    p = _problem(api("aud", "GET", "/kpis/investors_n?by=accounts"), 400)
    assert p["errors"][0]["pointer"] == "/query/by"


@pytest.mark.parametrize("query, names", [
    ("filter[tier]=طلایی", ["desk_p", "off_p"]),
    ("filter[tier][in]=普通,x", ["desk_a", "off_p2"]),
    ("filter[accredited]=false", ["off_p2"]),
    ("filter[since][gte]=2024-02-15&filter[since][lt]=2024-04-01", ["desk_p", "off_p2"]),
    ("filter[accredited]=true&filter[tier][ne]=طلایی", ["desk_a"]),
])
def test_filters_on_non_ascii_boolean_and_date_fields(world, query, names):
    api, _ = world
    r = api("aud", "GET", f"/records/investor?{query}&sort=name")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [i["data"]["name"] for i in r.json["items"]] == names
