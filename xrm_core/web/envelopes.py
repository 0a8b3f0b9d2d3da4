"""marshmallow schemas of the REST envelopes (request bodies), with errors as JSON pointers."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from ..errors import ValidationError


class RecordBody(ma.Schema):
    """``{"data": {...}}`` for POST (the record's data) and PATCH (a JSON merge patch)."""

    class Meta:
        unknown = ma.RAISE

    data = fields.Dict(required=True)


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
        raise ValidationError("invalid request body", _pointers(e.messages)) from None
