"""Who acts, and the one scope filter compiled into every query.

A grant is (role, entity type or ``*``, action, depth). The depth a user holds for an action
on a type is the widest over their roles. :meth:`Actor.clause` turns it into a SQL condition
on any table with ``unit_id`` and ``owner_id`` columns (records, activities); no grant means a
condition that is always false — the filter fails closed.

Depths nest: each one takes in everything the narrower ones do, so the widest depth over a
user's roles is never less than any one of them. In particular ``unit`` and ``subtree`` take
in the user's own records wherever they lie (a record keeps its unit when its owner moves,
and may be created in another unit of the creator's create scope), just as ``own`` does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from . import db
from .errors import AuthenticationError, NotFound

ACTIONS = ("read", "create", "update", "delete")
DEPTHS = {"none": 0, "own": 1, "unit": 2, "subtree": 3, "all": 4}
DEPTH_NAMES = {v: k for k, v in DEPTHS.items()}


@dataclass
class Actor:
    """The user a session acts as, with their grants resolved."""

    id: int
    name: str
    unit_id: int
    unit_path: str
    is_admin: bool = False
    #: entity type (or "*") -> action -> depth rank
    grants: dict[str, dict[str, int]] = field(default_factory=dict)

    def depth(self, entity_type: str, action: str) -> int:
        """Widest depth rank (0–4) this actor holds for ``action`` on ``entity_type``."""
        if self.is_admin:
            return DEPTHS["all"]
        return max(self.grants.get(entity_type, {}).get(action, 0),
                   self.grants.get("*", {}).get(action, 0))

    def can(self, entity_type: str, action: str) -> bool:
        return self.depth(entity_type, action) > 0

    def clause(self, entity_type: str, action: str, table=db.records, bind=None) -> ColumnElement:
        """SQL condition selecting the rows of ``table`` this actor may ``action``.

        ``bind(value)`` binds the one value the condition compares with (see
        :meth:`clause_values`) as a named parameter, for prepared statements.
        """
        d = self.depth(entity_type, action)
        b = bind or (lambda v: v)
        if d >= DEPTHS["all"]:
            return true()
        # Values are bound in the order clause_values lists them: the unit's, then the owner.
        if d == DEPTHS["subtree"]:
            in_units = table.c.unit_id.in_(
                select(db.units.c.id).where(db.units.c.path.like(b(self.unit_path + "%"))).scalar_subquery())
            return or_(in_units, table.c.owner_id == b(self.id))
        if d == DEPTHS["unit"]:
            in_unit = table.c.unit_id == b(self.unit_id)
            return or_(in_unit, table.c.owner_id == b(self.id))
        if d == DEPTHS["own"]:
            return table.c.owner_id == b(self.id)
        return false()

    def clause_values(self, entity_type: str, action: str) -> tuple[int, list]:
        """The depth of :meth:`clause` and the values it binds, in order."""
        d = self.depth(entity_type, action)
        if d == DEPTHS["subtree"]:
            return d, [self.unit_path + "%", self.id]
        if d == DEPTHS["unit"]:
            return d, [self.unit_id, self.id]
        if d == DEPTHS["own"]:
            return d, [self.id]
        return d, []

    def clause_any_type(self, types, action: str, table=db.records, type_column=None) -> ColumnElement:
        """Scope condition over rows of several entity types (``type_column`` holds the type)."""
        col = type_column if type_column is not None else table.c.type
        if self.is_admin:
            return true()
        parts = [and_(col == t, self.clause(t, action, table)) for t in types if self.can(t, action)]
        return or_(*parts) if parts else false()

    def allows_unit(self, entity_type: str, action: str, unit_id: int, unit_path: str) -> bool:
        """May this actor ``action`` records placed in the given unit (for choosing a unit)?"""
        d = self.depth(entity_type, action)
        if d >= DEPTHS["all"]:
            return True
        if d == DEPTHS["subtree"]:
            return unit_path.startswith(self.unit_path)
        if d in (DEPTHS["unit"], DEPTHS["own"]):
            return unit_id == self.unit_id
        return False

    def allows_row(self, entity_type: str, action: str, owner_id: int, unit_id: int, unit_path: str) -> bool:
        """Python mirror of :meth:`clause` for one row already loaded."""
        d = self.depth(entity_type, action)
        if d == DEPTHS["none"]:
            return False
        if owner_id == self.id:
            return True  # every depth takes in the actor's own records
        if d == DEPTHS["own"]:
            return False
        return self.allows_unit(entity_type, action, unit_id, unit_path)


def load_actor(conn: Connection, name: str) -> Actor:
    """Resolve user ``name`` with unit and grants. Unknown or inactive users fail."""
    u = db.users
    row = conn.execute(select(u.c.id, u.c.name, u.c.unit_id, u.c.is_admin, u.c.active, db.units.c.path)
                       .join(db.units, db.units.c.id == u.c.unit_id).where(u.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown user {name!r}" + (" (run `xrm init` first)" if name == "admin" else ""))
    if not row.active:
        raise AuthenticationError(f"user {name!r} is deactivated")
    grants: dict[str, dict[str, int]] = {}
    g = db.grants
    q = (select(g.c.entity_type, g.c.action, g.c.depth)
         .join(db.user_roles, db.user_roles.c.role_id == g.c.role_id)
         .where(db.user_roles.c.user_id == row.id))
    for etype, action, depth in conn.execute(q):
        cur = grants.setdefault(etype, {})
        cur[action] = max(cur.get(action, 0), DEPTHS[depth])
    return Actor(row.id, row.name, row.unit_id, row.path, bool(row.is_admin), grants)
