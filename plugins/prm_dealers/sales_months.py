"""One all-model sales target, and one all-model sales report, per dealer and month.

``sales_target`` and ``sales_report`` declare ``unique: [["dealer_code", "month", "model"]]``
with ``model`` optional: a record without ``model`` is about all models. The database
compares a key only when it is complete (as SQL does), so it would take any number of
all-model records for one dealer and month — and ``sales_vs_target`` would add them all up.
This module refuses the second one, on create (also in an import or ``create_many``) and on
an update that moves a record onto the key (removing ``model``, changing ``dealer_code`` or
``month``), with a :class:`xrm_core.Conflict` naming the record already there.

How: the check runs in the ``after_create``/``after_update`` hook, when the record is stored,
by looking for another stored all-model record of the same type, dealer and month.

- An import stores a whole batch before its ``after_create`` hooks run, so two rows of one
  file would each find the other. Records whose ``after_create`` has not run yet in this
  transaction ("pending", noted by ``before_create``) are not counted: the earlier row
  passes, the later one finds it and is refused (and the import names its line).
- Two transactions at once: on PostgreSQL each takes a transaction-level advisory lock on
  the bucket of (type, dealer, month) before looking, so the second waits until the first
  commits or rolls back, and then (READ COMMITTED: every statement sees what is committed)
  finds its record. A batch (an import's) takes its buckets in one statement, in ascending
  order; two transactions writing several keys one at a time, in opposite orders, can still
  deadlock: PostgreSQL then gives up one of them, which is refused with a :class:`Conflict`
  that says nothing was stored and to try again (never a crash), so the rule holds. SQLite needs no
  lock: the platform begins every write transaction with ``BEGIN IMMEDIATE``, one writer at
  a time.
- A lock per bucket (:data:`BUCKETS` of them), not per key: every advisory lock takes a slot
  of PostgreSQL's shared lock table, which all databases of the server share (about
  ``max_locks_per_transaction`` × ``max_connections``: 6,400 by default, plus spare shared
  memory). An import of about 12,000 dealer months (a file any user with a create grant can
  upload in the admin UI) held a lock per key: it failed "out of shared memory", and while it
  held them other transactions' locks failed too. Two writers of different keys in one
  bucket merely wait for each other.
- Records stored before this check may hold duplicates: they stay as they are (``xrm init``
  changes no data), an update that leaves their key alone is not refused, and the way out
  is to delete one or give it a ``model``.
"""
from __future__ import annotations

import json
import weakref
import zlib

from xrm_core import Conflict, NotFound

#: The types kept unique per dealer and month when ``model`` is absent.
TYPES = ("sales_target", "sales_report")
#: What makes a record all-model: no ``model``.
MODEL = "model"
#: Records with one key listed at most: more than an import batch (2,000 rows) can hold
#: pending. Fixed, so that the list query's plan is cached once.
LISTED = 10_000
#: The pointers of an update that can move a record onto another dealer and month key.
KEY_POINTERS = ("/dealer_code", "/month", "/" + MODEL)

#: per open connection (one transaction): ``{(type, dealer, month): ids}`` of the records
#: whose ``before_create`` hooks ran but whose ``after_create`` hooks have not (a batch of an
#: import), ids of the all-model records this transaction stored and checked, and the
#: buckets locked (PostgreSQL). Nothing in it may refer to the connection: it would never be freed.
_state: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: per caller's session: the ``system`` session that looks for the records (as_system()
#: reads the admin user: once, not once per row of an import)
_systems: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def before_create(record, session) -> None:
    if _all_models(record.data):
        _of(session)["pending"].setdefault(_key(record), set()).add(record.id)


def after_create(record, session) -> None:
    if _all_models(record.data):
        state = _of(session)
        key, pending = _key(record), state["pending"]
        pending.get(key, set()).discard(record.id)
        if not pending.get(key, True):
            del pending[key]
        _refuse_a_second(record, session, state)


def after_update(record, changes, session) -> None:
    # A record whose key did not change is not checked: duplicates stored before this rule
    # existed can still be corrected field by field.
    if _all_models(record.data) and any(p in changes for p in KEY_POINTERS):
        _refuse_a_second(record, session, _of(session))


def _key(record) -> tuple:
    return record.type, record.data["dealer_code"], record.data["month"]


def _all_models(data) -> bool:
    return (MODEL not in data and isinstance(data.get("dealer_code"), str)
            and isinstance(data.get("month"), str))


def _refuse_a_second(record, session, state) -> None:
    """Raise Conflict if another stored all-model record of the type has the same dealer and
    month (leaving out those still pending in this transaction)."""
    code, month = record.data["dealer_code"], record.data["month"]
    _serialise(session, state, (record.type, code, month))
    where = {"dealer_code": code, "month": month, MODEL: {"exists": False}}
    waiting = state["pending"].get((record.type, code, month), ())
    # Listed, not counted: a pending id may belong to a row that was never stored (refused
    # after its before_create hooks), which must not hide a record that is.
    found = _system(session).list(record.type, where, limit=LISTED)
    other = next((r.id for r in found if r.id != record.id and r.id not in waiting), None)
    if other is None:
        state["checked"].add(record.id)
        return
    raise _clash(record, session, other, state["checked"])


def _clash(record, session, other: str, checked: set) -> Conflict:
    code, month, kind = record.data["dealer_code"], record.data["month"], record.type
    try:
        session.get(other)
    except NotFound:
        # A record outside the user's scope does not exist for them: do not name it.
        holder, extra = "another record", {}
    else:
        holder, extra = f"record {other}", {"existing": other}
        if other in checked:
            # Not stored yet: a refused import or transaction leaves no such record behind.
            holder = f"an earlier row of this import or transaction ({holder})"
    # Worded as the core words a clash of a unique key (xrm_core.import_clashes).
    used = f"dealer_code {json.dumps(code)}, month {json.dumps(month)}, no model is already used by {holder}"
    return Conflict(f"an all-model {kind} for dealer {code} and month {month} already exists ({holder}): "
                    f"one per dealer and month; give this one a model, or change that one",
                    [{"pointer": "/data/dealer_code", "message": used}, {"pointer": "/data/month", "message": used}],
                    **extra)


#: Buckets the (type, dealer, month) keys are locked by: at most this many advisory locks a
#: transaction, however many keys it writes.
BUCKETS = 64
#: First key of the two-key advisory locks ("xrmS" in ASCII); the second is the bucket, mixed
#: with the schema's hash so that databases in several schemas of one server do not share
#: buckets (two-key locks never conflict with xrm_core.migrations' or one-key locks).
LOCK_SPACE = int.from_bytes(b"xrmS", "big")
#: Text, made a statement where it runs: importing SQLAlchemy here would load it for every
#: ``xrm`` command, ``--help`` included (about 0.2 s), as the plugin is loaded at start-up.
_LOCK = ("SELECT pg_advisory_xact_lock(CAST(:space AS integer), hashtext(current_schema()) # b) "
         "FROM unnest(CAST(:buckets AS integer[])) AS b")


def bucket(key: tuple) -> int:
    """The lock bucket of a (type, dealer, month) ``key``: the same in every process (CRC-32,
    not Python's salted ``hash``). Its parts may be any text an unchecked row holds."""
    return zlib.crc32("\0".join(key).encode("utf-8", "surrogatepass")) % BUCKETS


def _serialise(session, state, key: tuple) -> None:
    """On PostgreSQL, wait for any other transaction checking a key of the same bucket as
    the (type, dealer, month) ``key``: a lock held until this transaction ends. The buckets
    of the rows still pending (an import's batch) are locked with it, in one statement and in
    one order (ascending), so two imports of overlapping files take them in the same order.
    (When ``key``'s bucket is locked already, the batch's next row of an unlocked bucket
    locks the rest, the same way.)"""
    if session.dialect != "postgresql" or bucket(key) in state["locked"]:
        return
    wanted = {bucket(k) for k in {key} | state["pending"].keys()} - state["locked"]
    _lock(session, key, sorted(wanted))
    state["locked"].update(wanted)


def _lock(session, key: tuple, buckets: list[int]) -> None:
    """Take the advisory locks of ``buckets`` in their order; a deadlock or serialization
    failure is a :class:`Conflict` to try again (for ``key``, the record being checked)."""
    # unnest returns the array in its order: the locks are taken in that order.
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        # In a savepoint: PostgreSQL aborts a transaction whose statement failed, and the
        # caller must still be able to go on after the refusal (an import deletes the refused
        # row and reports it). Locks taken in a rolled-back savepoint are released with it.
        with session.conn.begin_nested():
            session.conn.execute(text(_LOCK), {"space": LOCK_SPACE, "buckets": buckets})
    except DBAPIError as e:
        if _sqlstate(e) not in RETRYABLE:
            raise
        raise _try_again(key) from e


#: SQLSTATEs of a transaction PostgreSQL gave up so that another could go on: deadlock
#: detected, serialization failure. The change is sound; only its timing was unlucky.
RETRYABLE = ("40P01", "40001")


def _sqlstate(e) -> str | None:
    """The SQLSTATE of a driver error (psycopg 3: ``sqlstate``; psycopg2: ``pgcode``).

    The core's ``xrm_core.db.sqlstate`` does the same, but plugins import only the public
    names of ``xrm_core`` (tests/test_contract.py), and this is three lines."""
    orig = getattr(e, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _try_again(key: tuple) -> Conflict:
    """The refusal of a change that met another transaction writing the same dealer months
    in another order (a deadlock PostgreSQL broke by giving up this one): nothing was stored."""
    kind, code, month = key
    why = "another change to sales targets or reports was being saved at the same time"
    return Conflict(f"the {kind} for dealer {code} and month {month} was not saved: {why}, and the "
                    "database stopped this change to let the other finish: try again",
                    [{"pointer": "/data/dealer_code", "message": f"{why}: try again"}])


def _system(session):
    system = _systems.get(session)
    if system is None:
        system = _systems[session] = session.as_system()
    return system


def _of(session) -> dict:
    return _state.setdefault(session.conn, {"pending": {}, "checked": set(), "locked": set()})
