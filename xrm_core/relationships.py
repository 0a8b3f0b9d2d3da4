"""Relationship types and relationships between records.

Cardinality is enforced twice: checked first for a clear message, and by partial unique
indexes per relationship type so concurrent writers cannot slip past the check.
``on_delete`` says what deleting the *source* record does (restrict / cascade / unlink);
deleting a target always unlinks.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, delete, insert, or_, select, text
from sqlalchemy.exc import IntegrityError

from . import db
from .errors import Conflict, DefinitionError, NotFound, PermissionDenied, ValidationError
from .fields import type_literal
from .validation import check_definition

if TYPE_CHECKING:
    from .records import Record
    from .session import Session

REL = db.relationships


def _index_ddl(definition: dict) -> dict[str, str]:
    name, card = definition["name"], definition["cardinality"]
    out = {}
    if card in ("one-to-one", "one-to-many"):
        out[f"xrm_rel_tgt_{name}"[:63]] = (f"CREATE UNIQUE INDEX IF NOT EXISTS xrm_rel_tgt_{name} "
                                           f"ON xrm_relationships (target_id) WHERE type = '{name}'")
    if card == "one-to-one":
        out[f"xrm_rel_src_{name}"[:63]] = (f"CREATE UNIQUE INDEX IF NOT EXISTS xrm_rel_src_{name} "
                                           f"ON xrm_relationships (source_id) WHERE type = '{name}'")
    return out


def check(conn: Connection, definition: dict, known_types: set[str]) -> dict:
    """Validate a relationship-type definition and that its endpoint types exist."""
    check_definition("relationship-type.schema.json", definition, "relationship type")
    definition = {"on_delete": "unlink", **copy.deepcopy(definition)}
    for end in ("source", "target"):
        t = definition[end]
        if t != "*" and t not in known_types:
            raise DefinitionError(f"relationship type {definition['name']!r} names an unknown entity type",
                                  [{"pointer": f"/{end}", "message": f"no entity type {t!r}"}])
    return definition


def save(conn: Connection, definition: dict, known_types: set[str], source: str = "admin",
         replace: bool = False) -> dict:
    """Add (or with ``replace``, update) a relationship type and its cardinality indexes."""
    definition = check(conn, definition, known_types)
    name = definition["name"]
    old = conn.execute(select(db.relationship_types.c.definition)
                       .where(db.relationship_types.c.name == name)).scalar()
    if old is not None and not replace:
        raise Conflict(f"relationship type {name!r} already exists")
    before = _index_ddl(old) if old else {}
    after = _index_ddl(definition)
    if old is not None:
        for end in ("source", "target"):
            if old[end] != definition[end]:
                n = conn.execute(select(REL.c.id).where(REL.c.type == name).limit(1)).first()
                if n:
                    raise Conflict(f"cannot change the {end} of {name!r}: relationships of it exist")
    for iname in before.keys() - after.keys():
        conn.execute(text(f"DROP INDEX IF EXISTS {iname}"))
    try:
        with conn.begin_nested():
            for iname in sorted(after.keys() - before.keys()):
                conn.execute(text(after[iname]))
    except IntegrityError:
        raise Conflict(f"cannot make {name!r} {definition['cardinality']}: existing relationships break it") from None
    now = db.utcnow()
    if old is None:
        conn.execute(insert(db.relationship_types).values(name=name, definition=definition, source=source,
                                                          updated_at=now))
    else:
        conn.execute(db.relationship_types.update().where(db.relationship_types.c.name == name)
                     .values(definition=definition, source=source, updated_at=now))
    return definition


def remove(conn: Connection, name: str) -> None:
    """Remove a relationship type that no relationship uses."""
    old = conn.execute(select(db.relationship_types.c.definition)
                       .where(db.relationship_types.c.name == name)).scalar()
    if old is None:
        raise NotFound(f"unknown relationship type {name!r}")
    if conn.execute(select(REL.c.id).where(REL.c.type == name).limit(1)).first():
        raise Conflict(f"relationship type {name!r} is still used by relationships")
    for iname in _index_ddl(old):
        conn.execute(text(f"DROP INDEX IF EXISTS {iname}"))
    conn.execute(delete(db.relationship_types).where(db.relationship_types.c.name == name))


def load_all(conn: Connection) -> dict[str, dict]:
    return {n: d for n, d in conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.definition))}


def _as_dict(row) -> dict:
    return {"id": row.id, "type": row.type, "source": row.source_id, "target": row.target_id,
            "data": row.data}


def relate(s: "Session", rel: str, source_id: str, target_id: str, data: dict | None = None) -> dict:
    """Relate two records. Both must be visible; the caller needs update on the source."""
    from . import records
    rt = s.relationship_type(rel)
    src = records._load(s, source_id, "update")
    tgt = records._load(s, target_id, "read")
    for end, row in (("source", src), ("target", tgt)):
        if rt[end] != "*" and row.type != rt[end]:
            raise ValidationError(f"{rel} needs a {rt[end]} as {end}, got {row.type} {row.id}",
                                  [{"pointer": f"/{end}", "message": f"expected a {rt[end]} record"}])
    if source_id == target_id:
        raise ValidationError("a record cannot be related to itself", [{"pointer": "/target", "message": "same as source"}])
    if data is not None and not isinstance(data, dict):
        raise ValidationError("relationship data must be an object", [{"pointer": "/data", "message": "not an object"}])
    _check_cardinality(s, rt, source_id, target_id)
    from .records import new_id
    rid = new_id()
    now = db.utcnow()
    try:
        with s.conn.begin_nested():
            s.conn.execute(insert(REL).values(id=rid, type=rel, source_id=source_id, target_id=target_id,
                                              data=data, created_by=s.actor.id, created_at=now))
    except IntegrityError:
        raise Conflict(f"{source_id} and {target_id} are already related by {rel!r}, or its "
                       f"{rt['cardinality']} cardinality refuses it") from None
    out = {"id": rid, "type": rel, "source": source_id, "target": target_id, "data": data}
    s_rec, t_rec = records.from_row(s, src), records.from_row(s, tgt)
    s.log_activity(s_rec, "related", f"{rel} → {tgt.type} {target_id}",
                   {"relationship": rid, "type": rel, "direction": "outgoing", "other": target_id}, at=now)
    s.log_activity(t_rec, "related", f"{rel} ← {src.type} {source_id}",
                   {"relationship": rid, "type": rel, "direction": "incoming", "other": source_id}, at=now)
    return out


def _check_cardinality(s: "Session", rt: dict, source_id: str, target_id: str) -> None:
    q = select(REL.c.id, REL.c.source_id, REL.c.target_id).where(REL.c.type == rt["name"])
    if s.conn.execute(q.where(REL.c.source_id == source_id, REL.c.target_id == target_id)).first():
        raise Conflict(f"{source_id} is already related to {target_id} by {rt['name']!r}")
    card = rt["cardinality"]
    if card in ("one-to-one", "one-to-many"):
        other = s.conn.execute(q.where(REL.c.target_id == target_id)).first()
        if other:
            raise Conflict(f"{target_id} already has a {rt['name']!r} source ({other.source_id}); "
                           f"{rt['name']} is {card}", [{"pointer": "/target", "message": "already related"}])
    if card == "one-to-one":
        other = s.conn.execute(q.where(REL.c.source_id == source_id)).first()
        if other:
            raise Conflict(f"{source_id} already has a {rt['name']!r} target ({other.target_id}); "
                           f"{rt['name']} is one-to-one", [{"pointer": "/source", "message": "already related"}])


def unrelate(s: "Session", rel_id: str) -> None:
    """Remove a relationship (update on its source and read on its target needed)."""
    from . import records
    row = s.conn.execute(select(REL).where(REL.c.id == rel_id)).first()
    if row is None:
        raise NotFound(f"no relationship {rel_id!r}")
    try:
        src = records._load(s, row.source_id, "read")
        tgt = records._load(s, row.target_id, "read")
    except NotFound:
        raise NotFound(f"no relationship {rel_id!r}") from None
    if not s.allows(src.type, "update", src):
        raise PermissionDenied(f"{s.actor.name!r} may not update {row.source_id}")
    _drop(s, row, records.from_row(s, src), records.from_row(s, tgt))


def _drop(s: "Session", row, src_rec, tgt_rec) -> None:
    s.conn.execute(delete(REL).where(REL.c.id == row.id))
    now = db.utcnow()
    payload = {"relationship": row.id, "type": row.type}
    if src_rec is not None:
        s.log_activity(src_rec, "unrelated", f"{row.type} → {row.target_id} removed",
                       {**payload, "direction": "outgoing", "other": row.target_id}, at=now)
    if tgt_rec is not None:
        s.log_activity(tgt_rec, "unrelated", f"{row.type} ← {row.source_id} removed",
                       {**payload, "direction": "incoming", "other": row.source_id}, at=now)


def related(s: "Session", record_id: str, rel: str | None = None) -> list[dict]:
    """Records related to ``record_id`` in both directions, each visible to the caller.

    Each item: ``{"relationship": {...}, "direction": "outgoing"|"incoming", "record": Record}``.
    """
    from . import records
    records._load(s, record_id)
    if rel is not None:
        s.relationship_type(rel)
    R = db.records
    out = []
    types = list(s.entity_types_map())
    for direction, mine, other in (("outgoing", REL.c.source_id, REL.c.target_id),
                                   ("incoming", REL.c.target_id, REL.c.source_id)):
        q = (select(REL.c.id.label("rel_id"), REL.c.type.label("rel_type"), REL.c.source_id, REL.c.target_id,
                    REL.c.data.label("rel_data"), *records.COLUMNS)
             .join(R, R.c.id == other)
             .where(mine == record_id, s.actor.clause_any_type(types, "read"))
             .order_by(REL.c.type, REL.c.id))
        if rel is not None:
            q = q.where(REL.c.type == rel)
        for row in s.conn.execute(q):
            out.append({"relationship": {"id": row.rel_id, "type": row.rel_type, "source": row.source_id,
                                         "target": row.target_id, "data": row.rel_data},
                        "direction": direction, "record": records.from_row(s, row)})
    return out


def before_record_delete(s: "Session", rec: "Record", seen: set) -> None:
    """Apply ``on_delete`` of every relationship touching ``rec`` before it is deleted."""
    from . import records
    rows = s.conn.execute(select(REL).where(or_(REL.c.source_id == rec.id, REL.c.target_id == rec.id))
                          .order_by(REL.c.id)).all()
    for row in rows:
        rt = s.relationship_type(row.type)
        if row.source_id == rec.id and rt.get("on_delete", "unlink") == "restrict":
            raise Conflict(f"cannot delete {rec.id}: it has {row.type!r} relationships "
                           f"(on_delete restrict); remove them first",
                           [{"pointer": "/relationships", "message": f"{row.type} → {row.target_id}"}])
    for row in rows:
        rt = s.relationship_type(row.type)
        other_id = row.target_id if row.source_id == rec.id else row.source_id
        other = s.conn.execute(select(*records.COLUMNS).where(db.records.c.id == other_id)).first()
        other_rec = records.from_row(s, other) if other is not None else None
        src_rec, tgt_rec = (rec, other_rec) if row.source_id == rec.id else (other_rec, rec)
        s.conn.execute(delete(REL).where(REL.c.id == row.id))
        cascade = row.source_id == rec.id and rt.get("on_delete") == "cascade"
        if cascade and other_id not in seen:
            seen.add(other_id)
            records.delete(s, other_id, seen)
        elif not cascade:
            now = db.utcnow()
            payload = {"relationship": row.id, "type": row.type, "reason": f"{rec.id} deleted"}
            if other_rec is not None and other_id != rec.id:
                s.log_activity(other_rec, "unrelated", f"{row.type} with {rec.type} {rec.id} removed (deleted)",
                               {**payload, "other": rec.id}, at=now)
        del src_rec, tgt_rec
