"""REST API ``/api/v1`` (DESIGN §5): bearer tokens, problem+json errors, ETags, cursors."""
from __future__ import annotations

import base64
from functools import wraps

import orjson
from flask import Blueprint, Response, current_app, g, request, url_for

from .. import accounts, kpis
from ..errors import AuthenticationError, NotFound, PreconditionFailed, ValidationError, XrmError
from . import envelopes
from .problems import from_error, problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def platform():
    return current_app.extensions["xrm"]


def jsonify(value, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(value), status=status, mimetype="application/json", headers=headers)


# -- authentication and errors ----------------------------------------------------------
@bp.before_request
def authenticate():
    if request.endpoint in ("api.openapi", "api.docs"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send Authorization: Bearer TOKEN")
    try:
        with platform().connection() as conn:
            g.xrm_user = accounts.user_for_token(conn, token.strip())
    except AuthenticationError as e:
        return _unauthorized(e.message)
    return None


def _unauthorized(detail: str) -> Response:
    resp = problem(401, "Unauthorized", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="xrm"'
    return resp


@bp.errorhandler(XrmError)
def handle_xrm_error(e: XrmError):
    return from_error(e)


@bp.errorhandler(404)
def handle_404(_e):
    return problem(404, "Not found", f"no such resource: {request.path}")


@bp.errorhandler(405)
def handle_405(_e):
    return problem(405, "Method not allowed", f"{request.method} is not allowed on {request.path}")


def body() -> dict:
    """The JSON request body; malformed JSON is a 400 problem."""
    raw = request.get_data(cache=True)
    if not raw:
        raise _BadRequest("the request needs a JSON body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _BadRequest(f"malformed JSON: {e}") from None


class _BadRequest(XrmError):
    status = 400
    title = "Bad request"


def session(write: bool = False):
    return platform().session(g.xrm_user, write=write)


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


def _cursor_encode(values) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _cursor_decode(cursor: str, n: int) -> tuple:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != n:
        raise ValidationError("invalid cursor", [{"pointer": "/query/cursor", "message": "not a cursor of this listing"}])
    return tuple(values)


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
    after = _cursor_decode(request.args["cursor"], len(sort) + 1) if request.args.get("cursor") else None
    with session() as s:
        items = s.list(type_name, where, limit=limit + 1, sort=sort, after=after)
    more = len(items) > limit
    items = items[:limit]
    nxt = None
    if more:
        last = items[-1]
        nxt = _cursor_encode([_dig(last.data, f.lstrip("-")) for f in sort] + [last.id])
    return jsonify({"items": [r.to_dict() for r in items], "next": nxt})


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


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tag = header.strip()
    if tag == "*":
        return None
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    if not tag.isdigit():
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of this record")
    return int(tag)


@bp.patch("/records/<type_name>/<record_id>")
def patch_record(type_name, record_id):
    payload = envelopes.load(envelopes.RecordBody(), body())
    version = _if_match()
    with session(write=True) as s:
        _get_typed(s, type_name, record_id)
        rec = s.update(record_id, payload["data"], if_version=version)
    return _record_response(rec)


@bp.delete("/records/<type_name>/<record_id>")
def delete_record(type_name, record_id):
    version = _if_match()
    with session(write=True) as s:
        rec = _get_typed(s, type_name, record_id)
        if version is not None and rec.version != version:
            raise PreconditionFailed(f"record {record_id} is at version {rec.version}, not {version}")
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
