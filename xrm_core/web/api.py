"""REST API ``/api/v1`` (DESIGN §5): bearer tokens, problem+json errors, ETags, cursors."""
from __future__ import annotations

import base64
from contextlib import contextmanager
from functools import wraps

import orjson
from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.exceptions import MethodNotAllowed, NotFound as RoutingNotFound

from .. import kpis
from ..records import nul_pointers
from ..errors import AuthenticationError, NotFound, PreconditionFailed, ValidationError, XrmError
from ..fields import FIELD_RE, NUMERIC
from ..filters import INTEGER_RE, coerce
from ..session import Session
from . import envelopes
from .caches import ActorCache, Definitions, ReadSession
from .problems import from_error, problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def platform():
    return current_app.extensions["xrm"]


def jsonify(value, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(value), status=status, mimetype="application/json", headers=headers)


# -- authentication and errors ----------------------------------------------------------
@bp.before_request
def authenticate():
    """Resolve the bearer token to an Actor (``g.xrm_actor``) before any handler runs."""
    if request.endpoint in ("api.openapi", "api.docs"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send Authorization: Bearer TOKEN")
    try:
        g.xrm_actor = _actors().get(token.strip())
    except AuthenticationError as e:
        return _unauthorized(e.message)
    refused = _refuse_nul()
    if refused is not None:
        return refused
    return None


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


def _unauthorized(detail: str) -> Response:
    resp = problem(401, "Unauthorized", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="xrm"'
    return resp


@bp.errorhandler(XrmError)
def handle_xrm_error(e: XrmError):
    return from_error(e)


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
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except (MethodNotAllowed, RoutingNotFound):
            continue
        if endpoint != "api.no_such_route":
            allowed.append(method)
    if allowed:
        resp = problem(405, "Method not allowed", f"{request.method} is not allowed on {request.path}")
        resp.headers["Allow"] = ", ".join(allowed + (["HEAD"] if "GET" in allowed else []))
        return resp
    return problem(404, "Not found", f"no such resource: {request.path}")


def body() -> dict:
    """The JSON request body; malformed JSON is a 400 problem."""
    raw = request.get_data(cache=True)
    if not raw:
        raise _BadRequest("the request needs a JSON body")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _BadRequest(f"malformed JSON: {e}") from None
    nul = nul_pointers(value)
    if nul:
        raise ValidationError("text cannot contain NUL characters (\\u0000)",
                              [{"pointer": p, "message": "contains NUL (\\u0000)"} for p in nul[:50]])
    return value


class _BadRequest(XrmError):
    status = 400
    title = "Bad request"


@contextmanager
def session(write: bool = False):
    """One transaction acting as the request's actor (as ``Platform.session``, without
    resolving the user again: the actor comes from the token). A read-only one takes the
    user, unit and type tables from :class:`~.caches.Definitions` instead of loading them
    again."""
    conn = platform().engine.connect()
    if write:
        conn = conn.execution_options(xrm_write=True)
    try:
        with conn.begin():
            if write:
                yield Session(platform(), conn, g.xrm_actor)
            else:
                yield ReadSession(platform(), conn, g.xrm_actor, _definitions())
    finally:
        conn.close()


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


def parse_filters(args) -> dict:
    """``filter[F]=V`` and ``filter[F][op]=V`` query parameters as a filter dict."""
    out: dict = {}
    for key in args:
        if not key.startswith("filter["):
            continue
        inner = key[len("filter["):]
        parts = inner.split("][")
        if not inner.endswith("]") or len(parts) > 2:
            raise ValidationError(f"cannot read query parameter {key!r}",
                                  [{"pointer": f"/query/{key}", "message": "use filter[F]=V or filter[F][op]=V"}])
        parts[-1] = parts[-1][:-1]
        field, op = parts[0], (parts[1] if len(parts) == 2 else "eq")
        value = args.get(key)
        if op == "in":
            value = [v for v in value.split(",") if v != ""]
        elif op == "exists":
            if value not in ("true", "false"):
                raise ValidationError("exists takes true or false",
                                      [{"pointer": f"/query/{key}", "message": "not true/false"}])
            value = value == "true"
        cond = out.setdefault(field, {})
        cond[op] = value
    return out


INT64 = range(-2**63, 2**63)


def _cursor_encode(sort: list[str], values) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([",".join(sort), *values])).decode().rstrip("=")


def _cursor_decode(cursor: str, sort: list[str], et, dialect: str) -> tuple:
    """The keyset values of ``cursor``, checked: it must come from a listing with the same
    ``sort``, and each value must fit its sort field's type (a cursor is client input)."""
    bad = ValidationError("invalid cursor", [{"pointer": "/query/cursor", "message": "not a cursor of this listing"}])
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(sort) + 2 or values[0] != ",".join(sort) \
            or not isinstance(values[-1], str):
        raise bad
    out = []
    for item, v in zip(sort, values[1:-1]):
        if isinstance(v, (dict, list)) or (isinstance(v, int) and not isinstance(v, bool) and v not in INT64):
            raise bad
        try:
            out.append(coerce(v, et.field_type(item.lstrip("-")), "/query/cursor", dialect))
        except ValidationError:
            raise bad from None
    return (*out, values[-1])


def _check_numbers(et, where: dict) -> None:
    """Refuse integers no database column holds (beyond 64 bits) in numeric filters."""
    for field, cond in where.items():
        if FIELD_RE.match(field) and et.has_field(field) and et.field_type(field) in NUMERIC:
            for op, value in cond.items():
                values = value if isinstance(value, list) else [value]
                if any(isinstance(v, str) and INTEGER_RE.fullmatch(v.strip()) and int(v) not in INT64
                       for v in values):
                    raise ValidationError(f"filter value out of range for {field}",
                                          [{"pointer": f"/query/filter[{field}][{op}]",
                                            "message": "integer beyond 64 bits"}])


@bp.get("/records/<type_name>")
@bad_query
def list_records(type_name):
    cfg = current_app.config
    try:
        limit = int(request.args.get("limit", cfg["API_DEFAULT_LIMIT"]))
    except ValueError:
        raise ValidationError("limit must be an integer", [{"pointer": "/query/limit", "message": "not an integer"}]) from None
    if not 1 <= limit <= cfg["API_MAX_LIMIT"]:
        raise ValidationError(f"limit must be between 1 and {cfg['API_MAX_LIMIT']}",
                              [{"pointer": "/query/limit", "message": "out of range"}])
    sort = [x for x in request.args.get("sort", "").split(",") if x]
    where = parse_filters(request.args)
    with session() as s:
        et = s.entity_type(type_name)
        _check_numbers(et, where)
        cursor = request.args.get("cursor")
        after = _cursor_decode(cursor, sort, et, s.dialect) if cursor else None
        items = s.list(type_name, where, limit=limit + 1, sort=sort, after=after)
    more = len(items) > limit
    items = items[:limit]
    nxt = None
    if more:
        last = items[-1]
        nxt = _cursor_encode(sort, [_dig(last.data, f.lstrip("-")) for f in sort] + [last.id])
    return jsonify({"items": [r.to_json_ready() for r in items], "next": nxt})


def _dig(data, path):
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


@bp.post("/records/<type_name>")
def create_record(type_name):
    payload = envelopes.load(envelopes.RecordBody(), body())
    with session(write=True) as s:
        rec = s.create(type_name, payload["data"])
    location = url_for("api.get_record", type_name=type_name, record_id=rec.id)
    return _record_response(rec, 201, {"Location": location})


@bp.get("/records/<type_name>/<record_id>")
def get_record(type_name, record_id):
    with session() as s:
        rec = _get_typed(s, type_name, record_id)
    if request.if_none_match and request.if_none_match.contains(str(rec.version)):
        return Response(status=304, headers={"ETag": rec.etag})
    return _record_response(rec)


def _if_match(current: int) -> int | None:
    """The version ``If-Match`` asks for: ``current`` if one of its ETags names it (``*``
    or no header: None, no condition); else PreconditionFailed. ``W/`` is tolerated."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags:
        return None
    if f'"{current}"' in {t[2:].strip() if t.startswith("W/") else t for t in tags}:
        return current
    raise PreconditionFailed(f"If-Match {header!r} does not match the record's ETag (\"{current}\")")


@bp.patch("/records/<type_name>/<record_id>")
def patch_record(type_name, record_id):
    payload = envelopes.load(envelopes.RecordBody(), body())
    with session(write=True) as s:
        current = _get_typed(s, type_name, record_id)
        # One conditional UPDATE (records.update: ... WHERE id = ? AND version = ?) makes the
        # If-Match check and the write atomic: a concurrent change in between is a 412.
        rec = s.update(record_id, payload["data"], if_version=_if_match(current.version))
    return _record_response(rec)


@bp.delete("/records/<type_name>/<record_id>")
def delete_record(type_name, record_id):
    with session(write=True) as s:
        rec = _get_typed(s, type_name, record_id)
        _if_match(rec.version)
        s.delete(record_id)
    return Response(status=204)


@bp.get("/records/<type_name>/<record_id>/related")
def related(type_name, record_id):
    rel = request.args.get("rel") or None
    with session() as s:
        _get_typed(s, type_name, record_id)
        items = s.related(record_id, rel)
    return jsonify({"items": [{**i, "record": i["record"].to_dict()} for i in items]})


@bp.get("/records/<type_name>/<record_id>/history")
def history(type_name, record_id):
    include = request.args.get("related") in ("1", "true")
    with session() as s:
        _get_typed(s, type_name, record_id)
        items = s.history(record_id, include_related=include)
    return jsonify({"items": items})


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
        rel = s.relate(payload["type"], payload["source"], payload["target"], payload["data"])
    return jsonify(rel, 201)


@bp.delete("/relationships/<rel_id>")
def delete_relationship(rel_id):
    with session(write=True) as s:
        s.unrelate(rel_id)
    return Response(status=204)


# -- KPIs -------------------------------------------------------------------------------
@bp.get("/kpis")
def list_kpis():
    with session() as s:
        reg = kpis.registry(s.platform, s.conn)
        items = [k.to_dict() for k in sorted(reg.values(), key=lambda k: k.name)]
    return jsonify(items)


@bp.get("/kpis/<name>")
@bad_query
def compute_kpi(name):
    with session() as s:
        result = kpis.compute(s, name, request.args.get("from") or None, request.args.get("to") or None,
                              request.args.get("by") or None)
    return jsonify(result)


# -- OpenAPI ----------------------------------------------------------------------------
@bp.get("/openapi.json")
def openapi():
    from .openapi import build_spec
    with platform().session("admin", write=False) as s:
        spec = build_spec(s)
    return jsonify(spec)


@bp.get("/docs")
def docs():
    from .openapi import docs_page
    with platform().session("admin", write=False) as s:
        return docs_page(s)
