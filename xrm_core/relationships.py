"""Relationship types and relationships between records.

Cardinality is enforced twice: checked first for a clear message, and by partial unique
indexes per relationship type so concurrent writers cannot slip past the check.
``on_delete`` says what deleting the *source* record does (restrict / cascade / unlink);
deleting a target always unlinks.
"""
from __future__ import annotations

import copy
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Select, and_, delete, func, insert, or_, select, text, union_all
from sqlalchemy.exc import IntegrityError

from . import db, history, records, removals
from .stored_json import storage_errors
from .errors import Conflict, DefinitionError, NotFound, PermissionDenied, ValidationError
from .validation import check_definition

if TYPE_CHECKING:
    from .session import Session

REL = db.relationships


#: PostgreSQL cuts identifiers at 63 bytes; index names are kept within it on both engines.
MAX_IDENTIFIER = 63


def _index_name(prefix: str, name: str) -> str:
    """The name of a cardinality index of relationship type ``name``.

    ``prefix + name`` while it fits in 63 characters; a longer one is cut and ends with a
    digest of the full name, so two long relationship-type names never share an index
    (PostgreSQL would silently cut both to the same 63 bytes).
    """
    full = f"{prefix}{name}"
    if len(full) <= MAX_IDENTIFIER:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{full[:MAX_IDENTIFIER - 13]}_{digest}"


def _index_ddl(definition: dict) -> dict[str, str]:
    """Index name -> CREATE statement of the partial unique indexes that back the
    cardinality of relationship type ``definition``."""
    name, card = definition["name"], definition["cardinality"]
    ends = {"one-to-one": ("target_id", "source_id"), "one-to-many": ("target_id",)}.get(card, ())
    out = {}
    for column in ends:
        iname = _index_name("xrm_rel_tgt_" if column == "target_id" else "xrm_rel_src_", name)
        out[iname] = (f"CREATE UNIQUE INDEX IF NOT EXISTS {iname} "
                      f"ON xrm_relationships ({column}) WHERE type = '{name}'")
    return out


def _drop_indexes(conn: Connection, name: str, keep: dict[str, str]) -> None:
    """Drop the cardinality indexes of relationship type ``name`` other than ``keep``.

    A long name's index is also dropped under the name earlier versions gave it
    (``prefix + name`` uncut, which PostgreSQL had cut to 63 bytes), so that saving the
    type again moves it to the name of :func:`_index_name`.
    """
    for prefix in ("xrm_rel_tgt_", "xrm_rel_src_"):
        for iname in {_index_name(prefix, name), f"{prefix}{name}"} - keep.keys():
            conn.execute(text(f"DROP INDEX IF EXISTS {iname}"))


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
    stored = conn.execute(select(db.relationship_types.c.definition, db.relationship_types.c.source)
                          .where(db.relationship_types.c.name == name)).first()
    old = stored.definition if stored is not None else None
    if old is not None and not replace:
        # Whose it is tells the admin what to do: a plugin's comes back on every init.
        owner = "added by an admin" if stored.source == "admin" else f"declared by plugin {stored.source!r}"
        raise Conflict(f"relationship type {name!r} already exists ({owner}); choose another name",
                       [{"pointer": "/name", "message": "already used"}])
    after = _index_ddl(definition)
    if old is not None:
        for end in ("source", "target"):
            if old[end] != definition[end]:
                _refuse_stranded_ends(conn, name, end, definition[end])
        breaches = _cardinality_breaches(conn, name, definition["cardinality"])
        if breaches:
            raise Conflict(f"cannot make {name!r} {definition['cardinality']}: {len(breaches)} record(s) have "
                           f"more relationships of it than that allows", breaches[:MAX_LISTED])
        _drop_indexes(conn, name, after)
    with conn.begin_nested():
        for iname in sorted(after):
            conn.execute(text(after[iname]))
    now = db.utcnow()
    if old is None:
        conn.execute(insert(db.relationship_types).values(name=name, definition=definition, source=source,
                                                          updated_at=now))
    elif (old, stored.source) != (definition, source):
        # Saved again as it is (every `xrm init`): the row, and its updated_at, stay.
        conn.execute(db.relationship_types.update().where(db.relationship_types.c.name == name)
                     .values(definition=definition, source=source, updated_at=now))
    return definition


def _refuse_stranded_ends(conn: Connection, name: str, end: str, new: str) -> None:
    """Refuse a new ``end`` (``source`` or ``target``) type of relationship type ``name`` that
    stored relationships do not satisfy: each must link a record of the new type at that end.

    A change every stored relationship satisfies — to ``*``, or to the type all of them
    already link — is no reason to refuse: like a new optional field on an entity type, a
    plugin may widen its relationship type on a database in use. The refusal counts the
    relationships in the way by the type they link, then names the first
    :data:`MAX_LISTED_RELATIONSHIPS` of them (by id) with both ends, for ``xrm unrelate``.
    """
    if new == "*":
        return
    R = db.records
    column = REL.c.source_id if end == "source" else REL.c.target_id
    rows = conn.execute(select(R.c.type, func.count()).join(R, R.c.id == column)
                        .where(REL.c.type == name, R.c.type != new).group_by(R.c.type).order_by(R.c.type)).all()
    n = sum(count for _type, count in rows)
    if n:
        listed = _listed_relationships(conn, name, end, new)
        raise Conflict(f"cannot change the {end} of {name!r}: {n} relationship(s) of it link records of other "
                       f"types than {new!r}{_first_listed(n, len(listed))}",
                       [{"pointer": f"/{end}", "message": f"{count} relationship(s) link {t} records"}
                        for t, count in rows]
                       + [{"pointer": f"/relationships/{rid}", "message": ends} for rid, ends in listed])


#: Relationships a refusal names by id (with their ends), at most: enough to act on the
#: first of them, few enough to read when thousands are in the way.
MAX_LISTED_RELATIONSHIPS = 20


def _listed_relationships(conn: Connection, name: str, end: str | None = None,
                          other_than: str | None = None) -> list[tuple[str, str]]:
    """``(id, "person R1 → note R3")`` of the first :data:`MAX_LISTED_RELATIONSHIPS`
    relationships of type ``name`` (by id); with ``end``, only those whose ``end`` record is
    not of type ``other_than``. For an admin's refusal: every id is named, whatever its scope."""
    src, tgt = db.records.alias("src"), db.records.alias("tgt")
    q = (select(REL.c.id, REL.c.source_id, src.c.type, REL.c.target_id, tgt.c.type)
         .join(src, src.c.id == REL.c.source_id).join(tgt, tgt.c.id == REL.c.target_id)
         .where(REL.c.type == name).order_by(REL.c.id).limit(MAX_LISTED_RELATIONSHIPS))
    if end is not None:
        q = q.where((src if end == "source" else tgt).c.type != other_than)
    return [(rid, f"{stype} {sid} → {ttype} {tid}") for rid, sid, stype, tid, ttype in conn.execute(q)]


def _first_listed(n: int, listed: int) -> str:
    """What a refusal that names ``listed`` of ``n`` relationships adds to its message."""
    which = f"the first {listed} by id are" if listed < n else "each is"
    return f" ({which} listed; remove one with `xrm unrelate RELATIONSHIP_ID` or DELETE /api/v1/relationships/ID)"


#: Records listed when a cardinality change is refused.
MAX_LISTED = 100


def _cardinality_breaches(conn: Connection, name: str, cardinality: str) -> list[dict]:
    """Errors for each record that has more relationships of type ``name`` than
    ``cardinality`` allows it (in the order of their ids)."""
    out = []
    ends = {"one-to-one": ("target_id", "source_id"), "one-to-many": ("target_id",)}.get(cardinality, ())
    for column in ends:
        col = REL.c[column]
        role, other = ("target", "source") if column == "target_id" else ("source", "target")
        for record_id, n in conn.execute(select(col, func.count()).where(REL.c.type == name).group_by(col)
                                         .having(func.count() > 1).order_by(col)):
            out.append({"pointer": "/cardinality",
                        "message": f"record {record_id} is the {role} of {n} relationships: {cardinality} "
                                   f"allows it one {other}"})
    return out


def remove(conn: Connection, name: str) -> None:
    """Remove a relationship type that no relationship uses.

    Conflict while relationships of it are stored: how many, and the first
    :data:`MAX_LISTED_RELATIONSHIPS` by id with both ends (``/relationships/<id>``)."""
    old = conn.execute(select(db.relationship_types.c.definition)
                       .where(db.relationship_types.c.name == name)).scalar()
    if old is None:
        raise NotFound(f"unknown relationship type {name!r}")
    n = conn.execute(select(func.count()).select_from(REL).where(REL.c.type == name)).scalar()
    if n:
        listed = _listed_relationships(conn, name)
        raise Conflict(f"relationship type {name!r} is still used by {n} relationship(s): remove them first, then "
                       f"the type{_first_listed(n, len(listed))}",
                       [{"pointer": f"/relationships/{rid}", "message": ends} for rid, ends in listed])
    _drop_indexes(conn, name, {})
    conn.execute(delete(db.relationship_types).where(db.relationship_types.c.name == name))


def load_all(conn: Connection) -> dict[str, dict]:
    return {n: d for n, d in conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.definition))}


def _visible(s: "Session", record_id: str) -> bool:
    """Whether the actor may read ``record_id`` (so an error message may name it)."""
    row = records._row(s, record_id)
    return row is not None and s.allows(row.type, "read", row)


def _named(s: "Session", record_id: str) -> str:
    """`` (ID)`` if the actor can see the record, else nothing: hidden ids are never shown."""
    return f" ({record_id})" if _visible(s, record_id) else ""


def binding(rt: dict) -> str | None:
    """Why a link of relationship type ``rt`` binds its target, so that relating or
    unrelating needs update on the target as on the source; None when reading the target
    is enough (a many-to-many type that does not cascade).

    A link binds its target when it takes the target's one slot (one-to-one, one-to-many:
    a target has at most one source, and whoever holds it keeps the rightful owner's link
    out) or ties the target's life to the source (``on_delete: cascade``: deleting the
    source deletes the target). A one-to-one link takes the source's one slot too; the
    source needs update anyway. See docs/security.md, "Relating and unrelating".
    """
    card = rt["cardinality"]
    if card in ("one-to-one", "one-to-many"):
        return f"{rt['name']} is {card}, so the link takes the target's one source"
    if rt.get("on_delete") == "cascade":
        return f"{rt['name']} cascades, so deleting the source would delete the target"
    return None


def link_refusal(s: "Session", rt: dict, src, tgt) -> tuple[str, str | None] | None:
    """``(end, why)`` when the actor may not relate ``src`` and ``tgt`` by relationship
    type ``rt``, else None. ``end`` is ``"source"`` or ``"target"``, the end the actor would
    need update on; ``why`` is :func:`binding`'s reason for a target. (Removing a link asks
    less: :func:`unlink_refusal`.)

    ``src`` and ``tgt`` are rows or records (``type``, ``owner_id``, ``unit_id``) the actor
    may read: whoever may not read an end is told "no record" before this is asked, so a
    refusal never tells a hidden record apart from an unknown one. The one rule of every
    interface (CLI, REST, UI, file import, relate_many); the UI asks it to offer only the
    links the core allows.
    """
    if not s.allows(src.type, "update", src):
        return "source", None
    why = binding(rt)
    if why is not None and not s.allows(tgt.type, "update", tgt):
        return "target", why
    return None


def unlink_refusal(s: "Session", rt: dict, src, tgt) -> tuple[str, str | None] | None:
    """``(end, why)`` when the actor may not remove a link of relationship type ``rt``
    from ``src`` to ``tgt``, else None; ``end`` is ``"target"`` (with :func:`binding`'s
    reason) when only update on the target would do, ``"either"`` when update on either end
    would.

    Unrelating needs update on the target, or what relating would (:func:`link_refusal`).
    The owner of a record may always detach it from a link pointing at it: a many-to-many
    link needs only read on its target to be made, and its owner could not remove it
    otherwise. The source's owner may remove a link that does not bind its target, but
    not free a bound target's one slot or cut its cascade alone: that is a change of the
    target (as clearing a lookup is a change of the record holding it). Asked, like
    link_refusal, only of ends the actor may read. The UI asks it to offer only the
    unlinks the core allows.
    """
    if s.allows(tgt.type, "update", tgt):
        return None
    refusal = link_refusal(s, rt, src, tgt)
    if refusal is None:
        return None
    why = binding(rt)
    return ("target", why) if why is not None else ("either", None)


def _refuse_link(s: "Session", rt: dict, src, tgt, where: str = "", prefix: str = "") -> None:
    """PermissionDenied naming the end when :func:`link_refusal` refuses relating;
    ``where`` prefixes the pointer (``/pairs/3``), ``prefix`` the message (``pair 3: ``)."""
    refusal = link_refusal(s, rt, src, tgt)
    if refusal is None:
        return
    end, why = refusal
    row = src if end == "source" else tgt
    reason = (f"relating by {rt['name']!r} needs update on the source" if why is None
              else f"{why}; relating needs update on the target too")
    raise PermissionDenied(f"{prefix}{s.actor.name!r} may not update the {end} of this link, {row.type} {row.id}: "
                           f"{reason}", [{"pointer": f"{where}/{end}", "message": "relating needs update on this record"}])


def _refuse_unlink(s: "Session", rt: dict, src, tgt) -> None:
    """PermissionDenied naming the end(s) when :func:`unlink_refusal` refuses unrelating."""
    refusal = unlink_refusal(s, rt, src, tgt)
    if refusal is None:
        return
    end, why = refusal
    if end == "target":
        raise PermissionDenied(f"{s.actor.name!r} may not update the target of this link, {tgt.type} {tgt.id}: "
                               f"{why}; unrelating needs update on the target",
                               [{"pointer": "/target", "message": "unrelating needs update on this record"}])
    raise PermissionDenied(f"{s.actor.name!r} may update neither end of this link, {src.type} {src.id} → {tgt.type} "
                           f"{tgt.id}: unrelating by {rt['name']!r} needs update on its source or its target",
                           [{"pointer": "/source", "message": "unrelating needs update on this record or the target"},
                            {"pointer": "/target", "message": "unrelating needs update on this record or the source"}])


def _refuse_hooked_ends(s: "Session", source_id: str, target_id: str) -> None:
    """HookMisuse when a before_* hook links the record it is called for: its before_create
    hook may not link it at all (it is not stored yet), its before_update hook not as a
    source (that would "update" it). The one rule of relate and relate_many."""
    if s.hooked:
        for rid, action in ((source_id, "update"), (target_id, "read")):
            if rid in s.hooked:
                records._refuse_hook_misuse(s.hooked[rid], rid, action)


def _load_ends(s: "Session", source_id: str, target_id: str):
    """The rows of both ends, each one the actor may read (else NotFound, the source's first)."""
    _refuse_hooked_ends(s, source_id, target_id)
    return records._load(s, source_id, "read"), records._load(s, target_id, "read")


def relate(s: "Session", rel: str, source_id: str, target_id: str, data: dict | None = None) -> dict:
    """Relate two records. Both must be visible (else NotFound); the caller needs update on
    the source, and on the target when the link binds it (:func:`binding`), else
    PermissionDenied naming the end (``/source``, ``/target``), asked before the
    cardinality, so that who may not change a record does not learn whether its slot is
    taken.

    Refused with ValidationError for wrong endpoint types or a self-relation, with Conflict
    for a duplicate or what the cardinality forbids. Both records get a ``related`` activity.
    """
    rt = s.relationship_type(rel)
    src, tgt = _load_ends(s, source_id, target_id)
    _refuse_link(s, rt, src, tgt)
    _check_endpoints(rt, src, tgt)
    if data is not None and not isinstance(data, dict):
        raise ValidationError("relationship data must be an object", [{"pointer": "/data", "message": "not an object"}])
    problems = storage_errors(data, "/data") if data else []
    if problems:
        raise ValidationError("relationship data cannot be stored", problems)
    _check_cardinality(s, rt, source_id, target_id)
    rid, now = records.new_id(), db.utcnow()
    try:
        with s.conn.begin_nested():
            s.conn.execute(insert(REL).values(id=rid, type=rel, source_id=source_id, target_id=target_id,
                                              data=data, created_by=s.actor.id, created_at=now))
            payload = {"relationship": rid, "type": rel}
            s.log_activity(records.from_row(s, src), "related", f"{rel} → {tgt.type} {target_id}",
                           {**payload, "direction": "outgoing", "other": target_id}, at=now)
            s.log_activity(records.from_row(s, tgt), "related", f"{rel} ← {src.type} {source_id}",
                           {**payload, "direction": "incoming", "other": source_id}, at=now)
    except IntegrityError:
        # Only a concurrent writer gets here: _check_cardinality saw no clash. Say what it
        # did — deleted one of the records (the foreign key refused), or related one of them
        # first — as the checks would have, had it come a moment earlier.
        for where, rid_ in (("/source", source_id), ("/target", target_id)):
            if records._row(s, rid_) is None:
                raise NotFound(f"no record {rid_!r}: it was deleted meanwhile",
                               [{"pointer": where, "message": "no such record"}]) from None
        _check_cardinality(s, rt, source_id, target_id)
        raise Conflict(f"{source_id} and {target_id} are already related by {rel!r}, or its "
                       f"{rt['cardinality']} cardinality refuses it") from None
    return {"id": rid, "type": rel, "source": source_id, "target": target_id, "data": data}


_RELATIONSHIPS_SQL = ("INSERT INTO xrm_relationships (id, type, source_id, target_id, data, created_by, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)")
_RELATIONSHIPS_PG = ("INSERT INTO xrm_relationships (id, type, source_id, target_id, data, created_by, created_at) "
                     "SELECT id, type, source_id, target_id, data::jsonb, created_by, created_at FROM unnest(%b::text[], "
                     "%b::text[], %b::text[], %b::text[], %b::text[], %b::int[], %b::text[]) AS t(id, type, source_id, "
                     "target_id, data, created_by, created_at)")
def relate_many(s: "Session", rel: str, pairs, chunk: int = 500) -> list[dict]:
    """Relate many (source, target) pairs at once, all or nothing — the bulk path of
    :func:`relate`, with the same checks (visibility, update on the source and on a bound
    target (:func:`binding`), endpoint types,
    cardinality, duplicates, storable data) and the same history, written in batches.

    A pair may carry the relationship's data as a third element: ``(source, target, data)``.
    """
    from sqlalchemy import select as _select
    rt = s.relationship_type(rel)
    datas = [p[2] if len(p) > 2 else None for p in pairs]
    pairs = [(str(p[0]), str(p[1])) for p in pairs]
    for n, data in enumerate(datas):
        if data is not None and not isinstance(data, dict):
            raise ValidationError(f"pair {n}: relationship data must be an object",
                                  [{"pointer": f"/pairs/{n}/data", "message": "not an object"}])
        problems = storage_errors(data, f"/pairs/{n}/data") if data else []
        if problems:
            raise ValidationError(f"pair {n}: relationship data cannot be stored", problems)
    R = db.records
    rows: dict[str, object] = {}
    ids = sorted({i for p in pairs for i in p})
    for i in range(0, len(ids), chunk):
        for row in s.conn.execute(_select(*records.COLUMNS).where(R.c.id.in_(ids[i:i + chunk]))):
            rows[row.id] = row
    seen, sources, targets = set(), set(), set()
    for n, (source_id, target_id) in enumerate(pairs):
        _refuse_hooked_ends(s, source_id, target_id)
        src, tgt = rows.get(source_id), rows.get(target_id)
        for rid, row in ((source_id, src), (target_id, tgt)):
            if row is None or not s.allows(row.type, "read", row):
                raise NotFound(f"pair {n}: no record {rid!r}")
        _refuse_link(s, rt, src, tgt, f"/pairs/{n}", f"pair {n}: ")
        _check_endpoints(rt, src, tgt, f"/pairs/{n}", f"pair {n}: ")
        card = rt["cardinality"]
        if ((source_id, target_id) in seen or (card != "many-to-many" and target_id in targets)
                or (card == "one-to-one" and source_id in sources)):
            raise Conflict(f"pair {n} ({source_id} → {target_id}) repeats an earlier pair or breaks "
                           f"{rel!r}'s {card} cardinality", [{"pointer": f"/pairs/{n}", "message": "conflict"}])
        seen.add((source_id, target_id))
        sources.add(source_id)
        targets.add(target_id)
    return write_pairs(s, rel, rows, pairs, datas)


def write_pairs(s: "Session", rel: str, rows: dict, pairs: list[tuple[str, str]], datas: list) -> list[dict]:
    """The write of :func:`relate_many`: relate ``pairs`` (with ``datas``, one per pair) and
    log both ends' ``related`` activities, for pairs already checked as relate_many checks
    them against ``rows`` (record rows of :data:`xrm_core.records.COLUMNS` by id). A stored
    relationship the check did not see still refuses the batch (Conflict, nothing written).
    For callers that have read and checked the rows themselves (the file import), so that
    a batch is not read and checked twice."""
    now = db.utcnow()
    made = [{"id": records.new_id(), "type": rel, "source": a, "target": b, "data": data}
            for (a, b), data in zip(pairs, datas)]
    acts = []
    for m in made:
        src, tgt = rows[m["source"]], rows[m["target"]]
        payload = {"relationship": m["id"], "type": rel}
        for row, other, direction, arrow in ((src, tgt, "outgoing", "→"), (tgt, src, "incoming", "←")):
            acts.append({"record_id": row.id, "record_type": row.type, "unit_id": row.unit_id,
                         "owner_id": row.owner_id, "kind": "related", "at": now, "actor": s.actor.name,
                         "summary": f"{rel} {arrow} {other.type} {other.id}",
                         "payload": {**payload, "direction": direction, "other": other.id}})
    if not made:
        return []
    as_json = db.json_bytes
    try:
        with s.conn.begin_nested():
            # Multi-row statements, not executemany: psycopg ran one INSERT per row.
            db.insert_values(s.conn, _RELATIONSHIPS_SQL, [
                (m["id"], rel, m["source"], m["target"], as_json(m["data"]).decode(), s.actor.id, now)
                for m in made], _RELATIONSHIPS_PG)
            if not s.quiet_history:
                db.insert_values(s.conn, history.INSERT_SQL, [
                    (a["record_id"], a["record_type"], a["unit_id"], a["owner_id"], a["kind"], a["at"], a["actor"],
                     a["summary"], as_json(a["payload"]).decode()) for a in acts], history.INSERT_PG)
    except IntegrityError:
        raise _stored_clash(s, s.relationship_type(rel), pairs) from None
    return made


def _stored_clash(s: "Session", rt: dict, pairs: list[tuple[str, str]], chunk: int = 500) -> Conflict:
    """The Conflict of :func:`relate_many` when stored relationships refuse its pairs: the
    first pair that repeats one, or that the cardinality refuses next to one, by position
    (found only on this error path, so a batch that goes in pays nothing for it)."""
    name, card = rt["name"], rt["cardinality"]
    stored_pairs, stored_sources, stored_targets = set(), set(), set()
    ids = sorted({i for p in pairs for i in p})
    for i in range(0, len(ids), chunk):
        part = ids[i:i + chunk]
        for a, b in s.conn.execute(select(REL.c.source_id, REL.c.target_id).where(
                REL.c.type == name, or_(REL.c.source_id.in_(part), REL.c.target_id.in_(part)))):
            stored_pairs.add((a, b))
            stored_sources.add(a)
            stored_targets.add(b)
    for n, (a, b) in enumerate(pairs):
        if (a, b) in stored_pairs:
            why = f"{a} is already related to {b} by {name!r}"
        elif card != "many-to-many" and b in stored_targets:
            why = f"{b} already has a {name!r} source; {name} is {card}, so a target has at most one source"
        elif card == "one-to-one" and a in stored_sources:
            why = f"{a} already has a {name!r} target; {name} is one-to-one, so a source has at most one target"
        else:
            continue
        return Conflict(f"pair {n}: {why} (nothing was related)", [{"pointer": f"/pairs/{n}", "message": "conflict"}])
    # Only a concurrent writer gets here: what refused the pairs is gone again.
    return Conflict(f"some pairs are already related by {name!r}, or its {card} cardinality refuses "
                    "them (nothing was related)")


def _check_endpoints(rt: dict, src, tgt, where: str = "", prefix: str = "") -> None:
    """ValidationError for an end of the wrong type or a record related to itself; ``where``
    and ``prefix`` as :func:`_refuse_link`'s (relate_many says which pair)."""
    for end, row in (("source", src), ("target", tgt)):
        if rt[end] != "*" and row.type != rt[end]:
            raise ValidationError(f"{prefix}{rt['name']}: the {end} must be a record of type {rt[end]}, got "
                                  f"{row.type} {row.id}",
                                  [{"pointer": f"{where}/{end}", "message": f"expected a record of type {rt[end]}"}])
    if src.id == tgt.id:
        raise ValidationError(f"{prefix}a record cannot be related to itself",
                              [{"pointer": f"{where}/target", "message": "same as source"}])


def _check_cardinality(s: "Session", rt: dict, source_id: str, target_id: str) -> None:
    name, card = rt["name"], rt["cardinality"]
    q = select(REL.c.source_id, REL.c.target_id).where(REL.c.type == name)
    if s.conn.execute(q.where(REL.c.source_id == source_id, REL.c.target_id == target_id)).first():
        raise Conflict(f"{source_id} is already related to {target_id} by {name!r}",
                       [{"pointer": "/target", "message": "already related"}])
    if card in ("one-to-one", "one-to-many"):
        other = s.conn.execute(q.where(REL.c.target_id == target_id)).first()
        if other:
            raise Conflict(f"{target_id} already has a {name!r} source{_named(s, other.source_id)}; "
                           f"{name} is {card}, so a target has at most one source",
                           [{"pointer": "/target", "message": "already related"}])
    if card == "one-to-one":
        other = s.conn.execute(q.where(REL.c.source_id == source_id)).first()
        if other:
            raise Conflict(f"{source_id} already has a {name!r} target{_named(s, other.target_id)}; "
                           f"{name} is one-to-one, so a source has at most one target",
                           [{"pointer": "/source", "message": "already related"}])


def unrelate(s: "Session", rel_id: str) -> None:
    """Remove a relationship. The caller needs update on its target, or what relating it
    would need: update on its source when the link does not bind the target
    (:func:`unlink_refusal`); else PermissionDenied naming the end(s), nothing removed.

    NotFound if unknown or if either end is outside the caller's read scope, whatever the
    caller may change: the link does not exist for them.
    """
    row = s.conn.execute(select(REL).where(REL.c.id == rel_id)).first()
    if row is None or not (_visible(s, row.source_id) and _visible(s, row.target_id)):
        raise NotFound(f"no relationship {rel_id!r}")
    src, tgt = _load_ends(s, row.source_id, row.target_id)
    _refuse_unlink(s, s.relationship_type(row.type), src, tgt)
    now = db.utcnow()
    payload = {"relationship": row.id, "type": row.type}
    with s.conn.begin_nested():
        s.conn.execute(delete(REL).where(REL.c.id == row.id))
        removals.note_links(s, [row])  # a hook's unlink inside a delete: it went with that delete
        removals.note_ends(s, [src, tgt])
        s.log_activity(records.from_row(s, src), "unrelated", f"{row.type} → {row.target_id} removed",
                       {**payload, "direction": "outgoing", "other": row.target_id}, at=now)
        s.log_activity(records.from_row(s, tgt), "unrelated", f"{row.type} ← {row.source_id} removed",
                       {**payload, "direction": "incoming", "other": row.source_id}, at=now)


def related(s: "Session", record_id: str, rel: str | None = None, limit: int | None = None,
            after: tuple[str, str, str] | None = None) -> list[dict]:
    """Records related to ``record_id`` in both directions, each visible to the caller.

    Each item: ``{"relationship": {...}, "direction": "outgoing"|"incoming", "record": Record}``
    (outgoing: ``record_id`` is the source). Records outside the caller's read scope are left out.
    Outgoing links come first, each direction in the order of (relationship type, id).

    ``limit`` pages the list (at most that many items; None: all of them) and ``after`` —
    the ``(direction, relationship type, relationship id)`` of the last item of the previous
    page — continues it: a record linked 10,000 times is read a page at a time, not whole
    for each request.
    """
    records._load(s, record_id)
    if rel is not None:
        s.relationship_type(rel)
    R = db.records
    out = []
    types = list(s.entity_types_map())
    directions = [("outgoing", REL.c.source_id, REL.c.target_id), ("incoming", REL.c.target_id, REL.c.source_id)]
    if after is not None and after[0] == "incoming":
        directions = directions[1:]
    for direction, mine, other in directions:
        q = (select(REL.c.id.label("rel_id"), REL.c.type.label("rel_type"), REL.c.source_id, REL.c.target_id,
                    REL.c.data.label("rel_data"), *records.COLUMNS)
             .join(R, R.c.id == other)
             .where(mine == record_id, s.actor.clause_any_type(types, "read"))
             .order_by(REL.c.type, REL.c.id))
        if rel is not None:
            q = q.where(REL.c.type == rel)
        if after is not None and after[0] == direction:
            q = q.where(or_(REL.c.type > after[1], and_(REL.c.type == after[1], REL.c.id > after[2])))
        if limit is not None:
            q = q.limit(limit - len(out))
        for row in s.conn.execute(q):
            out.append({"relationship": {"id": row.rel_id, "type": row.rel_type, "source": row.source_id,
                                         "target": row.target_id, "data": row.rel_data},
                        "direction": direction, "record": records.from_row(s, row)})
        if limit is not None and len(out) >= limit:
            break
    return out


def related_ids(s: "Session", record_id: str) -> Select:
    """A SELECT of the ids of the records related to ``record_id`` (either direction) that
    the actor may read — what :func:`related` lists, as SQL.

    For a condition such as ``activities.record_id IN (...)``: a list of ids in Python
    would bind one parameter per related record, and PostgreSQL takes at most 65,535 (a
    campaign with 70,000 targeted records could not show its timeline).
    """
    R = db.records
    ends = union_all(select(REL.c.target_id.label("id")).where(REL.c.source_id == record_id),
                     select(REL.c.source_id.label("id")).where(REL.c.target_id == record_id)).subquery()
    return select(R.c.id).where(R.c.id.in_(select(ends.c.id)),
                                s.actor.clause_any_type(list(s.entity_types_map()), "read"))
