"""OpenAPI 3.1 document of the REST API, with one typed schema per entity type.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so an entity type's schema is embedded as it
is; only ``$ref``s are rewritten to point into ``components/schemas``.
"""
from __future__ import annotations

from html import escape
from importlib.metadata import PackageNotFoundError, version

import xrm_schemas
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response

from . import envelopes

COMMON = "https://xrm.dev/schemas/common.json"


def _component(name: str) -> str:
    return f"#/components/schemas/{name}"


def _rewrite(node, own: str, used_common: set):
    """Copy of a schema with $refs pointing into components; drops $schema/$id."""
    if isinstance(node, list):
        return [_rewrite(x, own, used_common) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("$schema", "$id"):
            continue
        if k == "$ref" and isinstance(v, str):
            out[k] = _ref(v, own, used_common)
        else:
            out[k] = _rewrite(v, own, used_common)
    return out


def _ref(ref: str, own: str, used_common: set) -> str:
    url, _, frag = ref.partition("#")
    if url in ("common.json", COMMON) and frag.startswith("/$defs/"):
        name = frag[len("/$defs/"):]
        used_common.add(name)
        return _component(f"common.{name}")
    if url == "":
        return _component(own) + frag
    return ref


def _type_label(et) -> str:
    label = et.label
    return label.get("en", next(iter(label.values()))) if isinstance(label, dict) else str(label)


def _problem_schema() -> dict:
    return {"type": "object", "required": ["title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                           "detail": {"type": "string"},
                           "errors": {"type": "array", "items": {
                               "type": "object", "properties": {"pointer": {"type": "string"},
                                                                "message": {"type": "string"}}}}}}


def _record_schema(data_ref: dict) -> dict:
    return {"type": "object",
            "required": ["id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"],
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "data": data_ref,
                           "version": {"type": "integer", "minimum": 1},
                           "owner": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]},
                           "created_at": {"type": "string"}, "updated_at": {"type": "string"},
                           "created_by": {"type": ["string", "null"]}, "updated_by": {"type": ["string", "null"]}}}


def _responses(*codes) -> dict:
    text = {400: "Malformed request", 401: "No or invalid token", 403: "No grant", 404: "Unknown or out of scope",
            409: "Conflict (unique key, cardinality)", 412: "If-Match does not match the version",
            422: "Validation failed"}
    problem = {"application/problem+json": {"schema": {"$ref": _component("Problem")}}}
    return {str(c): {"description": text[c], "content": problem} for c in codes}


def build_spec(s) -> dict:
    """The OpenAPI 3.1 document for the entity types visible in session ``s``."""
    try:
        ver = version("xrm-platform")
    except PackageNotFoundError:
        ver = "0"
    spec = APISpec(title="xRM REST API", version=ver, openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
                   info={"description": "Records of JSON-Schema-defined entity types, relationships, history and KPIs."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", _problem_schema())
    spec.components.schema("RecordBody", schema=envelopes.RecordBody)
    spec.components.schema("RelationshipBody", schema=envelopes.RelationshipBody)
    spec.components.schema("ActivityBody", schema=envelopes.ActivityBody)
    spec.components.schema("Record", _record_schema({"type": "object"}))
    used_common: set = set()
    names = sorted(s.entity_types_map())
    for name in names:
        et = s.entity_type(name)
        data_name = f"{name}.data"
        spec.components.schema(data_name, _rewrite(et.schema, data_name, used_common))
        spec.components.schema(f"{name}.record", _record_schema({"$ref": _component(data_name)}))
        _type_paths(spec, name, _type_label(et))
    common = xrm_schemas.load("common.json")["$defs"]
    pending = set(used_common)
    done: set = set()
    while pending:
        n = pending.pop()
        done.add(n)
        refs: set = set()
        spec.components.schema(f"common.{n}", _rewrite(common[n], f"common.{n}", refs))
        # common $defs refer to each other with "#/$defs/x": map those too
        pending |= {r for r in refs if r not in done}
    _generic_paths(spec)
    out = spec.to_dict()
    out["security"] = [{"bearer": []}]
    for n in done:
        _fix_common_local_refs(out["components"]["schemas"][f"common.{n}"])
    return out


def _fix_common_local_refs(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "/components/schemas/common." in ref and "/$defs/" in ref:
            node["$ref"] = _component("common." + ref.rsplit("/$defs/", 1)[1])
        for v in node.values():
            _fix_common_local_refs(v)
    elif isinstance(node, list):
        for v in node:
            _fix_common_local_refs(v)


def _type_paths(spec, name: str, label: str) -> None:
    rec = {"$ref": _component(f"{name}.record")}
    data = {"$ref": _component(f"{name}.data")}
    json_of = lambda schema: {"application/json": {"schema": schema}}  # noqa: E731
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    etag = {"ETag": {"schema": {"type": "string"}, "description": "The record's version"}}
    list_params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"type": "string"},
         "description": "Comma-separated fields of the type; prefix - for descending."},
    ]
    spec.path(path=f"/api/v1/records/{name}", operations={
        "get": {"tags": [name], "summary": f"List {label} records", "operationId": f"list_{name}",
                "parameters": list_params,
                "responses": {"200": {"description": "A page", "content": json_of({
                    "type": "object", "required": ["items", "next"],
                    "properties": {"items": {"type": "array", "items": rec}, "next": {"type": ["string", "null"]}}})},
                    **_responses(400, 401, 403, 404)}},
        "post": {"tags": [name], "summary": f"Create a {label}", "operationId": f"create_{name}",
                 "requestBody": {"required": True, "content": json_of({
                     "type": "object", "required": ["data"], "additionalProperties": False,
                     "properties": {"data": data}})},
                 "responses": {"201": {"description": "Created", "headers": etag, "content": json_of(rec)},
                               **_responses(400, 401, 403, 404, 409, 422)}},
    })
    spec.path(path=f"/api/v1/records/{name}/{{id}}", operations={
        "get": {"tags": [name], "summary": f"Get a {label}", "operationId": f"get_{name}",
                "parameters": [id_param],
                "responses": {"200": {"description": "The record", "headers": etag, "content": json_of(rec)},
                              **_responses(401, 404)}},
        "patch": {"tags": [name], "summary": f"Update a {label} (JSON merge patch of data)",
                  "operationId": f"update_{name}",
                  "parameters": [id_param, {"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
                  "requestBody": {"required": True, "content": json_of({
                      "type": "object", "required": ["data"], "additionalProperties": False,
                      "properties": {"data": {"type": "object"}}})},
                  "responses": {"200": {"description": "Updated", "headers": etag, "content": json_of(rec)},
                                **_responses(400, 401, 403, 404, 409, 412, 422)}},
        "delete": {"tags": [name], "summary": f"Delete a {label}", "operationId": f"delete_{name}",
                   "parameters": [id_param, {"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
                   "responses": {"204": {"description": "Deleted"}, **_responses(401, 403, 404, 409, 412)}},
    })


def _generic_paths(spec) -> None:
    spec.path(path="/api/v1/types", operations={"get": {
        "summary": "Entity types", "operationId": "list_types",
        "responses": {"200": {"description": "Entity type definitions"}, **_responses(401)}}})
    spec.path(path="/api/v1/types/{name}", operations={"get": {
        "summary": "One entity type", "operationId": "get_type",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Its definition"}, **_responses(401, 404)}}})
    rec_params = [{"name": "type", "in": "path", "required": True, "schema": {"type": "string"}},
                  {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    spec.path(path="/api/v1/records/{type}/{id}/related", operations={"get": {
        "summary": "Related records, both directions", "operationId": "related",
        "parameters": rec_params + [{"name": "rel", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Related records"}, **_responses(401, 404)}}})
    spec.path(path="/api/v1/records/{type}/{id}/history", operations={
        "get": {"summary": "The record's timeline", "operationId": "history", "parameters": rec_params,
                "responses": {"200": {"description": "Activities, oldest first"}, **_responses(401, 404)}},
        "post": {"summary": "Log an interaction", "operationId": "log", "parameters": rec_params,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": _component("ActivityBody")}}}},
                 "responses": {"201": {"description": "Logged"}, **_responses(400, 401, 404, 422)}}})
    spec.path(path="/api/v1/relationships", operations={"post": {
        "summary": "Relate two records", "operationId": "relate",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": _component("RelationshipBody")}}}},
        "responses": {"201": {"description": "Related"}, **_responses(400, 401, 403, 404, 409, 422)}}})
    spec.path(path="/api/v1/relationships/{id}", operations={"delete": {
        "summary": "Remove a relationship", "operationId": "unrelate",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"204": {"description": "Removed"}, **_responses(401, 403, 404)}}})
    spec.path(path="/api/v1/kpis", operations={"get": {
        "summary": "KPIs", "operationId": "list_kpis",
        "responses": {"200": {"description": "KPI definitions"}, **_responses(401)}}})
    spec.path(path="/api/v1/kpis/{name}", operations={"get": {
        "summary": "Compute a KPI in the caller's scope", "operationId": "compute_kpi",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "by", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "{kpi, value, unit, n, from, to, groups}"},
                      **_responses(400, 401, 404)}}})


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
