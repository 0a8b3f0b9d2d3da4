"""What a REST request asks, read from its query parameters and conditional headers.

Every reader is strict: a parameter given twice, one the endpoint does not take, a filter
that cannot be read, a cursor of another listing, a malformed ETag — each is a 400 whose
pointer names what was sent (``/query/filter[F][op]``, ``/headers/If-Match``), never a
guess at what the client meant.
"""
from __future__ import annotations

import base64
import re
from datetime import date

import orjson
from flask import current_app, request

from ..errors import ValidationError, XrmError
from ..fields import FIELD_RE, NUMERIC
from ..filters import INTEGER_RE, JSON_SPACE, read_number
from ..kpis import DATE_RE


class BadRequest(XrmError):
    """A request the API cannot read (malformed JSON, headers, parameters): a 400."""

    status = 400
    title = "Bad request"


def single(args, key: str, default=None):
    """The value of query parameter ``key``, given at most once.

    Werkzeug's ``args.get`` returns the first of repeated values and drops the rest; a
    client that repeats a parameter meant something by it, so that is a 400, not a guess.
    An empty value (``?sort=``, ``?cursor=``) is a 400 too: no parameter of the API takes the
    empty text as a value, and taking it for "absent" (the first page, the default order)
    answered another question than one asked by a client that meant to send a value.
    """
    values = args.getlist(key)
    if len(values) > 1:
        raise ValidationError(f"query parameter {key!r} is given {len(values)} times; give it once",
                              [{"pointer": f"/query/{key}", "message": "repeated"}])
    if values and values[0] == "":
        raise ValidationError(f"query parameter {key!r} is empty: give it a value, or leave it out for its default",
                              [{"pointer": f"/query/{key}", "message": "empty"}])
    return values[0] if values else default


#: The most fields one ``sort`` may name. A cursor's keyset condition grows with the square
#: of their number and the database's work on it faster still: 200 fields kept a worker
#: busy for 20 s on one request, 2,000 for hours; no listing needs more than a handful.
MAX_SORT_FIELDS = 16


def sort_fields(args) -> list[str]:
    """The ``sort`` query parameter as a list of fields (``-`` prefix kept); none when absent.

    A field named twice (``prio,-prio``: the second can never decide an order), more than
    :data:`MAX_SORT_FIELDS` fields and an empty item (``sort=,``, ``name,``, ``-``) are 400s
    at ``/query/sort``: an empty item names no field, and dropping it answered in another
    order than the one the client meant to ask for."""
    given = single(args, "sort")
    if given is None:
        return []
    fields = comma_list(given, "sort", "field")
    if len(fields) > MAX_SORT_FIELDS:
        raise ValidationError(f"invalid sort: {len(fields)} fields; sort by at most {MAX_SORT_FIELDS}",
                              [{"pointer": "/query/sort", "message": f"more than {MAX_SORT_FIELDS} fields"}])
    seen = set()
    for i, f in enumerate(fields):
        name = f[1:] if f.startswith("-") else f
        if not name:
            raise ValidationError(f"invalid sort: item {i + 1} is a - alone; name a field after it",
                                  [{"pointer": "/query/sort", "message": f"item {i + 1} names no field"}])
        if name in seen:
            raise ValidationError(f"invalid sort: {name!r} is named twice; name each field once",
                                  [{"pointer": "/query/sort", "message": f"{name} repeated"}])
        seen.add(name)
    return fields


def comma_list(text: str, key: str, what: str) -> list[str]:
    """The items of a comma-separated query parameter ``key`` (``sort``, ``filter[F][in]``).

    At least one item, and no empty one (``A,,B``, ``A,``): an empty item was dropped, so
    ``filter[F][in]=`` matched no record at all and ``sort=,`` sorted by nothing, while every
    other parameter refuses what it cannot read. The empty text is no ``in`` value: it is
    found with ``filter[F]=``.
    """
    if text == "":
        raise ValidationError(f"query parameter {key!r} is empty: it needs at least one {what}",
                              [{"pointer": f"/query/{key}", "message": f"needs at least one {what}"}])
    items = text.split(",")
    empty = [i + 1 for i, item in enumerate(items) if item == ""]
    if empty:
        raise ValidationError(f"query parameter {key!r} has an empty item (number {empty[0]} of {len(items)}): "
                              f"separate {what}s with single commas, with none before the first or after the last",
                              [{"pointer": f"/query/{key}", "message": f"item {empty[0]} is empty"}])
    return items


#: The most values one ``filter[F][in]`` may list. Each is a bound parameter: 10,000 took
#: 2 s to compile and run, and past 65,535 PostgreSQL's protocol refuses the statement (a 500).
MAX_IN_VALUES = 1000


def parse_filters(args) -> dict:
    """``filter[F]=V`` and ``filter[F][op]=V`` query parameters as a filter dict.

    Anything named ``filter`` that is not one of these, a repeated filter, and two
    parameters setting the same condition (``filter[F]`` and ``filter[F][eq]``) are 400s:
    dropping one would silently answer a different question than the one asked.
    """
    out: dict = {}
    for key in args:
        if key != "filter" and not key.startswith("filter["):
            continue
        inner = key[len("filter["):]  # "F]" or "F][op]"; empty for a bare "filter"
        parts = inner[:-1].split("][")
        if not inner.endswith("]") or len(parts) > 2 or "" in parts:
            raise ValidationError(f"cannot read query parameter {key!r}: use filter[F]=V or filter[F][op]=V",
                                  [{"pointer": f"/query/{key}", "message": "use filter[F]=V or filter[F][op]=V"}])
        field, op = parts[0], (parts[1] if len(parts) == 2 else "eq")
        values = args.getlist(key)
        if len(values) > 1:
            raise ValidationError(
                f"query parameter {key!r} is given {len(values)} times: give each filter once "
                f"(for any of several values use filter[{field}][in]=A,B)",
                [{"pointer": f"/query/{key}", "message": "repeated"}])
        cond = out.setdefault(field, {})
        if op in cond:
            raise ValidationError(f"two query parameters set the {op} condition of {field!r}",
                                  [{"pointer": f"/query/{key}", "message": f"{field} {op} is already set"}])
        value = values[0]
        if op == "in":
            value = comma_list(value, key, "value")
            if len(value) > MAX_IN_VALUES:
                raise ValidationError(
                    f"query parameter {key!r} lists {len(value)} values; a filter takes at most {MAX_IN_VALUES}",
                    [{"pointer": f"/query/{key}", "message": f"more than {MAX_IN_VALUES} values"}])
        elif op == "exists":
            if value not in ("true", "false"):
                raise ValidationError("exists takes true or false",
                                      [{"pointer": f"/query/{key}", "message": "not true/false"}])
            value = value == "true"
        cond[op] = value
    return out


INT64 = range(-2**63, 2**63)
DIGITS = re.compile(r"-?[0-9]+")


def cursor_encode(sort: list[str], values) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([",".join(sort), *values])).decode().rstrip("=")


def cursor_values(cursor: str, bad: ValidationError):
    """The JSON document a cursor of :func:`cursor_encode` holds; ``bad`` if it holds none."""
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise bad from None


#: A cursor that is not one of this listing's (client input): one error for every way.
BAD_CURSOR = [{"pointer": "/query/cursor", "message": "not a cursor of this listing"}]


def cursor_decode(cursor: str, sort: list[str]) -> tuple:
    """The keyset values of ``cursor``, checked for shape: it must come from a listing with
    the same ``sort`` and end with a record id. Each value is converted to its sort field's
    type by the core (``Session.list``), whose refusal :func:`cursor_error` words as this."""
    bad = ValidationError("invalid cursor", BAD_CURSOR)
    values = cursor_values(cursor, bad)
    if not isinstance(values, list) or len(values) != len(sort) + 2 or values[0] != ",".join(sort) \
            or not isinstance(values[-1], str) or "\x00" in values[-1]:
        raise bad  # (no record id holds a NUL, and PostgreSQL takes none in a parameter)
    if any(isinstance(v, (dict, list)) or (isinstance(v, int) and not isinstance(v, bool) and v not in INT64)
           for v in values[1:-1]):
        raise bad
    return tuple(values[1:])


def cursor_error(e: ValidationError) -> ValidationError:
    """The core's refusal of a cursor value (pointer ``/cursor/I``) as the API's: the
    ``cursor`` parameter is not one of this listing. Other errors are returned as they are."""
    if e.errors and all(str(err.get("pointer", "")).startswith("/cursor") for err in e.errors):
        return ValidationError("invalid cursor", BAD_CURSOR)
    return e


def _int64(text: str) -> int | None:
    """The integer written ``text`` (an :data:`INTEGER_RE` match: JSON's spelling), or None
    when it lies beyond 64 bits (:func:`xrm_core.filters.read_number` counts the digits
    before ``int()``, which refuses 4,300 or more: ``filter[age]=`` and 5,000 ones was a 500)."""
    number = read_number(text)
    return number if isinstance(number, int) and number in INT64 else None


def check_numbers(et, where: dict) -> None:
    """Refuse integers no database column holds (beyond 64 bits) in numeric filters."""
    for field, cond in where.items():
        if FIELD_RE.match(field) and et.has_field(field) and et.field_type(field) in NUMERIC:
            for op, value in cond.items():
                values = value if isinstance(value, list) else [value]
                if any(isinstance(v, str) and INTEGER_RE.fullmatch(v) and _int64(v) is None
                       for v in values):
                    # /where/F/op, as the core's filter errors: query_error names the parameter sent
                    raise ValidationError(f"filter value out of range for {field}",
                                          [{"pointer": f"/where/{field}/{op}", "message": "integer beyond 64 bits"}])


def read_untyped(et, where: dict) -> dict:
    """``where`` with the values of fields of no single type read as JSON scalars.

    A query parameter is text, and a field typed by its schema reads it as its type; one of
    no single type (``{"enum": [1, "one", true]}``, ``{}``) compares a value with stored
    values of the value's own JSON type, so as text ``filter[F]=1`` could never find the
    number 1 nor ``true`` the boolean. As the CLI's ``--where`` does, V is read as JSON when
    it parses to a scalar (``1``, ``true``, ``null``, ``"1"`` for the text), else as given.
    A query value is taken exactly as sent: with spaces around it, it is that text (as
    ``filter[n]= 1`` of a numeric field is no number); ``١``, ``+1`` and ``1_0`` are text.
    """
    out = {}
    for field, cond in where.items():
        if not (FIELD_RE.match(field) and et.has_field(field) and et.field_type(field) is None):
            out[field] = cond
            continue
        out[field] = {op: ([_json_scalar(v, field, op) for v in value] if op == "in" else _json_scalar(value, field, op))
                      if op != "exists" else value for op, value in cond.items()}
    return out


def _json_scalar(text: str, field: str, op: str):
    if INTEGER_RE.fullmatch(text):
        number = _int64(text)
        if number is None:  # orjson would read it as a rounded float
            raise ValidationError(f"filter value out of range for {field}",
                                  [{"pointer": f"/where/{field}/{op}", "message": "integer beyond 64 bits"}])
        return number
    if text != text.strip(JSON_SPACE):  # JSON would skip the spaces the client sent
        return text
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return text if isinstance(value, (dict, list)) else value


def known_params(*names: str, filters: bool = False) -> None:
    """Refuse query parameters the endpoint does not take: a misspelt one (``filters[F]``,
    ``page_size``, ``Sort``) ignored would answer another question than the one asked —
    every record instead of the filtered few."""
    unknown = [k for k in request.args if k not in names and not (filters and (k == "filter" or k.startswith("filter[")))]
    if unknown:
        takes = ", ".join([*names, *(["filter[F]", "filter[F][op]"] if filters else [])]) or "no parameters"
        raise ValidationError(f"unknown query parameter {unknown[0]!r}: this endpoint takes {takes}",
                              [{"pointer": f"/query/{k}", "message": "unknown parameter"} for k in unknown])


def limit(default: int | None) -> int | None:
    """The ``limit`` query parameter: 1 to API_MAX_LIMIT, ``default`` when absent."""
    most = current_app.config["API_MAX_LIMIT"]
    given = single(request.args, "limit")
    if given is None:
        return default
    # Digits only: int() also reads " 2", "1_000" and "２" (full-width), which no client
    # means as a page size and the documented integer parameter does not admit.
    if not DIGITS.fullmatch(given):
        raise ValidationError("limit must be an integer", [{"pointer": "/query/limit", "message": "not an integer"}])
    # Past 18 digits surely out of range, and int() refuses 4,300 digits or more (ValueError).
    limit = int(given) if len(given) <= 18 else most + 1
    if not 1 <= limit <= most:
        raise ValidationError(f"limit must be between 1 and {most}", [{"pointer": "/query/limit", "message": "out of range"}])
    return limit


def query_error(e: ValidationError, where: dict) -> ValidationError:
    """A filter error as the client sent it: the core points into the filter document
    (``/where/F/op/I``); here the pointer names the query parameter, ``/query/filter[F][op]``
    (``/query/filter[F]`` for a condition given without an operator). Other errors are
    returned as they are."""
    if not e.errors:
        return e
    fields = sorted(where, key=len, reverse=True)  # a.b before a: the longest name that fits
    changed = False
    errors = []
    for err in e.errors:
        pointer = str(err.get("pointer", ""))
        field = next((f for f in fields if pointer == f"/where/{f}" or pointer.startswith(f"/where/{f}/")), None)
        if field is not None:
            op = pointer[len(f"/where/{field}/"):].partition("/")[0]
            sent = [k for k in request.args if k.startswith(f"filter[{field}]")]
            key = next((k for k in sent if k == f"filter[{field}][{op}]"
                        or (op == "eq" and k == f"filter[{field}]")), sent[0] if sent else f"filter[{field}]")
            err, changed = {**err, "pointer": f"/query/{key}"}, True
        errors.append(err)
    return ValidationError(e.message, errors) if changed else e


def sort_error(e: ValidationError) -> ValidationError:
    """A bad sort field as the client sent it: ``filters.order_by`` (shared with the CLI and
    the UI) words it "invalid sort: …" at pointer ``/sort/I``; here it is the ``sort``
    query parameter. Any other error is returned as it is."""
    if not e.errors or not all(str(err.get("pointer", "")).startswith("/sort/") for err in e.errors):
        return e
    messages = [err["message"] for err in e.errors]
    return ValidationError(f"invalid sort: {'; '.join(messages)}",
                           [{"pointer": "/query/sort", "message": m} for m in messages])


#: An entity-tag (RFC 9110 §8.8.3): an optional W/ and a quoted string.
ENTITY_TAG = re.compile(r'(W/)?"[^"]*"')


def entity_tags(name: str) -> list[str] | None:
    """The entity-tags of the conditional header ``name`` (``W/`` dropped: both headers
    compare versions, so weakly), ``["*"]`` for ``*``, None when it is absent.

    A value that is neither is a 400, for If-None-Match as for If-Match: Werkzeug's lenient
    parser read ``If-None-Match: 1`` as the ETag "1" (a 304) while ``If-Match: 1`` was a
    400, and any other malformed value silently never matched.
    """
    header = request.headers.get(name)
    if header is None:
        return None
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if tags == ["*"]:
        return tags
    if not all(ENTITY_TAG.fullmatch(t) for t in tags):
        quoted = ", ".join(t if ENTITY_TAG.fullmatch(t) else '"' + t.strip('"') + '"' for t in tags)
        raise BadRequest(f"{name} {header!r} is not * or a list of ETags: ETags are quoted, "
                          f"as in the ETag header ({name}: {quoted})",
                          [{"pointer": f"/headers/{name}", "message": 'ETags are quoted strings, e.g. "3"'}])
    return [t[2:] if t.startswith("W/") else t for t in tags]


def history_cursor_decode(cursor: str, order: str) -> tuple[str, int]:
    bad = ValidationError("invalid cursor", [{"pointer": "/query/cursor", "message": "not a cursor of this timeline"}])
    values = cursor_values(cursor, bad)
    if not (isinstance(values, list) and len(values) == 3 and values[0] == order and isinstance(values[1], str)
            and len(values[1]) <= 32 and "\x00" not in values[1] and isinstance(values[2], int) and not isinstance(values[2], bool)
            and values[2] in INT64):
        raise bad
    return values[1], values[2]


def related_cursor_encode(direction: str, rel_type: str, rel_id: str) -> str:
    """The ``next`` cursor of a page of related records: where the page's last link stands."""
    return cursor_encode(["related"], [direction, rel_type, rel_id])


def related_cursor_decode(cursor: str) -> tuple[str, str, str]:
    """The ``(direction, relationship type, relationship id)`` a cursor of
    :func:`related_cursor_encode` holds; a 400 at ``/query/cursor`` for anything else."""
    bad = ValidationError("invalid cursor", [{"pointer": "/query/cursor", "message": "not a cursor of these related records"}])
    values = cursor_values(cursor, bad)
    if not (isinstance(values, list) and len(values) == 4 and values[0] == "related"
            and values[1] in ("outgoing", "incoming")
            and all(isinstance(v, str) and 0 < len(v) <= 100 and "\x00" not in v for v in values[2:])):
        raise bad
    return values[1], values[2], values[3]


def check_period(date_from: str | None, date_to: str | None) -> None:
    """Refuse a reversed period in the query's own terms: ``kpis.compute`` refuses it too, but
    in the CLI's (``--from X is after --to Y``). Malformed dates are left to it to explain."""
    if not (date_from and date_to and DATE_RE.fullmatch(date_from) and DATE_RE.fullmatch(date_to)):
        return
    try:
        reversed_period = date.fromisoformat(date_from) > date.fromisoformat(date_to)
    except ValueError:  # 2025-02-30: kpis.compute says what is wrong with it
        return
    if reversed_period:
        raise ValidationError(f"from={date_from} is after to={date_to}: the period must start on or before its end",
                              [{"pointer": "/query/from", "message": "after to"}])
