"""What the REST API audits share (tests/web/test_audit6_api_*.py, tests/web/test_restaudit9_*.py,
…): an organisation's units, its users at each grant depth and their tokens, the API called as
one of them (``api("off_p", "GET", path)``), and the four roles, one per grant depth, that
their plugins declare.

Each audit brings its own domain (a plugin), units, users and role names; this module holds none.
"""
from __future__ import annotations

from xrm_core import accounts
from xrm_core.web import create_app


def depth_roles(own: tuple, unit: tuple, subtree: tuple, everything: tuple, subtree_types: list[str]) -> list[dict]:
    """Four roles, each ``(name, label)``, one per grant depth: ``own`` reads, creates and
    updates its own records of every type; ``unit`` does that and deletes within its unit;
    ``subtree`` reads the records of ``subtree_types`` in its unit's subtree; ``everything``
    reads all records."""
    (own_name, own_label), (unit_name, unit_label) = own, unit
    (subtree_name, subtree_label), (all_name, all_label) = subtree, everything
    return [
        {"name": own_name, "label": own_label, "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "own"}]},
        {"name": unit_name, "label": unit_label, "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]},
        {"name": subtree_name, "label": subtree_label, "grants": [
            {"type": t, "actions": ["read"], "depth": "subtree"} for t in subtree_types]},
        {"name": all_name, "label": all_label, "grants": [
            {"type": "*", "actions": ["read"], "depth": "all"}]},
    ]


class Api:
    """The REST API of ``platform`` as an organisation's integrator calls it.

    ``units`` lists ``(name, parent or None)``, parents first; ``users`` maps a user name to
    ``(unit, role or None)``. Every user (and ``admin``) gets a token; ``config`` is added to
    the app's (``TESTING`` is always on). An audit binds its units and users once:
    ``Api = partial(support.Api, units=UNITS, users=USERS)``.
    """

    def __init__(self, platform, config: dict | None = None, *, units, users: dict):
        self.platform = platform
        with platform.connection() as conn:
            for unit, parent in units:
                accounts.create_unit(conn, unit, parent)
            for user, (unit, role) in users.items():
                accounts.create_user(conn, user, unit, [role] if role else [], "pw")
            self.tokens = {u: accounts.create_token(conn, u) for u in ("admin", *users)}
        self.app = create_app(platform, {"TESTING": True, **(config or {})})
        self.client = self.app.test_client()

    def __call__(self, user, method, path, **kw):
        """``method`` on ``/api/v1{path}`` with ``user``'s token (none when ``user`` is None)."""
        headers = dict(kw.pop("headers", {}))
        if user is not None:
            headers.setdefault("Authorization", f"Bearer {self.tokens[user]}")
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    def create(self, user, type_name, data) -> str:
        """The id of a record ``user`` creates (asserting the 201)."""
        r = self(user, "POST", f"/records/{type_name}", json={"data": data})
        assert r.status_code == 201, r.get_data(as_text=True)
        return r.json["id"]

    def relate(self, user, rel, source, target) -> str:
        """The id of a relationship ``user`` creates (asserting the 201)."""
        r = self(user, "POST", "/relationships", json={"type": rel, "source": source, "target": target})
        assert r.status_code == 201, r.get_data(as_text=True)
        return r.json["id"]
