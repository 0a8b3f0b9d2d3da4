"""Shared by the tests of who may relate and unrelate (docs/security.md, "Relating and
unrelating") in tests/core and tests/web: a small organisation of clerks, a way to see that a
refused change changed nothing, and a cascading relationship type."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from xrm_core import PermissionDenied, accounts, db, hookimpl
from xrm_core.web import create_app


class Sponsors:
    """A many-to-many relationship whose source's deletion deletes its targets."""

    __name__ = "sponsors"

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "sponsors", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "cascade"}]


def make_clerks(p, *, clerk_actions=("create", "update"), local_actions=("read", "create", "update")) -> dict:
    """Units unit_a and unit_b. ``clerk_a`` and ``clerk_b`` (one in each) read every record and
    change their own with ``clerk_actions``; ``reader`` (unit_a) reads every record and changes
    nothing; ``local`` (unit_a) has ``local_actions`` on its own records only, so it sees no
    one else's. Each clerk owns a person and a note: returns their ids as ``pa``, ``na``,
    ``pb``, ``nb``."""
    with p.connection() as conn:
        accounts.create_unit(conn, "unit_a")
        accounts.create_unit(conn, "unit_b")
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read"], "depth": "all"},
            {"type": "*", "actions": list(clerk_actions), "depth": "own"}]})
        accounts.save_role(conn, {"name": "reader", "grants": [{"type": "*", "actions": ["read"], "depth": "all"}]})
        accounts.save_role(conn, {"name": "local", "grants": [
            {"type": "*", "actions": list(local_actions), "depth": "own"}]})
        accounts.create_user(conn, "clerk_a", "unit_a", ["clerk"], "pw")
        accounts.create_user(conn, "clerk_b", "unit_b", ["clerk"], "pw")
        accounts.create_user(conn, "reader", "unit_a", ["reader"], "pw")
        accounts.create_user(conn, "local", "unit_a", ["local"], "pw")
    ids = {}
    for who in ("a", "b"):
        with p.session(f"clerk_{who}") as s:
            ids[f"p{who}"] = s.create("person", {"name": f"person {who}", "national_id": f"N{who}"}).id
            ids[f"n{who}"] = s.create("note", {"text": f"note {who}"}).id
    return ids


def snapshot(platform) -> dict:
    """The row counts of records, activities and relationships, and every relationship."""
    with platform.engine.connect() as conn:
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (db.records, db.activities, db.relationships)}
        rels = conn.execute(select(db.relationships.c.type, db.relationships.c.source_id,
                                   db.relationships.c.target_id).order_by(db.relationships.c.id)).all()
    return {"counts": counts, "rels": [tuple(r) for r in rels]}


def refused(p, user, action, error=PermissionDenied):
    """Run ``action(session)`` as ``user``; it must raise ``error`` and change nothing."""
    before = snapshot(p)
    with pytest.raises(error) as e:
        with p.session(user) as s:
            action(s)
    assert snapshot(p) == before
    return e.value


def api(p, user):
    """A REST caller with a new token of ``user``: ``call(method, path under /api/v1, **kw)``."""
    client = create_app(p, {"TESTING": True}).test_client()
    with p.connection() as conn:
        token = accounts.create_token(conn, user)

    def call(method, path, **kw):
        return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)
    return call
