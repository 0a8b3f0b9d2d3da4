"""Database engine and the core tables (SQLAlchemy Core, no ORM).

Records keep their attributes in one JSON column (``JSONB`` on PostgreSQL). Times are stored
as ISO-8601 UTC strings: identical on both engines, sortable as text, and what the JSON
contract shows anyway.
"""
from __future__ import annotations

import itertools
import math
import os
import re
import sqlite3
import time
from datetime import datetime, timezone
from decimal import Decimal

import orjson
from sqlalchemy import (
    JSON, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
    UniqueConstraint, create_engine, event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import TypeDecorator

from .errors import DatabaseBusy, PluginError, ValidationError, XrmError

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

class _JsonOrJsonb(TypeDecorator):
    """JSON, and JSONB on PostgreSQL (indexable expressions, GIN).

    Rather than ``JSON().with_variant(JSONB(), "postgresql")``: that imports SQLAlchemy's
    PostgreSQL dialect (and asyncio, ssl…) into every process, ~20 ms of each CLI command's
    start-up even on SQLite.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


#: JSON everywhere, JSONB on PostgreSQL.
Json = _JsonOrJsonb()
#: Definitions keep their key order (schema property order drives forms and CSV columns):
#: plain JSON on both engines, since JSONB normalises key order.
OrderedJson = JSON()
Stamp = String(32)  # ISO-8601 UTC, e.g. 2026-11-25T15:27:47.123456Z

units = Table(
    "xrm_units", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("label", Json),
    Column("parent_id", Integer, ForeignKey("xrm_units.id", ondelete="RESTRICT")),
    # Materialised path "/1/4/9/" so a subtree is one LIKE prefix query.
    Column("path", String(1000), nullable=False, index=True),
    Column("created_at", Stamp, nullable=False),
)

users = Table(
    "xrm_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("unit_id", Integer, ForeignKey("xrm_units.id", ondelete="RESTRICT"), nullable=False),
    Column("password_hash", String(255)),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Stamp, nullable=False),
    # The IANA zone (Asia/Tehran) the admin UI shows and reads the user's times in; NULL: the
    # browser's, else the server's default (migration 0007).
    Column("time_zone", String(64)),
)

roles = Table(
    "xrm_roles", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("label", Json),
    Column("source", String(100), nullable=False),  # plugin name or "admin"
)

user_roles = Table(
    "xrm_user_roles", metadata,
    Column("user_id", Integer, ForeignKey("xrm_users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("xrm_roles.id", ondelete="CASCADE"), primary_key=True),
)

grants = Table(
    "xrm_grants", metadata,
    Column("id", Integer, primary_key=True),
    Column("role_id", Integer, ForeignKey("xrm_roles.id", ondelete="CASCADE"), nullable=False),
    Column("entity_type", String(100), nullable=False),  # a type name or "*"
    Column("action", String(10), nullable=False),
    Column("depth", String(10), nullable=False),
    UniqueConstraint("role_id", "entity_type", "action"),
)

tokens = Table(
    "xrm_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("xrm_users.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the token: tokens are long random secrets, so a fast hash is safe and
    # lets every request look its token up by equality.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200)),
    Column("created_at", Stamp, nullable=False),
    Column("revoked_at", Stamp),
    Column("expires_at", Stamp),  # NULL: never expires (migration 0005)
)

entity_types = Table(
    "xrm_entity_types", metadata,
    Column("name", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("definition", OrderedJson, nullable=False),
    Column("source", String(100), nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

entity_type_versions = Table(
    "xrm_entity_type_versions", metadata,
    Column("name", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", OrderedJson, nullable=False),
    Column("source", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

relationship_types = Table(
    "xrm_relationship_types", metadata,
    Column("name", String(100), primary_key=True),
    Column("definition", OrderedJson, nullable=False),
    Column("source", String(100), nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

activity_kinds = Table(
    "xrm_activity_kinds", metadata,
    Column("name", String(100), primary_key=True),
    Column("definition", OrderedJson, nullable=False),
    Column("source", String(100), nullable=False),
)

kpi_definitions = Table(
    "xrm_kpis", metadata,
    Column("name", String(100), primary_key=True),
    Column("definition", OrderedJson, nullable=False),
    Column("source", String(100), nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

records = Table(
    "xrm_records", metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(100), ForeignKey("xrm_entity_types.name", ondelete="RESTRICT"), nullable=False),
    Column("data", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("owner_id", Integer, ForeignKey("xrm_users.id", ondelete="RESTRICT"), nullable=False),
    Column("unit_id", Integer, ForeignKey("xrm_units.id", ondelete="RESTRICT"), nullable=False),
    Column("created_by", Integer, nullable=False),
    Column("updated_by", Integer, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_xrm_records_type_id", "type", "id"),
    Index("ix_xrm_records_unit", "unit_id"),
    Index("ix_xrm_records_owner", "owner_id"),
)

relationships = Table(
    "xrm_relationships", metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(100), ForeignKey("xrm_relationship_types.name", ondelete="RESTRICT"), nullable=False),
    Column("source_id", String(32), ForeignKey("xrm_records.id", ondelete="RESTRICT"), nullable=False),
    Column("target_id", String(32), ForeignKey("xrm_records.id", ondelete="RESTRICT"), nullable=False),
    Column("data", Json),
    Column("created_by", Integer, nullable=False),
    Column("created_at", Stamp, nullable=False),
    UniqueConstraint("type", "source_id", "target_id"),
    # Ending in id: a record's links are read a page at a time in the order of (type, id)
    # (relationships.related), without sorting all of them (revision 0008).
    Index("ix_xrm_relationships_source", "source_id", "type", "id"),
    Index("ix_xrm_relationships_target", "target_id", "type", "id"),
)

activities = Table(
    "xrm_activities", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # No foreign key: the history of a deleted record outlives it.
    Column("record_id", String(32), nullable=False),
    Column("record_type", String(100), nullable=False),
    # Copied from the record when written, so history stays scoped after a delete.
    Column("unit_id", Integer, nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("kind", String(100), nullable=False),
    Column("at", Stamp, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("summary", Text),
    Column("payload", Json),
    # In the timeline's order (at, id): a page of a record's history is read, not sorted
    # from all of it (revision 0008).
    Index("ix_xrm_activities_record", "record_id", "at", "id"),
)

login_failures = Table(
    "xrm_login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of what a failure is counted for (the user name and the client's address):
    # what was typed as a user name (sometimes a password) is not kept, and any length fits
    # an index.
    Column("key", String(64), nullable=False),
    Column("at", Float, nullable=False),  # seconds since the epoch
    Index("ix_xrm_login_failures_key", "key", "at"),
    Index("ix_xrm_login_failures_at", "at"),
)


def utcnow() -> str:
    """Current UTC time as the ISO-8601 string every table stores."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: A float orjson writes with a positive exponent (it does from 1e16 on: ``1e+16``).
_POSITIVE_EXPONENT = re.compile(rb"[0-9]e\+")


def positional_floats(value):
    """``value`` with each float of 1e16 or more (in magnitude) given as JSON text without
    an exponent and with a fraction (``10000000000000000.0``), ready for ``orjson.dumps``.

    PostgreSQL's JSONB keeps a number, not its text, and prints it back without an
    exponent: ``1e+16`` came back as ``10000000000000000``, an integer — beyond signed 64
    bits from 2**63 on, which no update of the record would then store. Written with its
    fraction it comes back as the float it was, on both engines.
    """
    if type(value) is float:
        if math.isfinite(value) and abs(value) >= 1e16:
            return orjson.Fragment(f"{Decimal(repr(value)):f}.0")
        return value
    if isinstance(value, dict):
        return {k: positional_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [positional_floats(v) for v in value]
    return value


def json_bytes(value, option: int | None = None) -> bytes:
    """``orjson.dumps(value, option=option)`` as every JSON column stores it: floats that
    PostgreSQL would read back as integers written out (:func:`positional_floats`). Only
    text holding an exponent is serialised a second time."""
    text = orjson.dumps(value, option=option)
    # The substring test first: it costs a tenth of the pattern's search on the import's
    # hot path, and text holding "e+" at all is rare.
    if b"e+" in text and _POSITIVE_EXPONENT.search(text):
        text = orjson.dumps(positional_floats(value), option=option)
    return text


def _json_dumps(value) -> str:
    return json_bytes(value).decode()


#: Seconds to wait for a PostgreSQL server to answer a new connection (libpq's
#: ``connect_timeout``) unless the URL or ``PGCONNECT_TIMEOUT`` says otherwise.
PG_CONNECT_TIMEOUT = 5


#: Parameters per statement: SQLite before 3.32 allowed 999.
MAX_VARIABLES = 999


def insert_values(conn, sql: str, rows: list[tuple], array_sql: str | None = None) -> None:
    """Run the one-row INSERT ``sql`` (``… VALUES (?, …)``) for ``rows`` as multi-row
    ``VALUES (…), (…), …`` statements of about a hundred rows.

    Both engines start an INSERT's execution by opening every index of the table — SQLite
    once per execution, and executemany executes once per row (psycopg's too) — and
    ``xrm_records`` carries the partial indexes of every entity type (110 with the built-in
    plugins). That was most of an import's time: one statement per ~100 rows opens them once.
    Measured on SQLite with 110 partial indexes, 100k rows: 2.4 s → 0.21 s. On PostgreSQL,
    ``array_sql`` — the same INSERT as ``INSERT … SELECT … FROM unnest(%b::type[], …)``, one
    array parameter per column — runs once for all rows instead. JSON columns take JSON text.
    """
    if not rows:
        return
    if array_sql is not None and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(array_sql, tuple(list(column) for column in zip(*rows)))
        return
    head, _, one = " ".join(sql.split()).partition(" VALUES ")
    assert "?" in one, f"not a one-row INSERT … VALUES (?, …): {sql!r}"
    per = max(1, MAX_VARIABLES // one.count("?"))
    if conn.dialect.paramstyle != "qmark":  # psycopg: %s
        one = one.replace("?", "%s")
    full = f"{head} VALUES {', '.join([one] * per)}"
    flat = itertools.chain.from_iterable
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        conn.exec_driver_sql(full if len(chunk) == per else f"{head} VALUES {', '.join([one] * len(chunk))}",
                             tuple(flat(chunk)))


class GrowthStatistics:
    """Keeps PostgreSQL's planner statistics of a table current while one transaction grows it.

    A bulk write that also reads the table it writes (an import checking each batch against
    the rows before it) is planned from statistics taken before it began, or from none: with
    autovacuum unable to see uncommitted rows, PostgreSQL kept believing the table held a few
    rows and scanned all of them for every batch (100k links took minutes). Calling
    :meth:`wrote` after each batch runs ``ANALYZE`` on the table whenever the rows written have
    doubled since the last one — a few times per import, each a sample of at most 30k rows.
    ``ANALYZE`` counts the transaction's own uncommitted rows. SQLite needs none of this.

    ``ANALYZE`` holds its lock on the table until the transaction ends. That lock does not
    stop reads or writes, but it does stop another ``ANALYZE``: with ``SKIP_LOCKED``, a second
    import running at the same time skips its own instead of waiting for the first to commit.
    """

    def __init__(self, conn, table: str, first: int = 2000, reads: tuple[str, ...] = ()):
        self.conn, self.table = conn, table
        self.active = conn.dialect.name == "postgresql"
        self.written, self.next = 0, first
        if self.active and reads:
            self._analyze_if_never(reads)

    def _analyze_if_never(self, tables: tuple[str, ...]) -> None:
        # The tables the bulk write reads by key, if PostgreSQL has never analyzed them (a
        # database filled by one big import, autovacuum not round yet or off). On a connection
        # of its own, committed at once: their rows were written before, and the lock must not
        # last as long as the import.
        never = [name for name in tables if self.conn.exec_driver_sql(
            "SELECT reltuples < 0 FROM pg_class WHERE oid = to_regclass(%s)", (name,)).scalar()]
        if not never:
            return
        try:
            with self.conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
                for name in never:
                    own.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {name}")
        except DBAPIError:
            # Only an optimisation: a read replica ("cannot execute ANALYZE during recovery")
            # or a database that refuses it still answers the reads, planned as before.
            pass

    def wrote(self, n: int) -> None:
        self.written += n
        if self.active and self.written >= self.next:
            self.next = 2 * self.written
            # A role that does not own the table gets a warning from PostgreSQL, not an error.
            self.conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {self.table}")


def make_engine(url: str, **kwargs) -> Engine:
    """Create the engine for ``url`` with the platform's settings.

    SQLite gets WAL, a busy timeout and foreign keys on every connection; PostgreSQL a
    connection timeout (:data:`PG_CONNECT_TIMEOUT`); both engines (de)serialise JSON with
    orjson.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
    elif url.startswith("postgresql") and "connect_timeout=" not in url \
            and "PGCONNECT_TIMEOUT" not in os.environ:
        # libpq waits for an unanswered connection forever by default: a database host
        # behind a firewall that drops packets, or one that accepts and never answers, would
        # hang every command and worker. A URL's own ?connect_timeout=N (or PGCONNECT_TIMEOUT)
        # overrides this.
        kwargs.setdefault("connect_args", {"connect_timeout": PG_CONNECT_TIMEOUT})
    if url.startswith("postgresql") and "prepare_threshold=" in url:
        url, kwargs = _prepare_threshold(url, kwargs)
    if url.startswith("postgresql"):
        # Test a pooled connection before handing it out (one round trip): after the server
        # restarted, a failover or a DBA's pg_terminate_backend, every connection a long-
        # running `xrm serve` kept failed its next request with a 500, one request per
        # pooled connection, until the workers were restarted.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _sqlite_errors)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so a
        # transaction really starts (and SAVEPOINTs work).
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _prepare_threshold(url: str, kwargs: dict) -> tuple[str, dict]:
    """``url`` without its ``prepare_threshold`` parameter, and ``kwargs`` passing it to
    psycopg as the number it is (``none``: None, prepare no statement).

    psycopg prepares a statement on the server once it has run it that many times (5 by
    default); behind PgBouncer in transaction pooling (before 1.21, or without its
    ``max_prepared_statements``) the next transaction may get another server connection,
    where it does not exist. SQLAlchemy passed the URL's text on as it was, which psycopg
    then compared with a number, failing every query.
    """
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    raw = parsed.query["prepare_threshold"]
    raw = raw[-1] if isinstance(raw, tuple) else raw
    if raw.strip().lower() in ("none", ""):
        value = None
    elif raw.strip().isdigit():
        value = int(raw)
    else:
        raise ValidationError(f"{parsed.render_as_string(hide_password=True)}: prepare_threshold must be a "
                              f"whole number or none, not {raw!r}")
    kwargs = {**kwargs, "connect_args": {**kwargs.get("connect_args", {}), "prepare_threshold": value}}
    return parsed.difference_update_query(["prepare_threshold"]).render_as_string(hide_password=False), kwargs


def _sqlite_begin(conn):
    # A writer takes the write lock up front (BEGIN IMMEDIATE): two deferred transactions
    # that both later try to write would otherwise fail with "database is locked".
    write = conn.get_execution_options().get("xrm_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: Seconds an SQLite writer waits for another one's write lock (``PRAGMA busy_timeout``).
SQLITE_BUSY_SECONDS = 30


#: How every refusal of a busy database ends.
NOTHING_SAVED = "nothing was saved; try again"

#: SQLSTATEs of a transaction PostgreSQL gave up so that another could go on, and what
#: happened in words. The change itself was sound: only its timing was unlucky.
TRANSIENT_SQLSTATES = {
    "40P01": "a deadlock: each was waiting for what the other had locked",
    "40001": "a serialization failure",
    "55P03": "a lock it waited for too long",
}


def sqlstate(e) -> str | None:
    """The SQLSTATE of a driver error wrapped by SQLAlchemy (psycopg 3: ``sqlstate``;
    psycopg2: ``pgcode``), else None."""
    orig = getattr(e, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


class DatabaseUnavailable(DatabaseBusy):
    """The database server cannot be reached, or dropped the connection (restarted, a
    failover, ``pg_terminate_backend``): not the request's fault, and likely to pass
    (REST: 503 with ``Retry-After``, like :class:`DatabaseBusy`, which it is a kind of)."""

    title = "Database unavailable"
    retry_after = 5
    #: The driver's first line (``connection refused``…), for the server's log only.
    reason = ""


#: SQLSTATEs of a connection PostgreSQL dropped or refused: class 08 (connection exception)
#: and the server shutting down or starting up.
_LOST_SQLSTATES = ("57P01", "57P02", "57P03")


def _unreachable(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a PostgreSQL connection that was lost or could not be made."""
    if exc.connection_invalidated:  # SQLAlchemy saw the connection die under a statement
        return True
    state = sqlstate(exc)
    if state is not None:
        return state.startswith("08") or state in _LOST_SQLSTATES
    # psycopg's failure to connect at all (refused, timed out, unknown host) carries no
    # SQLSTATE, and no statement since none was sent. (sqlite3's errors have no sqlstate.)
    return (isinstance(exc, OperationalError) and exc.statement is None
            and hasattr(exc.orig, "sqlstate"))


def unavailable_error(exc: BaseException | None) -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` refusal ``exc`` amounts to, else None: a PostgreSQL
    server that refused or dropped the connection, or did not answer (``exc`` or what caused
    it). The web app answers it with a 503 and logs its ``reason`` (the server works again
    once the database does: the pool tests a connection before handing it out); the CLI
    names the URL and the driver's words instead."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DatabaseUnavailable):
            return exc
        if isinstance(exc, DBAPIError) and _unreachable(exc):
            text = str(exc.orig).strip()
            unavailable = DatabaseUnavailable("the database cannot be reached; try again shortly. A change sent "
                                              "as the connection was lost may or may not have been saved: "
                                              "check before sending it again")
            # The driver's words name the database's host and port: for the log, not for clients.
            unavailable.reason = text.splitlines()[0] if text else type(exc.orig).__name__
            return unavailable
        exc = exc.__cause__ or exc.__context__
    return None


def busy_error(exc: BaseException | None) -> DatabaseBusy | None:
    """The :class:`DatabaseBusy` refusal ``exc`` amounts to, else None.

    ``exc`` is a deadlock, serialization failure or lock timeout from PostgreSQL, or
    :class:`DatabaseBusy` itself — or was caused by one (a plugin's hook that met it is a
    PluginError; a statement run after it in the aborted transaction fails in its own words).
    A refusal of the platform or a plugin other than a PluginError keeps its own words.
    Errors are looked at where they reach the user (CLI, REST, UI), not where the driver
    raises them, so a plugin can still catch a deadlock of its own statement and refuse in
    its own words (``except DBAPIError``).
    """
    if isinstance(exc, XrmError) and not isinstance(exc, (DatabaseBusy, PluginError)):
        return None  # a refusal in words of its own (a plugin's Conflict "try again")
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DatabaseBusy):
            return exc
        why = TRANSIENT_SQLSTATES.get(sqlstate(exc)) if isinstance(exc, DBAPIError) else None
        if why:
            return DatabaseBusy(f"the database is busy: another change was being saved at the same time, "
                                f"and the database stopped this one ({why}); {NOTHING_SAVED}")
        exc = exc.__cause__ or exc.__context__
    return None


def _sqlite_errors(context):
    """SQLite errors users can act on, in words (SQLAlchemy's ``handle_error`` event:
    the exception returned replaces the one raised)."""
    message = str(context.original_exception)
    if "database is locked" in message:
        # A REST client gets 503 (try again later), not "the server failed".
        return DatabaseBusy(f"the database is busy: another process has held its write lock for "
                            f"{SQLITE_BUSY_SECONDS} s (a long import?); {NOTHING_SAVED}")
    if "no such savepoint" in message:
        return _sqlite_lost_savepoint(context)
    return None


def _sqlite_lost_savepoint(context):
    """Report why SQLite dropped a savepoint instead of "no such savepoint".

    On some errors (a full disk, an I/O error) SQLite rolls the whole transaction back by
    itself; leaving the ``begin_nested()`` block that saw the error then fails to roll back
    to its savepoint, and that second error would hide the first. Raise the first instead.
    """
    cause, seen = context.original_exception.__context__, set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DatabaseBusy) or (
                isinstance(cause, DBAPIError) and "no such savepoint" not in str(cause.orig)):
            return cause
        cause = cause.__context__
    return None


def _sqlite_pragmas(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    _use_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # lower() of every script for searches (SQLite's own lower() and LIKE fold ASCII only).
    dbapi_conn.create_function("xrm_lower", 1, _lower, deterministic=True)


def _use_wal(cur):
    """Switch the database to WAL (kept in the file: a no-op once done).

    Switching a new database escalates a read lock to an exclusive one, and SQLite answers
    "database is locked" at once, without its busy timeout, when another connection is doing
    the same (two `xrm init` deploying one release): try again for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _lower(value):
    return value.lower() if isinstance(value, str) else value
