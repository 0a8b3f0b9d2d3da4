"""marshmallow schemas of the REST envelopes (request bodies), with errors as JSON pointers."""
from __future__ import annotations

import json
import math
from decimal import Decimal

import marshmallow as ma
from marshmallow import fields

from ..errors import ValidationError
from ..validation import pointer


class RecordBody(ma.Schema):
    """``{"data": {...}}`` for POST (the record's data) and PATCH (a JSON merge patch)."""

    class Meta:
        unknown = ma.RAISE

    data = fields.Dict(required=True)


class CreateBody(RecordBody):
    """``{"data": {...}[, "unit": NAME]}`` for POST: ``unit`` places the new record in another
    unit within the caller's create scope (DESIGN §4), as ``xrm records create --unit`` does;
    absent or null, the record is the caller's unit's. A PATCH takes no ``unit``: a record
    does not move between units."""

    unit = fields.String(load_default=None, allow_none=True)


class RelationshipBody(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    type = fields.String(required=True)
    source = fields.String(required=True)
    target = fields.String(required=True)
    data = fields.Dict(load_default=None, allow_none=True)


class ActivityBody(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    kind = fields.String(required=True)
    summary = fields.String(required=True)
    payload = fields.Dict(load_default=None, allow_none=True)


def _pointers(messages, prefix="") -> list[dict]:
    out = []
    if isinstance(messages, dict):
        for k, v in messages.items():
            out += _pointers(v, f"{prefix}/{k}")
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out += [{"pointer": prefix, "message": m} for m in messages]
    else:
        out.append({"pointer": prefix, "message": str(messages)})
    return out


def load(schema: ma.Schema, body) -> dict:
    """Validate a request body; raise ValidationError with a pointer per problem."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", [{"pointer": "", "message": "not an object"}])
    try:
        return schema.load(body)
    except ma.ValidationError as e:
        hint = _hint(schema, body)
        raise ValidationError("invalid request body" + (f": {hint}" if hint else ""), _pointers(e.messages)) from None


#: Members a client may put in a record body for what the API takes from a header.
VERSION_MEMBERS = ("version", "if_version", "etag", "if_match")


def _hint(schema: ma.Schema, body: dict) -> str | None:
    """What the client most likely meant, for the mistakes integrators make first: the
    record's fields sent bare (as RFC 7396 sends a merge patch) instead of in ``data``,
    or the version to check sent in the body instead of in If-Match."""
    if not isinstance(schema, RecordBody):
        return None
    if "data" not in body and body:
        return 'the record\'s fields go in a "data" member: send {"data": {...}}, for a merge patch too'
    if any(k in body for k in VERSION_MEMBERS):
        return 'send the version to check in the If-Match header (If-Match: "3"), not in the body'
    return None


def beyond_double(raw: bytes) -> list[dict]:
    """An error per number of the JSON document ``raw`` that no double holds (``1e400``),
    at its pointer; empty when there is none or ``raw`` is no JSON the standard library reads.

    orjson refuses such a number as if the JSON were malformed ("number is infinity when
    parsed as double"), but RFC 8259 §6 lets a number have any magnitude: the document is
    well-formed and its value cannot be stored, as an integer beyond 64 bits cannot (a 422
    at its pointer). Called only once orjson has refused the body, so it costs nothing else.
    """
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=lambda name: None)
    except (ValueError, RecursionError):
        return []
    out, todo = [], [((), value)]
    while todo:  # iterative: a body may nest as deep as the standard library reads
        path, v = todo.pop()
        if isinstance(v, dict):
            todo.extend(((*path, k), x) for k, x in reversed(v.items()))
        elif isinstance(v, list):
            todo.extend(((*path, i), x) for i, x in reversed(list(enumerate(v))))
        elif isinstance(v, Decimal) and math.isinf(float(v)):
            out.append({"pointer": pointer(path),
                        "message": f"{v} is beyond the range of a double (about ±1.8e308): "
                                   "store it as a string"})
    return out
