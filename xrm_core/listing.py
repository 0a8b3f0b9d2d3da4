"""Lists of records: the filtered, scoped, sorted and paged SELECT, prepared once per shape.

A list page is the platform's most frequent read, and its database work is small (an
indexed range of one type, 50 rows), so building and compiling a SQLAlchemy statement per
call used to cost several times the query itself. The statement depends only on the
request's *shape*: the entity type and its version, the filter's fields, operators and value
types, the sort, the cursor's shape, the actor's scope depth and the limit. Its SQL is
compiled once per shape with named parameters and then run on the DB-API cursor of the
session's connection with this call's values — the same transaction, the same SQL the
statement would have produced, no per-call compilation or result processing.

Records come back with ``data`` still as the stored JSON text on SQLite; it is decoded on
first access (:class:`xrm_core.records.Record`), so a caller that only needs ids or passes
the JSON on does not pay for it.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, func, literal_column, or_, select
from sqlalchemy.exc import DBAPIError

from . import db
from .errors import PermissionDenied, ValidationError
from .fields import FIELD_RE, field_expr, sql_type, type_literal
from .filters import coerce, filter_terms, order_by, term_clause, term_values
from .instants import DATE_TIME_RE, INSTANT, Day
from .records import COLUMNS, Record, _from_rows

if TYPE_CHECKING:
    from .session import Session

R = db.records

#: Prepared statements kept per shape; old shapes are dropped first (a shape is a few
#: hundred bytes of SQL, and real applications use a few dozen).
CACHE_SIZE = 512
_plans: OrderedDict = OrderedDict()


class _Plan:
    """The SQL of one shape, its parameter names in the driver's order and its fixed values."""

    __slots__ = ("sql", "positional", "names", "fixed")

    def __init__(self, sql: str, positional: tuple | None, names: list[str], fixed: dict):
        self.sql, self.positional, self.names, self.fixed = sql, positional, names, fixed

    def params(self, values: list):
        """Driver parameters for ``values`` (in the order the shape's names were bound)."""
        bound = dict(self.fixed)
        bound.update(zip(self.names, values))
        if self.positional is not None:
            return tuple(bound[n] for n in self.positional)
        return bound


def list_records(s: "Session", type_name: str, where: dict | None = None, limit: int = 100,
                 sort: list[str] | None = None, after: tuple | None = None,
                 search: str | None = None) -> list[Record]:
    """Up to ``limit`` records of a type matching filter ``where``, scoped, ordered by ``sort``.

    ``after`` is the keyset cursor: the sort values and id of the last row already seen.
    ``search`` keeps the records whose title field contains that text, in any case (of
    every script that has case, on both engines): what a person types in a search box,
    beside the filter language. PermissionDenied if the caller holds no read grant on the
    type at all; ValidationError (with a JSON pointer) for a bad filter, sort or cursor,
    before any SQL runs.
    """
    sql, params = list_query(s, type_name, where, limit, sort, after, search)
    return _from_rows(s, _run(s, sql, params))


def list_query(s: "Session", type_name: str, where: dict | None = None, limit: int = 100,
               sort: list[str] | None = None, after: tuple | None = None,
               search: str | None = None) -> tuple[str, object]:
    """The SQL text and driver parameters :func:`list_records` runs (for EXPLAIN and tests)."""
    et = s.entity_type(type_name)
    actor = s.actor
    if not actor.can(et.name, "read"):
        raise PermissionDenied(f"{actor.name!r} may not read {et.name} records")
    dialect = s.dialect
    terms = filter_terms(dialect, et, where) if where else []
    sort = list(sort or ())
    if not all(isinstance(x, str) for x in sort):
        order_by(dialect, et, sort)  # raises the ValidationError (pointer /sort/I)
    depth, scope_values = actor.clause_values(et.name, "read")
    limit = max(0, int(limit))
    if after is not None:
        if not isinstance(after, (list, tuple)) or len(after) != len(sort) + 1:
            order_by(dialect, et, sort)  # a bad sort field is the first error to report
            raise ValidationError(f"the cursor needs {len(sort) + 1} value(s): the sort values and the id",
                                  [{"pointer": "/cursor", "message": "wrong number of values"}])
        after = _cursor_values(dialect, et, sort, tuple(after))
    if search is not None and not et.title_field:
        raise ValidationError(f"{et.name} has no title field to search", [{"pointer": "/search", "message": "no title_field"}])
    if search is not None and "\x00" in search:
        raise ValidationError("the search text holds a NUL character", [{"pointer": "/search", "message": "NUL"}])
    # Everything the SQL text depends on. Field types are part of it: two databases may hold
    # different definitions of the same type name and version.
    key = (s.conn.dialect.name, s.conn.dialect.paramstyle, et.name, et.version, depth, limit,
           tuple(sql_type(et, f) if FIELD_RE.match(f) and et.has_field(f) else None
                 for f in (x[1:] if x.startswith("-") else x for x in sort)),
           tuple(sort), tuple((f, jt, op, v if op == "exists" else _kind(v)) for f, jt, op, v in terms),
           None if after is None else tuple(_kind(v) for v in after), _search_mode(dialect, search))
    if key[-1] == "fold":
        search = search.lower()
    values = scope_values + term_values(terms) + ([_contains(search)] if search is not None else []) \
        + ([v for v in after if v is not None] if after else [])
    plan = _plans.get(key)
    if plan is None:
        plan = _prepare(s, et, terms, sort, after, limit, key[-1])
        _plans[key] = plan
        if len(_plans) > CACHE_SIZE:
            _plans.popitem(last=False)
    return plan.sql, plan.params(values)


def count_up_to(s: "Session", type_name: str, where: dict | None = None, cap: int = 10_000,
                search: str | None = None) -> int:
    """How many records :func:`list_records` lists for ``where`` and ``search`` over all its
    pages, counted up to ``cap + 1`` and no further: ``cap + 1`` means "more than ``cap``".

    For deciding whether a slow operation (a sort by a field without an index) is small
    enough to answer: knowing "more than 10,000" reads at most 10,001 of the type's index
    entries, where ``COUNT(*)`` would read all of them. Scope, filter and search as the list
    applies them, and refused as the list refuses them.
    """
    et = s.entity_type(type_name)
    if not s.actor.can(et.name, "read"):
        raise PermissionDenied(f"{s.actor.name!r} may not read {et.name} records")
    dialect = s.dialect
    conds = [R.c.type == type_literal(et.name), s.actor.clause(et.name, "read")]
    conds += [term_clause(dialect, t) for t in (filter_terms(dialect, et, where) if where else [])]
    if search is not None:
        if not et.title_field:
            raise ValidationError(f"{et.name} has no title field to search",
                                  [{"pointer": "/search", "message": "no title_field"}])
        if "\x00" in search:
            raise ValidationError("the search text holds a NUL character", [{"pointer": "/search", "message": "NUL"}])
        title = field_expr(dialect, et.title_field, None)
        mode = _search_mode(dialect, search)
        if dialect == "postgresql":
            conds.append(title.ilike(_contains(search), escape="\\"))
        elif mode == "fold":
            conds.append(func.xrm_lower(title).like(_contains(search.lower()), escape="\\"))
        else:
            conds.append(title.like(_contains(search), escape="\\"))
    capped = select(R.c.id).where(and_(*conds)).limit(max(0, int(cap)) + 1).subquery()
    return s.conn.execute(select(func.count()).select_from(capped)).scalar_one()


def _cursor_values(dialect: str, et, sort: list[str], after: tuple) -> tuple:
    """The keyset cursor with each value coerced to its sort field's type, as filter values
    are (``"5"`` for an integer field is 5), and the id checked: a value of another type
    failed on PostgreSQL (``operator does not exist: numeric > character varying``) where
    SQLite compared it by its storage class — a ValidationError now, before any SQL.

    A date-time sort field's value is the stored text, compared as its instant; a stored
    text of the date-time form that names no instant (the year 0000) sorts as no value does,
    last, and stands for that in the cursor."""
    out = []
    for i, (item, value) in enumerate(zip(sort, after)):
        name = item[1:] if item.startswith("-") else item
        try:
            jt = sql_type(et, name) if FIELD_RE.match(name) and et.has_field(name) else None
            if jt == INSTANT and isinstance(value, str) and DATE_TIME_RE.fullmatch(value):
                try:
                    out.append(coerce(value, jt, f"/cursor/{i}", dialect))
                except ValidationError:
                    out.append(None)
                continue
            out.append(coerce(value, jt, f"/cursor/{i}", dialect))
            if isinstance(out[-1], Day):
                raise ValidationError("a date-time field's cursor value is a date-time",
                                      [{"pointer": f"/cursor/{i}", "message": "a date, not a date-time"}])
        except ValidationError as e:
            order_by(dialect, et, sort)  # a bad sort field is the first error to report
            raise ValidationError(f"invalid cursor: {e.errors[0]['message']}", e.errors) from None
    if not isinstance(after[-1], str):
        raise ValidationError("the cursor's last value is a record id",
                              [{"pointer": f"/cursor/{len(sort)}", "message": "not a record id"}])
    return (*out, after[-1])


def _kind(value):
    """What of a bound value shapes the SQL: its type (PostgreSQL casts by it; None is no
    parameter but IS NULL), a list's length. ``exists`` terms are keyed by their value.
    An int is keyed by its size too: SQLAlchemy casts a bound int as INTEGER or BIGINT by
    its value, and a plan compiled for 5 (::INTEGER) failed for 3000000001."""
    if isinstance(value, list):
        return tuple(_kind(v) for v in value)
    if type(value) is int:
        return int, -2**31 <= value < 2**31
    return type(value)


def _search_mode(dialect: str, search: str | None) -> str | None:
    """How a search compares: None (no search), ``like`` or, on SQLite for text beyond ASCII,
    ``fold``. SQLite's LIKE ignores the case of ASCII letters only ("é" would not find
    "École"); PostgreSQL's ILIKE folds every letter. Lowering both sides in Python costs a
    call per row, so SQLite pays it only when the text needs it."""
    if search is None:
        return None
    return "fold" if dialect == "sqlite" and not search.isascii() else "like"


def _contains(text: str) -> str:
    """The LIKE pattern of a search: the text anywhere, its own % _ \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _prepare(s: "Session", et, terms, sort, after, limit, search: str | None = None) -> _Plan:
    """Build and compile the statement of one shape, binding values by name in call order."""
    names: list[str] = []

    def bind(value):
        name = f"p{len(names)}"
        names.append(name)
        return bindparam(name, value)

    dialect = s.dialect
    conds = [R.c.type == type_literal(et.name), s.actor.clause(et.name, "read", bind=bind)]
    conds += [term_clause(dialect, t, bind=bind) for t in terms]
    if search:
        title = field_expr(dialect, et.title_field, None)
        if dialect == "postgresql":
            conds.append(title.ilike(bind(None), escape="\\"))
        elif search == "fold":  # the pattern is lowered already (list_query)
            conds.append(func.xrm_lower(title).like(bind(None), escape="\\"))
        else:
            conds.append(title.like(bind(None), escape="\\"))
    keys, order = order_by(dialect, et, sort)
    if after is not None:
        conds.append(_after(keys, after, bind))
    # The limit is part of the shape and written into the SQL: as a parameter, PostgreSQL
    # planned the first page of 1M records at twice the time (340 vs 168 µs, measured).
    q = select(*COLUMNS).where(and_(*conds)).order_by(*order).limit(literal_column(str(int(limit))))
    compiled = q.compile(dialect=s.conn.dialect)
    fixed = {k: v for k, v in compiled.construct_params().items() if k not in names}
    positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return _Plan(compiled.string, positional, names, fixed)


def _after(keys, after, bind):
    """Keyset condition: rows strictly after ``after`` in the order of ``keys`` [(expr, desc)]."""
    # Sort fields order NULLs (absent values) last on both engines (see filters.order_by).
    # Values are bound in the order of ``after`` (None is not bound), as list_query lists them.
    bound = [None if v is None else bind(v) for v in after]
    ors = []
    for i, (expr, desc) in enumerate(keys):
        eqs = [k.is_(None) if v is None else k == b for (k, _), v, b in zip(keys[:i], after[:i], bound[:i])]
        if after[i] is None:
            continue  # nothing sorts after a NULL but other NULLs, decided by the next key
        beyond = expr < bound[i] if desc else expr > bound[i]
        last = i == len(keys) - 1  # the id: never NULL
        ors.append(and_(*eqs, beyond if last else or_(beyond, expr.is_(None))))
    return or_(*ors)


def _run(s: "Session", sql: str, params):
    """Rows of ``sql`` on the session's connection (its transaction), via the DB-API cursor."""
    conn = s.conn
    dbapi_conn = conn.connection.dbapi_connection
    cur = dbapi_conn.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    except conn.dialect.loaded_dbapi.Error as e:
        # The same error SQLAlchemy would raise had it run the statement.
        raise DBAPIError.instance(sql, params, e, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from e
    finally:
        cur.close()

