"""How an import words a ``unique`` value that a row wants and another record holds.

A row creating a record and a row of ``--update-by`` changing one are refused alike, at
each field of the key: ``national_id "N1" is already used by record X`` — the value, and
who holds it: a line of this file (a record this import created), the record's id when
the user may read it, else "another record" (a record outside the user's scope does not
exist for them, so its id is never shown).
"""
from __future__ import annotations

import orjson
from sqlalchemy import select

from . import db
from .errors import Conflict, XrmError
from .fields import value_at
from .history import merge_patch
from .record_events import HookEdits, mark
from .records import find_by_values
from .validation import pointer


def clash_errors(key, values, used_by: str) -> list[dict]:
    """The errors of a row whose ``values`` of unique ``key`` are used by ``used_by`` (as
    :func:`holders` words it): one per field of the key, pointing at it."""
    shown = ", ".join(f"{f} {orjson.dumps(v).decode()}" for f, v in zip(key, values))
    return [{"pointer": pointer(f.split(".")), "message": f"{shown} is already used by {used_by}"} for f in key]


def holders(writer, others: set[str], lines: dict[str, int]) -> dict[str, str]:
    """Describe each record of ``others`` for a clash: a line of this file (``lines`` maps
    the ids written row by row in the current batch to theirs; a record this import created
    earlier is found by its ``created`` activity), else its id if the user may read it, else
    "another record". ``writer`` is the import's writer (session, type, file, start)."""
    out = {other: f"line {lines[other]} of this file" for other in others if other in lines}
    rest = sorted(others - out.keys())
    A, R = db.activities, db.records
    s = writer.s
    for start in range(0, len(rest), 500):
        chunk = rest[start:start + 500]
        created = {}
        for act in s.conn.execute(select(A.c.record_id, A.c.payload, A.c.at, A.c.actor).where(
                A.c.record_id.in_(chunk), A.c.kind == "created").order_by(A.c.id)):
            created.setdefault(act.record_id, act)
        visible = set(s.conn.execute(select(R.c.id).where(
            R.c.id.in_(chunk), writer.actor.clause(writer.et.name, "read"))).scalars())
        for other in chunk:
            act = created.get(other)
            imported = (act.payload or {}).get("import") if act is not None else None
            if (isinstance(imported, dict) and imported.get("file") == writer.source
                    and act.at >= writer.started and act.actor == writer.actor.name):
                out[other] = f"line {imported['line']} of this file"
            else:
                # A record outside the user's scope does not exist for them: do not name it.
                out[other] = f"record {other}" if other in visible else "another record"
    return out


def is_unique_clash(e: XrmError) -> bool:
    """Is ``e`` the refusal of a record's unique value used already, as
    :meth:`xrm_core.session.Session.unique_conflict` raises it ("already used" at each field)?"""
    return isinstance(e, Conflict) and bool(e.errors) and all(
        isinstance(x, dict) and x.get("message") == "already used" for x in e.errors)


def update_clash(writer, record_id: str, patch: dict, edits: HookEdits | None) -> list[dict] | None:
    """The errors of an ``--update-by`` row whose change of record ``record_id`` (the merge
    ``patch``) was refused because another record holds one of its unique values, worded
    as a new row's clash; None when no such record is found (the caller keeps the refusal
    as it came).

    ``edits`` is what the record's ``before_update`` hooks changed (None when they changed
    nothing): the data checked is then theirs, and a value a hook set says which plugin set
    it. The update was rolled back, so the record is read as stored.
    """
    s, et = writer.s, writer.et
    if edits:
        data = edits.record.data
    else:
        stored = s.conn.execute(select(db.records.c.data).where(db.records.c.id == record_id)).scalar_one()
        data = merge_patch(stored, patch)
    writer.before_lookup()
    for key in et.unique_keys():
        values = [value_at(data, f) for f in key]
        if any(v is None for v in values):
            continue
        other = next(iter(find_by_values(s, et, key, [tuple(values)]).values()), None)
        if other is None or other == record_id:
            continue
        errors = clash_errors(key, values, holders(writer, {other}, {})[other])
        mark(errors, edits)
        return errors
    return None
