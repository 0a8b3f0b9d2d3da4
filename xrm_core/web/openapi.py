"""OpenAPI 3.1 document of the REST API, with one typed schema per entity type.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so an entity type's schema is embedded as it
is; only its references are rewritten to point into ``components/schemas`` (openapi_refs).
"""
from __future__ import annotations

from html import escape
from importlib.metadata import PackageNotFoundError, version

import xrm_schemas
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response

from ..fields import FIELD_RE, FIELD_RULE, sql_type
from ..filters import OPS
from ..instants import INSTANT, formats_of
from ..schema_types import has_pattern_properties
from ..validation import ALL_ERRORS_UP_TO
from . import envelopes
from .caches import documents
from .query import MAX_IN_VALUES, MAX_SORT_FIELDS
from .openapi_refs import SchemaComponents
from .openapi_refs import component as _component


def _type_label(et) -> str:
    label = et.label
    return label.get("en", next(iter(label.values()))) if isinstance(label, dict) else str(label)


def _problem_schema() -> dict:
    return {"type": "object", "required": ["title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                           "detail": {"type": "string"},
                           "errors": {"type": "array", "maxItems": 100, "items": {
                               "type": "object", "properties": {"pointer": {"type": "string"},
                                                                "message": {"type": "string"}}}},
                           "errors_omitted": {"type": "integer", "minimum": 1,
                                              "description": "How many errors past the first 100 were left out."},
                           "errors_incomplete": {"const": True, "description": ERRORS_INCOMPLETE}}}


#: When a problem's ``errors`` are not all there is (problems.problem).
ERRORS_INCOMPLETE = ("Present (true) when `errors` does not list every error: past the first 100 (`errors_omitted` "
                     f"counts the rest), or when record data larger than {ALL_ERRORS_UP_TO // 1024} KiB (as JSON) "
                     "was checked up to its first error only (`detail` says so; the rest are not counted). Fix "
                     "what is listed and send it again to learn of more.")


#: A record's id (records.new_id): 20 lowercase hex digits, time-ordered. Opaque to clients
#: all the same: compare and store them, do not take them apart.
RECORD_ID = {"type": "string", "pattern": "^[0-9a-f]{20}$",
             "description": "Opaque (20 lowercase hex digits): compare and store it, do not parse it."}

#: When a record was created or last changed (db.utcnow): UTC, always with microseconds and Z.
STAMP = {"type": "string", "format": "date-time",
         "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z$",
         "description": "UTC, with microseconds: `2026-11-25T15:27:47.123456Z`."}

#: A user's or unit's name: users and units are never renamed or deleted, so a record always
#: has all four (never null).
NAME = {"type": "string", "minLength": 1}


def _record_schema(data_ref: dict, type_name: str | None = None) -> dict:
    """A record as every answer holds it (records.Record.to_dict): of entity type ``type_name``
    (its ``type`` a const of the name) or, without one, of any type."""
    what = f"A record of entity type `{type_name}`" if type_name else "A record of any entity type"
    return {"type": "object",
            "description": f"{what}, as every answer holds one: all members are always present, none is null.",
            "required": ["id", "type", "data", "version", "owner", "unit", "created_at", "updated_at",
                         "created_by", "updated_by"],
            "properties": {"id": RECORD_ID,
                           "type": {"const": type_name} if type_name else {"type": "string", "minLength": 1},
                           "data": data_ref,
                           "version": {"type": "integer", "minimum": 1,
                                       "description": "1 when created, one more on every change; the ETag "
                                                      "(`\"3\"`) names it."},
                           "owner": {**NAME, "description": "The user who owns the record."},
                           "unit": {**NAME, "description": "The unit the record is in."},
                           "created_at": STAMP, "updated_at": STAMP,
                           "created_by": {**NAME, "description": "The user who created the record."},
                           "updated_by": {**NAME, "description": "The user who changed it last."}}}


#: ``*`` or a list of entity-tags (RFC 9110 §8.8.3; the list may be empty): what the server
#: reads (query.entity_tags); anything else is refused with a 400. An ETag that names no
#: version ("x") is well-formed and simply matches nothing (412 for If-Match), so the
#: pattern must not demand digits, or it would call a 412 request invalid.
IF_MATCH = r'^(\*|((W/)?"[^"]*")?(\s*,\s*(W/)?"[^"]*")*)$'


#: A KPI's unit as declared: text, or a Python KPI's translations by language (the REST API
#: returns definitions as declared; only the admin UI picks a language).
KPI_UNIT = {"type": ["string", "object"], "additionalProperties": {"type": "string"},
            "description": "As the KPI declares it: text (`percent`), or text by language "
                           "(`{\"en\": \"items\", \"zh\": \"件\"}`)."}


#: avg_duration's count of the records it left out, in a KPI result and in each of its groups.
ENDED_BEFORE_START = {"type": "integer", "minimum": 1,
                      "description": "avg_duration only, present when some records in scope (of this group, in a "
                                     "group) end before they start: how many were left out of value and n"}


def _shared_schemas(any_record: dict) -> dict:
    """Schemas of the non-record responses (types, relationships, history, KPIs); ``any_record``
    is the schema of a record of any of the document's types (a related record)."""
    nullable_str = {"type": ["string", "null"]}
    return {
        "EntityType": {"type": "object", "required": ["name", "schema"],
                       "properties": {"name": {"type": "string"}, "schema": {"type": "object"},
                                      "version": {"type": "integer"}}},
        "Relationship": {"type": "object", "required": ["id", "type", "source", "target", "data"],
                         "properties": {"id": RECORD_ID, "type": {"type": "string", "minLength": 1},
                                        "source": RECORD_ID, "target": RECORD_ID,
                                        "data": {"type": ["object", "null"]}}},
        "Activity": {"type": "object", "required": ["id", "record", "kind", "at", "actor"],
                     "properties": {"id": {"type": "integer"}, "record": {"type": "string"},
                                    "kind": {"type": "string"}, "at": {"type": "string"},
                                    "actor": {"type": "string"}, "summary": nullable_str,
                                    "payload": {"type": ["object", "null"]}, "record_type": {"type": "string"}}},
        "Related": {"type": "object", "required": ["relationship", "direction", "record"],
                    "properties": {"relationship": {"$ref": _component("Relationship")},
                                   "direction": {"enum": ["outgoing", "incoming"]},
                                   "record": any_record}},
        "KPI": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "waiting": {"type": "string", "description": KPI_WAITING}}},
        "KPIResult": {"type": "object", "required": ["kpi", "value", "unit", "n", "from", "to", "groups"],
                      "properties": {"kpi": {"type": "string"}, "value": {"type": ["number", "null"]},
                                     "unit": KPI_UNIT, "n": {"type": "integer", "minimum": 0},
                                     "from": nullable_str, "to": nullable_str,
                                     "ended_before_start": ENDED_BEFORE_START,
                                     "groups": {"type": "array", "items": {
                                         "type": "object", "required": ["key", "value", "n"],
                                         "properties": {"value": {"type": ["number", "null"]},
                                                        "n": {"type": "integer", "minimum": 0},
                                                        "ended_before_start": ENDED_BEFORE_START}}}}},
    }


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _ref_json(name: str, array: bool = False, items: bool = False) -> dict:
    schema = {"$ref": _component(name)}
    if array:
        schema = {"type": "array", "items": schema}
    if items:
        schema = {"type": "object", "required": ["items", "next"],
                  "properties": {"items": {"type": "array", "items": schema}, "next": {"type": ["string", "null"]}}}
    return _json(schema)


def _responses(*codes) -> dict:
    text = {400: "Malformed request", 401: "No or invalid token", 403: "No grant", 404: "Unknown or out of scope",
            409: "Conflict (unique key, cardinality)", 412: "If-Match does not match the version",
            413: "Request body too large",
            415: "Content-Type is not JSON (application/json, application/merge-patch+json), or a Content-Encoding "
                 "(gzip…) was sent: bodies are read uncompressed",
            422: "Validation failed",
            500: PLUGIN_FAILED,
            503: "Database busy: the database gave this change up so that another could go on (PostgreSQL: a "
                 "deadlock, a serialization failure or a lock timeout; SQLite: another process held the write lock "
                 "for the whole busy timeout, a long import?). Nothing was saved; send the same request again "
                 "after the seconds the `Retry-After` header gives"}
    problem = {"application/problem+json": {"schema": {"$ref": _component("Problem")}}}
    # Any request can be malformed (a NUL character in a parameter, bad JSON…), and any may
    # find the database busy.
    out = {str(c): {"description": text[c], "content": problem} for c in sorted({400, 503, *codes})}
    out["503"]["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again",
                                             "schema": {"type": "integer"}}}
    return out


#: The 500 of an operation that runs plugin code — record events on a write, a Python KPI, a
#: plugin's ``xrm_kpis`` — which any plugin's bug can end in (DESIGN §4: the change is rolled
#: back and the error names the plugin). Other server faults are not documented per operation.
PLUGIN_FAILED = ("A plugin failed (`title` \"Plugin failed\"): `detail` names the plugin and its hook, e.g. "
                 "`plugin 'x' failed in xrm_record_event(after_create): KeyError: 'y'`; nothing was changed")
#: The operations that run plugin code answer it besides their own (see PLUGIN_FAILED).
PLUGIN_ERRORS = (500,)

#: The optional ``unit`` of a POST body (envelopes.CreateBody).
CREATE_UNIT = {"type": ["string", "null"],
               "description": "The unit to place the record in (a unit's name), within the caller's create scope "
                              "(403 outside it, or for no such unit: only a caller who may create anywhere gets 404 "
                              "for a unit that does not exist); absent or null: the caller's unit."}

#: The answers any operation with a request body may give besides its own: a body over
#: MAX_CONTENT_LENGTH, a Content-Type other than JSON.
BODY_ERRORS = (413, 415)


def build_spec(s, max_limit: int = 1000) -> dict:
    """The OpenAPI 3.1 document for the entity types visible in session ``s``; ``max_limit``
    is the largest ``limit`` a list accepts (the app's API_MAX_LIMIT).

    Built once per process for each set of type versions (caches.DocumentCache) and then
    shared: callers must not change it.
    """
    # The document is public: building it afresh on every anonymous request let anyone make
    # the server pay for the largest schema again and again.
    return documents(s.platform).get(s.entity_types_map(), (max_limit,), lambda: _build_spec(s, max_limit))


def _build_spec(s, max_limit: int) -> dict:
    try:
        ver = version("xrm-platform")
    except PackageNotFoundError:
        ver = "0"
    spec = APISpec(title="xRM REST API", version=ver, openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
                   info={"description": "Records of JSON-Schema-defined entity types, relationships, history and KPIs. "
                                        "GET and DELETE requests carry no body: one sent is a 400, as an "
                                        "unknown query parameter is. " + EMPTY_PARAMETERS})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", _problem_schema())
    spec.components.schema("RecordBody", schema=envelopes.RecordBody)
    spec.components.schema("RelationshipBody", schema=envelopes.RelationshipBody)
    spec.components.schema("ActivityBody", schema=envelopes.ActivityBody)
    spec.components.schema("Record", _record_schema({"type": "object"}))
    types = sorted(s.entity_types_map())
    # A related record is of one of the types, which its ``type`` (a const in each) tells apart.
    any_record = {"oneOf": [{"$ref": _component(f"{n}.record")} for n in types]} if types \
        else {"$ref": _component("Record")}
    for name, schema in {**_shared_schemas(any_record), **FILTER_CONDITIONS}.items():
        spec.components.schema(name, schema)
    refs = SchemaComponents()
    # The JSON Schemas of the types go into the document as they are, after apispec has
    # built it: apispec reads a boolean subschema ("items": false) as the name of a
    # marshmallow schema and would publish a reference to a component "False".
    published = {}
    taken = set(GENERIC_OPERATIONS)
    for name in types:
        et = s.entity_type(name)
        data_name = f"{name}.data"
        published[data_name] = refs.rewrite(et.schema, f"{xrm_schemas.BASE_URI}{name}.type.json", data_name)
        spec.components.schema(f"{name}.record", _record_schema({"$ref": _component(data_name)}, name))
        _type_paths(spec, name, _type_label(et), max_limit, taken, filter_schema(et))
    published.update(refs.platform_components())
    published.update(refs.scoped)  # subschemas copied for the dynamic scope a reference reaches them in
    _generic_paths(spec, max_limit)
    out = spec.to_dict()
    out["components"]["schemas"].update(sorted(published.items()))
    out["security"] = [{"bearer": []}]
    return out


#: What an empty query parameter means: nothing, so it is refused (query.single, query.comma_list).
EMPTY_PARAMETERS = ("A query parameter given with an empty value (`sort=`, `cursor=`, `rel=`, `limit=`) is a 400 "
                    "naming it, as an unknown one is: leave a parameter out for its default. Only a filter's "
                    "value may be empty: `filter[F]=` finds the records whose F is the empty text.")


#: How fields order, in sorts and in lt/gt filters: text by code point, but a date-time field
#: by instant (an integrator comparing date-times written in several offsets expects that).
TEXT_ORDER = ("Text compares by Unicode code point (`YYYY-MM-DD` dates order as time does). A field of "
              "`format: date-time` compares and sorts by the instant it names, whatever the offset: its filter "
              "values are RFC 3339 date-times, or a date `YYYY-MM-DD` for `lt`/`lte`/`gt`/`gte`, compared with "
              "the day written in each value.")


#: The property names a filter or a sort can name. A type's schema may name properties
#: otherwise (``$x``, ``a.b``): they are stored and returned, but a filter on one is a 400,
#: which the document did not say.
FIELD_NAMES = (f"A filter's F, and a sort field, is made of {FIELD_RULE}: a property whose name holds "
               "another character (`$x`) or a dot (`a.b`, read as the nested field `b` of `a`) cannot be "
               "filtered or sorted on (400).")


#: A ``sort`` value: comma-separated items, none empty (query.sort_fields says more of a bad one).
SORT_PATTERN = "^[^,]+(,[^,]+)*$"


#: How the ``filter`` parameter is written: the one filter language of DESIGN §3 as query parameters.
FILTER_HELP = (
    "Conditions on the record's fields, ANDed: `filter[F]=V` (equal), `filter[F][op]=V` with op one of "
    "`eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in` (comma-separated values: `filter[F][in]=A,B`; a value "
    f"cannot hold a comma; at least one and at most {MAX_IN_VALUES} values, none empty: `filter[F][in]=` and "
    "`filter[F][in]=A,,B` are 400s — the empty text is found with `filter[F]=`) or `exists` (`true`/`false`). "
    "F is a field of the type, dotted for nested objects (`filter[address.city]=X`); V is read as the field's type (for a field of no single type, "
    "such as an enum of mixed types, as JSON when it parses to a scalar — `1`, `true`, `null`, `\"1\"` for "
    "the text — else as the text given). Each condition is given once. An `eq` value, or an `in` list, that "
    "the field's `enum` or `const` cannot hold matches no record and is refused (400), as a misspelt value "
    "is (an `in` list with one possible value is not). "
    "A bad filter is a 400 whose error points at the parameter (`/query/filter[F][op]`). " + TEXT_ORDER + " "
    + FIELD_NAMES)


#: How a query holds the values of ``filter[F][in]`` (query.comma_list): one or more, none empty.
IN_LIST = {"type": "string", "pattern": "^[^,]+(,[^,]+)*$"}
#: ``filter[F][exists]`` (query.parse_filters).
EXISTS = {"enum": ["true", "false"]}
#: A filter value of a numeric field: a number as JSON writes it (filters.NUMBER_RE), zeros in
#: front allowed; beyond 64 bits, or more digits than a double keeps, it is still a 400.
NUMBER_VALUE = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"}
#: A filter value of a boolean field (filters.coerce): true or false, in any case.
BOOLEAN_VALUE = {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"}
#: A filter value of a ``format: date`` field (filters._check_dates).
DATE_VALUE = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
#: A filter value of a ``format: date-time`` field (filters._instant): an RFC 3339 date-time;
#: for lt/lte/gt/gte also a date.
DATE_TIME_VALUE = {"type": "string", "pattern": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                                                 r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$")}
DAY_OR_DATE_TIME = {"anyOf": [DATE_VALUE, DATE_TIME_VALUE]}
COMPARISONS = ("lt", "lte", "gt", "gte")


def _in_list(value: dict) -> dict:
    """``filter[F][in]``: one or more comma-separated values of schema ``value``, each of its
    ``pattern`` when it has one, else anything but a comma (IN_LIST)."""
    if "pattern" not in value:
        return IN_LIST
    one = f"({value['pattern'].removeprefix('^').removesuffix('$')})"
    return {"type": "string", "pattern": f"^{one}(,{one})*$"}


def _condition(equal: dict | None, ordered: dict | None = None) -> dict:
    """The schema of one field's condition: ``filter[F]=V`` (a string, when the field can
    equal one: ``equal``) or ``filter[F][op]=V`` (an object of the operators the field takes,
    at least one): ``eq``/``ne``/``in`` of ``equal`` values, the comparisons of ``ordered``
    values (left out when the field has no order), ``exists`` always."""
    ops = {"exists": EXISTS}
    if equal is not None:
        ops.update(eq=equal, ne=equal, **{"in": _in_list(equal)})
    if ordered is not None:
        ops.update({op: ordered for op in COMPARISONS})
    ops = {op: ops[op] for op in OPS if op in ops}  # in the filter language's order
    operators = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": ops}
    return {"oneOf": [equal, operators]} if equal is not None else operators


#: The conditions a filter's field takes, by the field's type (filters.coerce), published once
#: in ``components/schemas`` and referred to by each field: text, or a field of no single type
#: (values read as JSON scalars) and a nested path, whose type the document does not name,
#: take any string; booleans have no order (lt… are 400s); an array or object is compared by
#: nothing but presence.
FILTER_CONDITIONS = {
    "FilterText": _condition({"type": "string"}, {"type": "string"}),
    "FilterNumber": _condition(NUMBER_VALUE, NUMBER_VALUE),
    "FilterBoolean": _condition(BOOLEAN_VALUE),
    "FilterDate": _condition(DATE_VALUE, DATE_VALUE),
    "FilterDateTime": _condition(DATE_TIME_VALUE, DAY_OR_DATE_TIME),
    "FilterPresence": _condition(None),
}
ANY_CONDITION = {"$ref": _component("FilterText")}
#: The ``filter`` parameter where no entity type is known.
ANY_FIELD_FILTER = {"type": "object", "additionalProperties": ANY_CONDITION}


def _field_condition(et, field: str) -> dict:
    """A reference to the condition ``filter[field]`` takes (FILTER_CONDITIONS)."""
    kind = sql_type(et, field)
    if kind in ("integer", "number"):
        name = "FilterNumber"
    elif kind == "boolean":
        name = "FilterBoolean"
    elif kind == INSTANT:
        name = "FilterDateTime"
    elif kind in ("array", "object"):
        name = "FilterPresence"
    elif kind == "string" and formats_of(et.schema, et.property_schema(field)) == {"date"}:
        name = "FilterDate"
    else:
        name = "FilterText"
    return {"$ref": _component(name)}


def filter_schema(et) -> dict:
    """The ``filter`` parameter (deepObject) of entity type ``et``'s list: by field, a string
    (``filter[F]=V``, equality) or an object of operators (``filter[F][gte]=V``), each value
    as the field's type reads it. Top-level fields are listed; a dotted path (a nested field)
    takes any condition; any other name is no field (400) — unless the type's schema has
    ``patternProperties``, whose names are fields too: then any name takes any condition."""
    fields = {name: _field_condition(et, name) for name in et.properties()
              if "." not in name and FIELD_RE.match(name)}
    others = ANY_CONDITION if has_pattern_properties(et.schema, et.schema) else False
    return {"type": "object", "properties": fields, "patternProperties": {"[.]": ANY_CONDITION},
            "additionalProperties": others}


#: What the database cannot store, though the type's JSON Schema admits it: said here, as
#: no schema keyword can say it of every string and key.
STORAGE_LIMITS = ("Text (values and keys) cannot contain NUL (U+0000), integers must fit in 64 bits and "
                  "other numbers in a double (about ±1.8e308; store larger ones as strings), and a `date-time` "
                  "must name an instant within the years 0001–9999 in UTC (`0001-01-01T00:30:00+01:00` is in "
                  "year 0000): each is a 422 pointing at the value. The type's schema's `format`s that JSON Schema "
                  "defines (`date`, `date-time`, `email`, `uri`, `uuid`…) are asserted (its format-assertion "
                  "vocabulary), though OpenAPI 3.1 makes `format` an annotation by default: a value not of its "
                  "format is a 422 too.")


#: The operationIds of the paths every document has (:func:`_generic_paths`).
GENERIC_OPERATIONS = ("list_types", "get_type", "related", "history", "log", "relate", "unrelate",
                      "list_kpis", "compute_kpi")


def _operation_ids(name: str, taken: set) -> dict[str, str]:
    """``{verb: operationId}`` of the operations on entity type ``name``: ``list_NAME``,
    ``create_NAME``… unless one is already ``taken`` (then ``list_NAME_records``, …).

    OpenAPI requires unique operationIds; a type named ``types``, ``type`` or ``kpis`` gave
    ``list_types``, ``get_type`` or ``list_kpis`` twice, a document that does not validate
    and that client generators refuse. The ids of every other type stay as they were.
    """
    verbs = ("list", "create", "get", "update", "delete")
    for suffix in ("", "_records", *(f"_records_{n}" for n in range(2, 100))):
        ids = {v: f"{v}_{name}{suffix}" for v in verbs}
        if taken.isdisjoint(ids.values()):
            taken.update(ids.values())
            return ids
    raise ValueError(f"no free operationId for entity type {name!r}")  # 99 types would have to clash


def _type_paths(spec, name: str, label: str, max_limit: int = 1000, taken: set | None = None,
                filters: dict | None = None) -> None:
    ids = _operation_ids(name, set(GENERIC_OPERATIONS) if taken is None else taken)
    rec = {"$ref": _component(f"{name}.record")}
    data = {"$ref": _component(f"{name}.data")}
    json_of = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    etag = {"ETag": {"schema": {"type": "string", "pattern": '^"[0-9]+"$'}, "description": "The record's version"}}
    created = {**etag, "Location": {"schema": {"type": "string"}, "required": True,
                                    "description": "The new record's path"}}
    if_match = {"name": "If-Match", "in": "header", "schema": {"type": "string", "pattern": IF_MATCH},
                "description": 'The ETag last seen (`"3"`, quoted), several comma-separated, or `*`; '
                               '412 if none matches, 400 if it is not an ETag list.'}
    if_none_match = {"name": "If-None-Match", "in": "header", "schema": {"type": "string", "pattern": IF_MATCH},
                     "description": "304 without a body if the record is still at this ETag."}
    if_none_match_write = {**if_none_match, "description": "412 if the record is at one of these ETags (`*`: at any)."}
    list_params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": max_limit}},
        {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1},
         "description": "The `next` of the previous page, with the same `sort` and filters; leave it out for the "
                        "first page (`cursor=` is a 400)."},
        {"name": "sort", "in": "query", "schema": {"type": "string", "pattern": SORT_PATTERN},
         "description": "Comma-separated fields of the type; prefix - for descending. Fields of one scalar "
                        "type only (not arrays, objects or untyped fields); absent values come last. Each field "
                        f"once, at most {MAX_SORT_FIELDS} of them, no item empty (`sort=`, `sort=,` and `name,` are "
                        f"400s): leave `sort` out for creation order. {TEXT_ORDER} {FIELD_NAMES}"},
        {"name": "filter", "in": "query", "style": "deepObject", "explode": True,
         "schema": filters or ANY_FIELD_FILTER, "description": FILTER_HELP},
    ]
    spec.path(path=f"/api/v1/records/{name}", operations={
        "get": {"tags": [name], "summary": f"List {label} records", "operationId": ids["list"],
                "parameters": list_params,
                "responses": {"200": {"description": "A page", "content": json_of({
                    "type": "object", "required": ["items", "next"],
                    "properties": {"items": {"type": "array", "items": rec}, "next": {"type": ["string", "null"]}}})},
                    **_responses(400, 401, 403, 404)}},
        "post": {"tags": [name], "summary": f"Create a record ({label})", "operationId": ids["create"],
                 "requestBody": {"required": True, "description": STORAGE_LIMITS, "content": json_of({
                     "type": "object", "required": ["data"], "additionalProperties": False,
                     "properties": {"data": data, "unit": CREATE_UNIT}})},
                 "responses": {"201": {"description": "Created", "headers": created, "content": json_of(rec),
                                       "links": _record_links(ids)},
                               **_responses(400, 401, 403, 404, 409, 422, *BODY_ERRORS, *PLUGIN_ERRORS)}},
    })
    # {"data": patch}: a JSON merge patch (RFC 7396), sent as either media type (not JSON Patch).
    patch_body = {"schema": {"type": "object", "required": ["data"], "additionalProperties": False,
                             "properties": {"data": {"type": "object"}}}}
    merge_patch = {"application/json": patch_body, "application/merge-patch+json": patch_body}
    spec.path(path=f"/api/v1/records/{name}/{{id}}", operations={
        "get": {"tags": [name], "summary": f"Get a record ({label})", "operationId": ids["get"],
                "parameters": [id_param, if_none_match],
                "responses": {"200": {"description": "The record", "headers": etag, "content": json_of(rec)},
                              "304": {"description": "Not modified (If-None-Match)", "headers": etag},
                              **_responses(401, 404)}},
        "patch": {"tags": [name], "summary": f"Update a record ({label}): JSON merge patch of data",
                  "operationId": ids["update"],
                  "parameters": [id_param, if_match, if_none_match_write],
                  "requestBody": {"required": True, "description": STORAGE_LIMITS, "content": merge_patch},
                  "responses": {"200": {"description": "Updated", "headers": etag, "content": json_of(rec)},
                                **_responses(400, 401, 403, 404, 409, 412, 422, *BODY_ERRORS, *PLUGIN_ERRORS)}},
        "delete": {"tags": [name], "summary": f"Delete a record ({label})", "operationId": ids["delete"],
                   "parameters": [id_param, if_match, if_none_match_write],
                   "responses": {"204": {"description": "Deleted"}, **_responses(401, 403, 404, 409, 412, *PLUGIN_ERRORS)}},
    })


def _record_links(ids: dict[str, str]) -> dict:
    """OpenAPI links from an answer holding a record (its ``id`` and ``type``) to what can be
    done with it next: read, change or delete it, its related records, its timeline."""
    own = {"id": "$response.body#/id"}
    generic = {"type": "$response.body#/type", **own}
    return {"GetRecord": {"operationId": ids["get"], "parameters": own},
            "UpdateRecord": {"operationId": ids["update"], "parameters": own},
            "DeleteRecord": {"operationId": ids["delete"], "parameters": own},
            "RelatedRecords": {"operationId": "related", "parameters": generic},
            "History": {"operationId": "history", "parameters": generic},
            "LogActivity": {"operationId": "log", "parameters": generic}}


def _generic_paths(spec, max_limit: int = 1000) -> None:
    spec.path(path="/api/v1/types", operations={"get": {
        "summary": "Entity types", "operationId": "list_types",
        "responses": {"200": {"description": "Entity type definitions", "content": _ref_json("EntityType", array=True)},
                      **_responses(401)}}})
    spec.path(path="/api/v1/types/{name}", operations={"get": {
        "summary": "One entity type", "operationId": "get_type",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Its definition", "content": _ref_json("EntityType")},
                      **_responses(401, 404)}}})
    rec_params = [{"name": "type", "in": "path", "required": True, "schema": {"type": "string"}},
                  {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    spec.path(path="/api/v1/records/{type}/{id}/related", operations={"get": {
        "summary": "Related records, both directions", "operationId": "related",
        "parameters": rec_params + [{"name": "rel", "in": "query", "schema": {"type": "string", "minLength": 1},
                                     "description": "Only relationships of this type (400 if there is no such type)."},
                                    {"name": "limit", "in": "query",
                                     "schema": {"type": "integer", "minimum": 1, "maximum": max_limit},
                                     "description": "Related records per page (default: all of them, `next` null)."},
                                    {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1},
                                     "description": "The `next` of the previous page."}],
        "responses": {"200": {"description": "Related records, outgoing links first: all on one page, or with "
                                             "`limit` a page at a time",
                              "content": _ref_json("Related", items=True)},
                      **_responses(400, 401, 404)}}})
    spec.path(path="/api/v1/records/{type}/{id}/history", operations={
        "get": {"summary": "The record's timeline", "operationId": "history",
                "description": "A deleted record's timeline (ending with its `deleted` entry) stays readable "
                               "to whoever could read the record.",
                "parameters": rec_params + [
                    {"name": "related", "in": "query", "schema": {"enum": ["true", "false", "1", "0"]},
                     "description": "Also the activities of the visible related records."},
                    {"name": "order", "in": "query", "schema": {"enum": ["oldest", "newest"]},
                     "description": "oldest first (default) or the latest first."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": max_limit},
                     "description": "Entries per page (default: the whole timeline)."},
                    {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1},
                     "description": "The `next` of the previous page."}],
                "responses": {"200": {"description": "Activities, a page at a time", "content": _json(
                    {"type": "object", "required": ["items", "next"],
                     "properties": {"items": {"type": "array", "items": {"$ref": _component("Activity")}},
                                    "next": {"type": ["string", "null"]}}})},
                              **_responses(400, 401, 404)}},
        "post": {"summary": "Log an interaction", "operationId": "log", "parameters": rec_params,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": _component("ActivityBody")}}}},
                 "responses": {"201": {"description": "Logged", "content": _ref_json("Activity")},
                               **_responses(400, 401, 403, 404, 422, *BODY_ERRORS)}}})
    spec.path(path="/api/v1/relationships", operations={"post": {
        "summary": "Relate two records", "operationId": "relate",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": _component("RelationshipBody")}}}},
        "responses": {"201": {"description": "Related", "content": _ref_json("Relationship")},
                      **_responses(400, 401, 403, 404, 409, 422, *BODY_ERRORS)}}})
    spec.path(path="/api/v1/relationships/{id}", operations={"delete": {
        "summary": "Remove a relationship", "operationId": "unrelate",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"204": {"description": "Removed"}, **_responses(401, 403, 404, 409)}}})
    spec.path(path="/api/v1/kpis", operations={"get": {
        "summary": "KPIs the caller may compute", "operationId": "list_kpis",
        "description": "Sorted by name. A KPI of a plugin installed since the last `xrm init` is listed with "
                       "`waiting`: " + KPI_WAITING,
        "responses": {"200": {"description": "KPI definitions", "content": _ref_json("KPI", array=True)},
                      **_responses(401, *PLUGIN_ERRORS)}}})
    spec.path(path="/api/v1/kpis/{name}", operations={"get": {
        "summary": "Compute a KPI in the caller's scope", "operationId": "compute_kpi",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "by", "in": "query", "schema": {"type": "string", "minLength": 1}}],
        "responses": {"200": {"description": "{kpi, value, unit, n, from, to, groups}", "content": _ref_json("KPIResult")},
                      **_responses(400, 401, 403, 404, *PLUGIN_ERRORS), "503": _kpi_unavailable()}}})


#: What a KPI's ``waiting`` member means (api_kpis): said in the list and in the 503 of a compute.
KPI_WAITING = ("why the KPI cannot be computed yet: its plugin was installed or upgraded since the last "
               "`xrm init`, which stores the plugin's entity types. Computing it answers 503 until an operator "
               "runs `xrm init`. Absent on the KPIs that can be computed.")


def _kpi_unavailable() -> dict:
    """The 503 of ``GET /kpis/{name}``: a busy database, or a KPI waiting for ``xrm init``."""
    return {"description": "Database busy (try again), or the KPI waits for `xrm init`: its plugin was installed "
                           "or upgraded since the database was last initialised. Then the problem's `kpi` names "
                           "the KPI and `detail` says what an operator must do; retrying does not help until "
                           "`xrm init` has run.",
            "content": {"application/problem+json": {"schema": {
                "allOf": [{"$ref": _component("Problem")}],
                "properties": {"kpi": {"type": "string", "description": "The KPI that waits for `xrm init`."}}}}}}


def docs_page(s) -> Response:
    """A browsable, dependency-free HTML page of the API (server-rendered from the spec)."""
    spec = build_spec(s)
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                        f"<td>{escape(op.get('summary', ''))}</td></tr>")
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>xRM REST API</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}td{padding:.2rem .8rem;border-bottom:1px solid #ddd}"
        "code{font-size:.95em}</style></head><body><h1>xRM REST API</h1>"
        "<p>Authenticate with <code>Authorization: Bearer TOKEN</code> (create one with <code>xrm tokens create USER</code>). "
        "Errors are <code>application/problem+json</code>. The machine-readable document is "
        "<a href='openapi.json'>openapi.json</a> (OpenAPI 3.1).</p>"
        f"<table><thead><tr><th>method</th><th>path</th><th>what</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</body></html>")
    return Response(html, mimetype="text/html")
