"""A ``before_update`` hook that moves a record (``record.unit``) moves it only where the
acting user may create or update records of its type: a dealer-level user editing a field
a plugin routes on must not push the record into another dealer's data. The refusal names
the plugin and changes nothing; for a scoped user an unknown unit is refused alike (no
unit name learnt by trying)."""
from __future__ import annotations

import pytest

from xrm_core import PermissionDenied
from conftest import PersonPlugin
from sec12_moves import Mover, make_org


@pytest.mark.parametrize("target", ["dealer_b", "region", "no_such_unit"])
def test_a_dealer_cannot_move_a_record_out_of_their_scope_through_a_plugin(make_platform, target):
    p = make_platform(PersonPlugin(), Mover())
    make_org(p)
    with p.session("seller_a") as s:
        rec = s.create("person", {"name": "Ada"})
    with pytest.raises(PermissionDenied) as e, p.session("seller_a") as s:
        s.update(rec.id, {"national_id": target, "name": "Eve"})
    assert "sec12mover" in e.value.message and repr(target) in e.value.message
    assert "nothing was changed" in e.value.message
    with p.session("seller_a") as s:
        kept = s.get(rec.id)
        assert (kept.unit, kept.version, kept.data) == ("dealer_a", 1, {"name": "Ada"})
        assert [a["kind"] for a in s.history(rec.id)] == ["created"]


def test_a_move_within_the_users_scope_is_written(make_platform):
    p = make_platform(PersonPlugin(), Mover())
    make_org(p)
    with p.session("boss") as s:
        rec = s.create("person", {"name": "Ada"})
        assert s.update(rec.id, {"national_id": "dealer_b"}).unit == "dealer_b"
        assert s.get(rec.id).unit == "dealer_b"
        with pytest.raises(PermissionDenied):  # the root unit lies above the regional scope
            s.update(rec.id, {"national_id": "root"})
        assert s.get(rec.id).unit == "dealer_b"
