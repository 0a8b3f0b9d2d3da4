"""Shared by the sec12 tests of unit moves: a plugin whose ``before_update`` hook moves a
record, and a small organisation to try it in."""
from __future__ import annotations

from xrm_core import accounts, hookimpl


class Mover:
    """Moves a person to the unit its ``national_id`` names when an update sets it."""

    __name__ = "sec12mover"

    @hookimpl
    def xrm_record_event(self, event, record, changes):
        if event == "before_update" and "/national_id" in changes:
            record.unit = record.data["national_id"]


def make_org(p) -> None:
    """Units region > dealer_a, dealer_b; ``seller_a`` may read, create and update in
    dealer_a; ``boss`` the same in the region's subtree."""
    with p.connection() as conn:
        accounts.create_unit(conn, "region")
        for unit in ("dealer_a", "dealer_b"):
            accounts.create_unit(conn, unit, "region")
        accounts.save_role(conn, {"name": "dealer", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "unit"}]})
        accounts.save_role(conn, {"name": "regional", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "subtree"}]})
        accounts.create_user(conn, "seller_a", "dealer_a", ["dealer"], "pw")
        accounts.create_user(conn, "boss", "region", ["regional"], "pw")
