"""REST API ``/api/v1`` (DESIGN §5): bearer tokens, problem+json errors, ETags, cursors."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from functools import wraps
from urllib.parse import unquote_to_bytes

import orjson
from flask import Blueprint, Response, current_app, g, request, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import MethodNotAllowed, NotFound as RoutingNotFound, RequestEntityTooLarge

from .. import accounts, db, filters, kpis
from ..stored_json import MAX_DEPTH, InexactNumber, RepeatedKey, loads_exact, nul_pointers, too_deep
from ..errors import AuthenticationError, Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError, XrmError
from ..fields import value_at
from ..scope import Actor, load_actor
from ..session import Session
from . import api_kpis, envelopes, query
from .caches import ActorCache, Definitions, ReadSession
from .problems import from_error, problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def platform():
    return current_app.extensions["xrm"]


def jsonify(value, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(value), status=status, mimetype="application/json", headers=headers)


def no_body(status: int = 204, headers: dict | None = None) -> Response:
    """A 204 or 304: no content, so no Content-Type (Flask would default to text/html)."""
    resp = Response(status=status, headers=headers)
    del resp.headers["Content-Type"]
    return resp


# -- authentication and errors ----------------------------------------------------------
@bp.before_request
def authenticate():
    """Resolve the bearer token to an Actor (``g.xrm_actor``) before any handler runs."""
    if request.endpoint in ("api.openapi", "api.docs"):
        return _options() if request.method == "OPTIONS" else None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send Authorization: Bearer TOKEN")
    try:
        g.xrm_actor = _actors().get(token.strip())
    except AuthenticationError as e:
        return _unauthorized(e.message)
    g.xrm_token = token.strip()
    refused = _refuse_non_utf8_query() or _refuse_nul()  # the first before request.args is read
    if refused is not None:
        return refused
    if request.method == "OPTIONS":
        return _options()
    refused = _refuse_body()
    if refused is not None:
        return refused
    if request.endpoint in TAKES_NO_PARAMETERS:
        try:
            query.known_params()
        except ValidationError as e:
            return from_error(e, 400)
    return None


#: Endpoints that take no query parameter. One sent anyway is refused (400, its pointer
#: ``/query/NAME``) before anything is read or written, as the lists refuse theirs: a
#: ``POST …?dry_run=1`` or ``DELETE …?soft=true`` ignored would store or delete for real
#: what the client meant only to try.
TAKES_NO_PARAMETERS = frozenset({
    "api.list_types", "api.get_type", "api.create_record", "api.get_record", "api.patch_record",
    "api.delete_record", "api.log_activity", "api.create_relationship", "api.delete_relationship",
    "api.list_kpis"})


def _actors() -> ActorCache:
    cache = current_app.extensions.get("xrm_api_actors")
    if cache is None:
        cache = current_app.extensions["xrm_api_actors"] = ActorCache(
            platform(), float(current_app.config.get("API_AUTH_CACHE_SECONDS", 2)))
    return cache


def _refuse_nul() -> Response | None:
    """NUL characters reach no database: PostgreSQL cannot store them in text or JSONB.

    A path holding one names nothing (404); a query parameter holding one is a 400.
    """
    if "\x00" in request.path:
        return problem(404, "Not found", "no such resource: the path contains a NUL character")
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return problem(400, "Validation failed", "query parameters cannot contain NUL characters",
                           [{"pointer": f"/query/{key.replace(chr(0), '')}", "message": "contains NUL (\\u0000)"}])
    return None


#: Methods whose requests the API reads no content of.
READS_NO_BODY = frozenset({"GET", "HEAD", "DELETE"})


def _refuse_body() -> Response | None:
    """A GET or DELETE that carries a body is a 400, as a parameter the endpoint does not take is.

    Nothing reads it (RFC 9110 gives such content no meaning), so it was dropped unseen:
    ``DELETE`` with ``{"dry_run": true}`` or ``{"if_version": 7}`` deleted for real, and a
    GET with ``{"filter": …}`` listed every record instead of the few asked for.
    """
    if request.method not in READS_NO_BODY or request.endpoint in (None, "api.no_such_route"):
        return None
    if request.content_length == 0:
        return None
    if not request.get_data(cache=True):  # a chunked body may still be empty
        return None
    what = "the conditions of a delete go in If-Match" if request.method == "DELETE" \
        else "what to read goes in the path and query parameters"
    return problem(400, "Bad request", f"{request.method} {request.path} takes no request body: {what}",
                   [{"pointer": "", "message": f"{request.method} takes no body"}])


def _refuse_non_utf8_query() -> Response | None:
    """A query parameter whose percent-escapes are not UTF-8 is a 400 naming it.

    Werkzeug reads such bytes leniently (``%E9``, an é in Latin-1, stays the text "%E9"),
    so ``filter[title]=%E9`` quietly matched nothing instead of saying the client's
    encoding was wrong. URLs carry UTF-8 (RFC 3986 §2.5); only the raw query string shows
    what was sent.
    """
    raw = request.query_string
    if b"%" not in raw and raw.isascii():
        return None
    for part in raw.split(b"&"):
        key, _, value = part.partition(b"=")
        try:
            unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8")
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            name = unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8", "replace")
            return problem(400, "Validation failed",
                           f"query parameter {name!r} is not percent-encoded UTF-8: encode its text as UTF-8 "
                           "before percent-encoding it (é is %C3%A9)",
                           [{"pointer": f"/query/{name}", "message": "not UTF-8"}])
    return None


def _unauthorized(detail: str) -> Response:
    resp = problem(401, "Unauthorized", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="xrm"'
    return resp


@bp.errorhandler(XrmError)
def handle_xrm_error(e: XrmError):
    if isinstance(e, AuthenticationError):  # the user or token stopped working (see session)
        return _unauthorized(e.message)
    busy = db.busy_error(e)  # a plugin's hook that met a deadlock: the database was busy
    return _busy(busy) if busy is not None else from_error(e)


@bp.errorhandler(DBAPIError)
def handle_database_error(e: DBAPIError):
    """A deadlock, serialization failure or lock timeout: 503 with ``Retry-After`` (the
    transaction was rolled back; the same request may succeed); so is a database that
    cannot be reached or dropped the connection (``db.DatabaseUnavailable``). Any other
    database error is the server's failure: raised again, logged, answered 500."""
    busy = db.busy_error(e) or db.unavailable_error(e)
    if busy is None:
        raise e
    if isinstance(busy, db.DatabaseUnavailable):  # the operator's business: say so in the log
        current_app.logger.warning("%s %s: the database cannot be reached: %s", request.method, request.path,
                                   busy.reason)
    return _busy(busy)


def _busy(e: XrmError) -> Response:
    resp = from_error(e)
    resp.headers["Retry-After"] = str(e.retry_after)
    return resp


@bp.before_app_request
def unknown_method():
    """A method no route of the API takes (TRACE, PROPFIND, …) gets a 405 problem naming the
    methods the path allows.

    The catch-all route below sees only the methods it lists; for any other, routing fails
    before a blueprint's handlers run, and the client got Werkzeug's HTML page with an
    ``Allow`` naming every method of the catch-all (PUT and POST on a type). An app-wide
    hook runs before that routing error is raised, so it can answer for the API's paths.
    """
    if not isinstance(request.routing_exception, MethodNotAllowed):
        return None
    if request.path != bp.url_prefix and not request.path.startswith(bp.url_prefix + "/"):
        return None
    return no_such_route(request.path)


@bp.errorhandler(RequestEntityTooLarge)
def handle_too_large(_e):
    # Werkzeug raises this when a handler reads a body longer than MAX_CONTENT_LENGTH (from
    # Content-Length before reading anything, or while reading a chunked one).
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return problem(413, "Content too large",
                   f"the request body is larger than the {limit} bytes this server accepts")


@bp.errorhandler(500)
def handle_500(_e):
    # The traceback goes to the log (Flask logs it before calling this); the client gets a
    # problem, never an HTML page or internals.
    return problem(500, "Internal server error", "the server failed; the error was logged")


@bp.route("/<path:_anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def no_such_route(_anything):
    """Unknown paths and methods under /api/v1 answer with problems too.

    Routing errors never reach blueprint error handlers, so this catch-all (the lowest
    priority rule) turns them into a 404 or a 405 with ``Allow``.
    """
    allowed = _allowed_methods()
    if allowed:
        resp = problem(405, "Method not allowed", f"{request.method} is not allowed on {request.path}")
        resp.headers["Allow"] = ", ".join(allowed)
        return resp
    return problem(404, "Not found", f"no such resource: {request.path}")


def _allowed_methods() -> list[str]:
    """The methods a route of the API answers at the request's path (HEAD with GET); none
    for a path only the catch-all matches."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except (MethodNotAllowed, RoutingNotFound):
            continue
        if endpoint != "api.no_such_route":
            allowed.append(method)
    return allowed + (["HEAD"] if "GET" in allowed else [])


def _options() -> Response:
    """OPTIONS: 204 with ``Allow`` naming the methods of the path, or a 404 problem.

    Flask's automatic answer would list the methods of the catch-all route too (PUT and
    POST on a record) and answer 200 for any path.
    """
    allowed = _allowed_methods()
    if not allowed:
        return problem(404, "Not found", f"no such resource: {request.path}")
    return no_body(204, {"Allow": ", ".join(allowed + ["OPTIONS"])})


#: What a request body may be declared as: every one of them is read as a JSON document.
#: ``application/*+json`` (RFC 6839 structured syntax suffix) admits merge-patch and other JSON-based types.
ACCEPTED_MEDIA_TYPES = ("application/json", "application/merge-patch+json", "application/*+json")
JSON_PATCH = "application/json-patch+json"


def _is_json_media_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json") and mimetype != JSON_PATCH)


class _UnsupportedMediaType(XrmError):
    status = 415
    title = "Unsupported media type"
    coding = False  # refused for its Content-Encoding, not its Content-Type


@bp.errorhandler(_UnsupportedMediaType)
def handle_unsupported_media_type(e: _UnsupportedMediaType):
    resp = from_error(e)
    # RFC 5789 §2.2: a 415 to a PATCH names the patch formats in Accept-Patch; Accept-Post
    # (IANA registered) says the same for POST.
    header = "Accept-Patch" if request.method == "PATCH" else "Accept-Post"
    resp.headers[header] = "application/json, application/merge-patch+json"
    if e.coding:
        resp.headers["Accept-Encoding"] = "identity"  # RFC 9110 §12.5.3: no content coding is read
    return resp


def _check_media_type() -> None:
    """Refuse a body not declared as JSON: reading text/plain or a form as JSON would accept
    what the client did not mean to send (and lets a cross-site HTML form, which cannot
    send application/json without a CORS preflight, reach a JSON endpoint)."""
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding and coding != "identity":
        # Nothing decodes it: a gzip body was read as JSON and refused as bytes that are not
        # UTF-8 text, leaving the client to guess that compression was the problem.
        e = _UnsupportedMediaType(f"Content-Encoding {coding} is not accepted: send the body uncompressed")
        e.coding = True
        raise e
    mimetype = request.mimetype  # lower-cased, without parameters such as charset
    if _is_json_media_type(mimetype):
        return
    accepted = ", ".join(ACCEPTED_MEDIA_TYPES)
    if mimetype == JSON_PATCH:
        # Its body is an array of operations, which would otherwise fail as a confusing 422.
        raise _UnsupportedMediaType(
            "JSON Patch (application/json-patch+json) is not supported: send a JSON merge patch "
            '(RFC 7396) as {"data": {...}} with Content-Type application/merge-patch+json or application/json')
    if not mimetype:
        raise _UnsupportedMediaType(f"the request has no Content-Type: send the JSON body as one of {accepted}")
    raise _UnsupportedMediaType(f"Content-Type {mimetype} is not accepted: send the JSON body as one of {accepted}")


def body() -> dict:
    """The JSON request body: a non-JSON Content-Type is a 415, a body over MAX_CONTENT_LENGTH
    a 413 (see handle_too_large), malformed JSON a 400 problem."""
    _check_media_type()
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A body without Content-Length (chunked; gunicorn and the dev server pass it on)
        # is read through Werkzeug's LimitedStream, whose read-all stops at the limit
        # without an error: the JSON would be silently cut. Reaching the limit is too large.
        raise RequestEntityTooLarge()
    if not raw:
        raise query.BadRequest("the request needs a JSON body")
    try:
        value = loads_exact(raw)  # an integer beyond 64 bits kept exact, then refused
    except RepeatedKey as e:
        raise query.BadRequest(f"malformed JSON: {e.msg}", [{"pointer": e.pointer, "message": "repeated key"}]) from None
    except InexactNumber as e:  # well-formed, but a double would change the number: 422
        raise ValidationError("the request body holds a number that would change when stored",
                              [{"pointer": e.pointer, "message": e.msg}]) from None
    except orjson.JSONDecodeError as e:
        huge = envelopes.beyond_double(raw) if "infinity" in str(e) else []
        if huge:
            raise ValidationError("the request body holds a number beyond the range of a double", huge) from None
        raise query.BadRequest(_not_utf8(raw) or f"malformed JSON: {e}") from None
    # Before anything walks it recursively (nul_pointers below, the schema's validator): a
    # body nested ~1,000 levels deep (orjson reads up to 1,024) made that walk overflow
    # Python's stack, a 500 instead of the 422 the core gives record data past MAX_DEPTH.
    # The envelope ({"data": ...}, {"payload": ...}) is one level more than the record's.
    deep = too_deep(value, MAX_DEPTH + 1)
    if deep is not None:
        raise ValidationError("the request body is nested too deeply",
                              [{"pointer": deep, "message": f"objects and arrays nest more than {MAX_DEPTH} levels "
                                                            "deep here: a record may nest at most that deep"}])
    nul = nul_pointers(value)
    if nul:
        raise ValidationError("text cannot contain NUL characters (\\u0000)",
                              [{"pointer": p, "message": "contains NUL (\\u0000)"} for p in nul[:50]])
    return value


def _not_utf8(raw: bytes) -> str | None:
    """What is wrong with a body that is not UTF-8 text, or None if it is.

    orjson words every such body "str is not valid UTF-8: surrogates not allowed" at
    character 0, wherever the bad byte is; a client that sent Latin-1 or UTF-16 (perhaps
    declaring it in ``charset``) is told which byte, and that JSON is UTF-8 whatever the
    Content-Type says (RFC 8259 §8.1).
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        charset = request.mimetype_params.get("charset")
        declared = f" (the Content-Type names charset={charset}, which JSON does not take)" \
            if charset and charset.lower().replace("-", "") != "utf8" else ""
        return (f"the body is not UTF-8 text: byte 0x{raw[e.start]:02x} at offset {e.start} cannot start "
                f"or continue a UTF-8 character; JSON is always sent as UTF-8{declared}")
    return None


@contextmanager
def session(write: bool = False):
    """One transaction acting as the request's actor.

    A writing one resolves the token again inside its own transaction, so a write always
    acts with the user's current unit, roles and grants. A read-only one acts as the actor
    the token resolved to (kept up to ``API_AUTH_CACHE_SECONDS`` per process, see
    :class:`~.caches.ActorCache`: a changed grant or a revoked token reaches reads within
    that time), checked against the user's row in one query of its transaction, so a
    deactivated user and a user moved to another unit take effect at once; it takes the
    user, unit and type tables from :class:`~.caches.Definitions` instead of loading them
    again. A token or user that no longer works is an AuthenticationError (401).
    """
    conn = platform().engine.connect()
    if write:
        conn = conn.execution_options(xrm_write=True)
    try:
        with conn.begin():
            if write:
                g.xrm_actor = load_actor(conn, accounts.user_for_token(conn, g.xrm_token))
                yield Session(platform(), conn, g.xrm_actor)
            else:
                g.xrm_actor = _current_unit(conn, g.xrm_actor)
                yield ReadSession(platform(), conn, g.xrm_actor, _definitions())
    finally:
        conn.close()


#: The user's unit now, if the user is still active: one primary-key lookup per read request.
_USER_UNIT = (select(db.users.c.unit_id, db.units.c.path)
              .join(db.units, db.units.c.id == db.users.c.unit_id)
              .where(db.users.c.id == bindparam("user_id"), db.users.c.active.is_(True)))


_user_unit_sql: dict[str, tuple[str, tuple | None]] = {}


def _current_unit(conn, actor: Actor) -> Actor:
    """The cached ``actor`` as its user is placed now: in their current unit.

    AuthenticationError if the user was deactivated since. Grants (and a revoked token) are
    left as cached: they take effect within ``API_AUTH_CACHE_SECONDS``.
    """
    # Compiled once per dialect and run on the DB-API cursor of the request's transaction,
    # as lists are: every read request pays for this lookup, so SQLAlchemy's per-execution
    # work is left out.
    compiled = _user_unit_sql.get(conn.dialect.name)
    if compiled is None:
        c = _USER_UNIT.compile(dialect=conn.dialect)
        compiled = _user_unit_sql[conn.dialect.name] = (c.string, tuple(c.positiontup) if c.positiontup else None)
    sql, positional = compiled
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute(sql, (actor.id,) if positional else {"user_id": actor.id})
        found = cur.fetchone()
    finally:
        cur.close()
    if found is None:
        raise AuthenticationError(f"user {actor.name!r} is deactivated")
    unit_id, path = found
    if unit_id == actor.unit_id:
        return actor
    return replace(actor, unit_id=unit_id, unit_path=path)


def _definitions() -> Definitions:
    d = current_app.extensions.get("xrm_api_definitions")
    if d is None:
        d = current_app.extensions["xrm_api_definitions"] = Definitions(
            platform(), float(current_app.config.get("API_AUTH_CACHE_SECONDS", 2)))
    return d


def bad_query(f):
    """Filter/sort problems in the query string are 400s (never SQL)."""
    @wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except ValidationError as e:
            return from_error(e, 400)
    return wrapper


# -- types ------------------------------------------------------------------------------
@bp.get("/types")
def list_types():
    with session() as s:
        items = [s.entity_type(n).to_dict() for n in sorted(s.entity_types_map())]
    return jsonify(items)


@bp.get("/types/<name>")
def get_type(name):
    with session() as s:
        return jsonify(s.entity_type(name).to_dict())


# -- records ----------------------------------------------------------------------------
def _record_response(rec, status=200, headers=None):
    h = {"ETag": rec.etag, **(headers or {})}
    return jsonify(rec.to_dict(), status, h)


def _get_typed(s, type_name, record_id):
    s.entity_type(type_name)
    rec = s.get(record_id)
    if rec.type != type_name:
        raise NotFound(f"no record {record_id!r}")
    return rec


@bp.get("/records/<type_name>")
@bad_query
def list_records(type_name):
    query.known_params("limit", "cursor", "sort", filters=True)
    limit = query.limit(current_app.config["API_DEFAULT_LIMIT"])
    sort = query.sort_fields(request.args)
    where = query.parse_filters(request.args)
    with session() as s:
        et = s.entity_type(type_name)
        cursor = query.single(request.args, "cursor")
        after = query.cursor_decode(cursor, sort) if cursor else None
        try:
            query.check_numbers(et, where)
            where = query.read_untyped(et, where)
            filters.refuse_values_never_held(s.dialect, et, where)
            items = s.list(type_name, where, limit=limit + 1, sort=sort, after=after)
        except ValidationError as e:
            raise query.query_error(query.cursor_error(query.sort_error(e)), where) from None
    more = len(items) > limit
    items = items[:limit]
    nxt = None
    if more:
        last = items[-1]
        nxt = query.cursor_encode(sort, [value_at(last.data, f.lstrip("-")) for f in sort] + [last.id])
    return jsonify({"items": [r.to_json_ready() for r in items], "next": nxt})


@bp.post("/records/<type_name>")
def create_record(type_name):
    payload = envelopes.load(envelopes.CreateBody(), body())
    with session(write=True) as s:
        rec = s.create(type_name, payload["data"], unit=payload["unit"])
    location = url_for("api.get_record", type_name=type_name, record_id=rec.id)
    return _record_response(rec, 201, {"Location": location})


@bp.get("/records/<type_name>/<record_id>")
def get_record(type_name, record_id):
    with session() as s:
        rec = _get_typed(s, type_name, record_id)
    # If-None-Match compares weakly (RFC 9110 §13.1.2): W/"3" names version 3 as well.
    tags = query.entity_tags("If-None-Match")
    if tags is not None and (tags == ["*"] or f'"{rec.version}"' in tags):
        return no_body(304, {"ETag": rec.etag})
    return _record_response(rec)


def _require_grant(s, rec, action: str) -> None:
    """PermissionDenied (403) unless the actor may ``action`` the visible record ``rec``.

    Checked before the conditional headers: RFC 9110 §13.2.1 has a server ignore
    preconditions when the request would fail without them. A read-only user sending a
    stale If-Match got a 412, fetched the record again, retried and only then learnt that
    the write was never allowed. The core checks the grant again on the row it locks.
    """
    if not s.allows(rec.type, action, rec):
        raise PermissionDenied(f"{s.actor.name!r} may not {action} record {rec.id!r}")


def _if_match(current: int) -> int | None:
    """The version ``If-Match`` asks for: ``current`` if one of its ETags names it (``*``
    or no header: None, no condition); else PreconditionFailed.

    ``W/"3"`` names version 3 too, though RFC 9110 §13.1.1 asks If-Match for the strong
    comparison: the ETag is the version number, exact either way, and a reverse proxy that
    compresses answers (nginx's gzip) turns the ``"3"`` it passes on into ``W/"3"`` — a client
    behind one would else never write conditionally again.

    A header that is not ``*`` or a list of quoted entity-tags (``If-Match: 2``) is a 400:
    RFC 9110 makes malformed syntax a 400 (§15.5.1), and the precondition cannot be
    evaluated at all — a 412 would claim the record changed, and ignoring the header would
    drop the lost-update protection the client asked for.
    """
    header = request.headers.get("If-Match")
    tags = query.entity_tags("If-Match")
    if tags is None or tags == ["*"]:
        return None
    # An empty header is an empty list, which the grammar (#entity-tag) allows: it matches
    # nothing, a 412 below.
    if f'"{current}"' in tags:
        return current
    raise PreconditionFailed(f"If-Match {header!r} does not match the record's ETag (\"{current}\")")


def _if_none_match(current: int) -> bool:
    """PreconditionFailed if ``If-None-Match`` names the record's version (``*``: any);
    whether the request holds the header (its condition was checked against ``current``).

    On a write the condition is not a cache check: RFC 9110 §13.1.2 has the server refuse
    the method (412) when it is false. Ignored, ``PATCH`` with ``If-None-Match: "3"``
    ("only if someone changed it since 3") or ``*`` ("only if it does not exist yet")
    overwrote the record the client meant to leave alone. Compared weakly, as on GET.
    """
    tags = query.entity_tags("If-None-Match")
    if tags is not None and (tags == ["*"] or f'"{current}"' in tags):
        header = request.headers.get("If-None-Match")
        raise PreconditionFailed(f"If-None-Match {header!r} matches the record's ETag (\"{current}\"): "
                                 "the record is at a version the request excludes")
    return tags is not None


@bp.patch("/records/<type_name>/<record_id>")
def patch_record(type_name, record_id):
    payload = envelopes.load(envelopes.RecordBody(), body())
    with session(write=True) as s:
        current = _get_typed(s, type_name, record_id)
        _require_grant(s, current, "update")
        # One conditional UPDATE (records.update: ... WHERE id = ? AND version = ?) makes the
        # If-Match check and the write atomic: a concurrent change in between is a 412. An
        # If-None-Match checked here pins the version too: a change in between could bring
        # the record to a version it excludes.
        if_version = _if_match(current.version)
        if _if_none_match(current.version):
            if_version = current.version
        rec = s.update(record_id, payload["data"], if_version=if_version)
    return _record_response(rec)


@bp.delete("/records/<type_name>/<record_id>")
def delete_record(type_name, record_id):
    with session(write=True) as s:
        rec = _get_typed(s, type_name, record_id)
        _require_grant(s, rec, "delete")
        # The version is checked again on the row locked for the delete: a change landing
        # between this read and the delete is a 412, not deleted unseen.
        if_version = _if_match(rec.version)
        if _if_none_match(rec.version):
            if_version = rec.version
        s.delete(record_id, if_version=if_version)
    return no_body()


@bp.get("/records/<type_name>/<record_id>/related")
@bad_query
def related(type_name, record_id):
    """Related records of both directions: all on one page (``next`` null), or with ``limit``
    (at most API_MAX_LIMIT) a page at a time, ``cursor`` from ``next`` — a record linked
    10,000 times answered 10,000 records (5 MB) to every request."""
    query.known_params("rel", "limit", "cursor")
    rel = query.single(request.args, "rel") or None
    limit = query.limit(None)
    cursor = query.single(request.args, "cursor")
    after = query.related_cursor_decode(cursor) if cursor else None
    with session() as s:
        _get_typed(s, type_name, record_id)
        if rel is not None:
            try:
                s.relationship_type(rel)
            except NotFound as e:
                # The record exists: a 404 would say it does not. The parameter is what is wrong.
                raise ValidationError(e.message, [{"pointer": "/query/rel", "message": "unknown relationship type"}]) \
                    from None
        paging = {k: v for k, v in (("limit", limit and limit + 1), ("after", after)) if v}
        items = s.related(record_id, rel, **paging)
    nxt = None
    if limit and len(items) > limit:
        items = items[:limit]
        last = items[-1]
        nxt = query.related_cursor_encode(last["direction"], last["relationship"]["type"], last["relationship"]["id"])
    return jsonify({"items": [{**i, "record": i["record"].to_dict()} for i in items], "next": nxt})


@bp.get("/records/<type_name>/<record_id>/history")
@bad_query
def history(type_name, record_id):
    """A record's timeline: all of it, or with ``limit`` (at most API_MAX_LIMIT) a page at a
    time, ``cursor`` from ``next``; ``order=newest`` for the latest first (default ``oldest``)."""
    query.known_params("related", "order", "limit", "cursor")
    include = query.single(request.args, "related", "false")
    if include not in ("true", "false", "1", "0"):
        raise ValidationError("related must be true or false",
                              [{"pointer": "/query/related", "message": "not true, false, 1 or 0"}])
    include = include in ("1", "true")
    limit = query.limit(None)
    order = query.single(request.args, "order", "oldest")
    if order not in ("oldest", "newest"):
        raise ValidationError("order must be oldest or newest", [{"pointer": "/query/order", "message": "unknown order"}])
    cursor = query.single(request.args, "cursor")
    after = query.history_cursor_decode(cursor, order) if cursor else None
    with session() as s:
        _timeline_of(s, type_name, record_id)
        items = s.history(record_id, include_related=include, limit=limit and limit + 1,
                          newest_first=order == "newest", after=after)
    nxt = None
    if limit and len(items) > limit:
        items = items[:limit]
        nxt = query.cursor_encode([order], [items[-1]["at"], items[-1]["id"]])
    return jsonify({"items": items, "next": nxt})


def _timeline_of(s, type_name: str, record_id: str) -> None:
    """NotFound unless ``record_id`` is a visible record of ``type_name``, or a deleted one
    whose history the caller may read.

    The core keeps a deleted record's timeline for its readers (``Session.history``, ``xrm
    history ID``): looking the record up alone answered 404 there, and a sync could never
    learn who deleted a record, and when. Its type is read from its own activities, within
    the caller's scope, so neither another type's path nor a hidden record answers.
    """
    try:
        _get_typed(s, type_name, record_id)
        return
    except NotFound:
        A = db.activities
        seen = s.conn.execute(select(A.c.record_type).where(
            A.c.record_id == record_id,
            s.actor.clause_any_type(list(s.entity_types_map()), "read", A, A.c.record_type)).limit(1)).scalar()
        gone = seen == type_name and s.conn.execute(
            select(db.records.c.id).where(db.records.c.id == record_id)).first() is None
        if not gone:
            raise


@bp.post("/records/<type_name>/<record_id>/history")
def log_activity(type_name, record_id):
    payload = envelopes.load(envelopes.ActivityBody(), body())
    with session(write=True) as s:
        _get_typed(s, type_name, record_id)
        activity = s.log(record_id, payload["kind"], payload["summary"], payload["payload"])
    return jsonify(activity, 201)


# -- relationships ----------------------------------------------------------------------
@bp.post("/relationships")
def create_relationship():
    payload = envelopes.load(envelopes.RelationshipBody(), body())
    with session(write=True) as s:
        try:
            rel = s.relate(payload["type"], payload["source"], payload["target"], payload["data"])
        except NotFound as e:
            raise _unknown_members(s, payload, e) from None
        except Conflict as e:
            # A record deleted by another request between the core's checks and its insert
            # fails the insert's foreign key, which the core words as a clash ("already
            # related, or its cardinality refuses it"): the record is gone, a 404 at its member.
            gone = _unknown_members(s, payload, NotFound(e.message))
            raise (gone if gone.errors else e) from None
    return jsonify(rel, 201)


def _unknown_members(s, payload: dict, e: NotFound) -> NotFound:
    """The 404 of a relate naming every member of the body that names nothing the caller
    can see (``/type``, ``/source``, ``/target``).

    The core stops at the first one it meets, in words only ("no record 'X'"): a client
    relating two ids learnt neither which member was wrong nor that the other one was
    wrong too. Nothing more is told than a GET of each id would tell.
    """
    errors, said = [], []
    try:
        s.relationship_type(payload["type"])
    except NotFound:
        errors.append({"pointer": "/type", "message": "unknown relationship type"})
        said.append(f"unknown relationship type {payload['type']!r}")
    for member in ("source", "target"):
        try:
            s.get(payload[member])
        except NotFound:
            errors.append({"pointer": f"/{member}", "message": "no such record"})
            said.append(f"no record {payload[member]!r} ({member})")
    return NotFound("; ".join(said), errors) if errors else e


@bp.delete("/relationships/<rel_id>")
def delete_relationship(rel_id):
    with session(write=True) as s:
        s.unrelate(rel_id)
    return no_body()


# -- KPIs -------------------------------------------------------------------------------
@bp.get("/kpis")
def list_kpis():
    with session() as s:
        reg = kpis.registry(s.platform, s.conn)
        items = [k.to_dict() for k in sorted(reg.values(), key=lambda k: k.name) if kpis.may_compute(s, k)]
        # A KPI waiting for `xrm init` is listed too, marked ``waiting`` (its 503 says the same).
        items = sorted(items + api_kpis.waiting_items(s), key=lambda k: k["name"])
    return jsonify(items)


@bp.get("/kpis/<name>")
@bad_query
def compute_kpi(name):
    args = request.args
    query.known_params("from", "to", "by")
    date_from, date_to, by = (query.single(args, k) or None for k in ("from", "to", "by"))
    query.check_period(date_from, date_to)
    with session() as s:
        try:
            api_kpis.refuse_waiting(s, name, date_from, date_to)  # 503: the server is not ready, not the request
            result = kpis.compute(s, name, date_from, date_to, by)
        except ValidationError as e:
            # kpis.compute points at /from, /to, /by (shared with the CLI): here they are
            # query parameters, as in every other 400 of the API.
            if not e.errors:
                raise
            raise ValidationError(e.message, [
                {**err, "pointer": f"/query{err['pointer']}"} if err.get("pointer") in ("/from", "/to", "/by") else err
                for err in e.errors]) from None
    return jsonify(result)


# -- OpenAPI ----------------------------------------------------------------------------
@bp.get("/openapi.json")
def openapi():
    from .openapi import build_spec
    with platform().session("admin", write=False) as s:
        spec = build_spec(s, current_app.config["API_MAX_LIMIT"])
    return jsonify(spec)


@bp.get("/docs")
def docs():
    from .openapi import docs_page
    with platform().session("admin", write=False) as s:
        return docs_page(s)
