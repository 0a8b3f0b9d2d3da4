"""REST: a PATCH whose ``before_update`` hook would move the record to a unit outside the
caller's create/update scope is a 403 problem naming the plugin, and changes nothing."""
from __future__ import annotations


from xrm_core import accounts
from xrm_core.web import create_app
from conftest import PersonPlugin
from sec12_moves import Mover, make_org


def test_a_patch_moving_a_record_out_of_scope_is_a_403_and_changes_nothing(make_platform):
    p = make_platform(PersonPlugin(), Mover())
    make_org(p)
    with p.connection() as conn:
        token = accounts.create_token(conn, "seller_a")
    client = create_app(p, {"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/records/person", json={"data": {"name": "Ada"}}, headers=headers).json
    r = client.patch(f"/api/v1/records/person/{made['id']}", json={"data": {"national_id": "dealer_b"}},
                     headers=headers)
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert "sec12mover" in r.json["detail"] and "'dealer_b'" in r.json["detail"]
    again = client.get(f"/api/v1/records/person/{made['id']}", headers=headers).json
    assert (again["unit"], again["version"], again["data"]) == ("dealer_a", 1, {"name": "Ada"})
