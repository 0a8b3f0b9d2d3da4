"""A filter value a double would change (``12345678901234567.01``) is refused, naming the
parameter, as stored data refuses it (xrm_core.stored_json.read_float): before, ``--where``,
the REST filter and a KPI's ``where`` compared the rounded double and matched records holding
``12345678901234568``."""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import ValidationError, accounts
from xrm_core.filters import parse_where
from xrm_core.stored_json import read_float
from xrm_core.web import create_app

LONG = "12345678901234567.01"


def test_where_refuses_a_number_a_double_would_change(platform):
    with platform.session() as s:
        s.create("person", {"name": "rounded", "score": 12345678901234568})  # what the double is
        for where in ([f"score={LONG}"], [f"score>={LONG}"]):
            with pytest.raises(ValidationError) as e:
                s.list("person", parse_where(where))
            (error,) = e.value.errors
            assert error["pointer"].startswith("/where/score/")
            assert error["message"] == (f"{LONG} has more digits than a number keeps: "
                                        "it would be compared as 1.2345678901234568e+16")
            assert "round it" in e.value.message
        # read from JSON by the platform's exact reader: refused as written, not as the double
        with pytest.raises(ValidationError, match=f"invalid filter: {LONG} for score has more digits"):
            s.list("person", {"score": {"in": [1, read_float(LONG)]}})
        # a number a double keeps is compared as before, and a string field keeps the text
        assert [r.data["name"] for r in s.list("person", parse_where(["score=12345678901234568"]))] == ["rounded"]
        assert s.list("person", parse_where([f"national_id={LONG}"])) == []


def test_the_cli_names_the_where(cli):
    assert cli("init", "--admin-password", "pw", plugins=[PersonPlugin()]).exit_code == 0
    r = cli("records", "list", "person", "--where", f"score={LONG}", "--json", plugins=[PersonPlugin()])
    assert r.exit_code != 0 and r.stdout == "" and "Traceback" not in r.stderr
    assert "/where/score/eq" in r.stderr and "more digits than a number keeps" in r.stderr


def test_the_rest_filter_is_a_400_naming_the_parameter(platform):
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(platform, {"TESTING": True}).test_client()
    r = client.get(f"/api/v1/records/person?filter[score][gte]={LONG}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400, r.json
    assert r.json["errors"][0]["pointer"] == "/query/filter[score][gte]"
    assert "more digits than a number keeps" in r.json["errors"][0]["message"]
