"""schemathesis against the app's own OpenAPI document (issue 4): 0 server errors, every
response as documented (status code, content type, headers, body schema), and an OpenAPI 3.1
document that validates and resolves every ``$ref``.

The app runs in-process (WSGI) on the test database with a valid bearer token. Every
operation gets a few generated requests, positive and negative; operations on one record
are also tried against a real one (``{type}`` = person, ``{id}`` = a stored id) so PATCH,
DELETE, history and related meet stored data, not just 404s.
"""
from __future__ import annotations

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from xrm_core import accounts, kpis
from xrm_core.web import create_app

from fuzz_support import fuzz

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 15  # per operation and generation mode: finds the classes of 5xx, keeps the file < 60 s


@pytest.fixture
def fuzz_app(org):
    # Server errors must come back as responses (the checks look at them), not propagate.
    app = create_app(org, {"TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")
        kpis.add(org, conn, {"name": "avg_age", "label": "Average age", "unit": "years", "entity": "person",
                             "measure": {"avg": "age"}})
    with org.session("admin") as s:
        a = s.create("person", {"name": "Ada", "age": 36, "email": "ada@example.org", "national_id": "N1"})
        b = s.create("person", {"name": "Bob", "age": 20})
        rel = s.relate("knows", a.id, b.id)
        n = s.create("note", {"text": "hello"})
    app.config.update(FUZZ_TOKEN=token, FUZZ_IDS={"person": a.id, "note": n.id, "rel": rel["id"],
                                                  "kpi": "avg_age"})
    return app


def _on_real_data(operation, case, app):
    """The same request aimed at stored data, or None if the operation names no record.

    A DELETE gets a record of its own, so the shared ones stay for the other operations.
    """
    ids = app.config["FUZZ_IDS"]
    params = dict(case.path_parameters or {})
    path = operation.path
    if case.method == "DELETE" and path.startswith("/api/v1/records/"):
        type_name = path.split("/")[4]
        with app.extensions["xrm"].session("admin") as s:
            params["id"] = s.create(type_name, {"name": "x"} if type_name == "person" else {"text": "x"}).id
    elif path.startswith("/api/v1/relationships/"):
        params["id"] = ids["rel"]
    elif path.startswith("/api/v1/kpis/"):
        params["name"] = ids["kpi"]
    elif "{id}" in path:
        type_name = "person" if "{type}" in path else path.split("/")[4]
        params.update(id=ids[type_name], **({"type": "person"} if "{type}" in path else {}))
    else:
        return None
    return operation.Case(path_parameters=params, query=case.query, headers=case.headers, body=case.body,
                          media_type=case.media_type)


def test_api_conforms_to_its_openapi(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    assert list(schema.iter_schema_warnings()) == []  # e.g. an unresolvable $ref
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    headers = {"Authorization": f"Bearer {fuzz_app.config['FUZZ_TOKEN']}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz(operation, mode, headers=headers, checks=CHECKS, examples=EXAMPLES, statuses=statuses,
                             on_real_data=lambda case, op=operation: _on_real_data(op, case, fuzz_app))
    assert not failures, "\n\n".join(failures[-10:])
    assert len(statuses) >= 19
    # The fuzzing reached the handlers, not just the error paths.
    for label, code in [("POST /api/v1/records/person", 201), ("PATCH /api/v1/records/person/{id}", 200),
                        ("GET /api/v1/records/{type}/{id}/history", 200), ("GET /api/v1/kpis/{name}", 200),
                        ("GET /api/v1/records/{type}/{id}/related", 200), ("POST /api/v1/records/person", 422)]:
        assert code in statuses[label], (label, statuses[label])


def test_openapi_document_is_valid_31_with_every_ref_resolved(api_client):
    spec = api_client.get("/api/v1/openapi.json").json
    validate(spec)  # OpenAPI 3.1 (openapi-spec-validator picks the version from the document)
    assert spec["openapi"] == "3.1.0"
    schemas = spec["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in set(refs(spec)):
        assert ref.startswith("#/components/schemas/"), ref
        target = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(target, dict), ref
    # common.address refers to common.country: transitive $defs are published too
    assert schemas["common.address"]["properties"]["country"]["$ref"] == "#/components/schemas/common.country"
    assert "common.country" in schemas


def test_each_type_component_is_its_json_schema_with_refs_rewritten(api_client, org):
    schemas = api_client.get("/api/v1/openapi.json").json["components"]["schemas"]
    with org.session("admin") as s:
        for name in s.entity_types_map():
            original = s.entity_type(name).schema
            published = schemas[f"{name}.data"]
            expected = {k: v for k, v in original.items() if k not in ("$schema", "$id")}
            expected = _with_refs(expected, {
                "common.json#/$defs/address": "#/components/schemas/common.address",
                "https://xrm.dev/schemas/common.json#/$defs/phone": "#/components/schemas/common.phone"})
            assert published == expected, name
            assert schemas[f"{name}.record"]["properties"]["data"] == {"$ref": f"#/components/schemas/{name}.data"}


def _with_refs(node, mapping):
    if isinstance(node, dict):
        return {k: (mapping.get(v, v) if k == "$ref" else _with_refs(v, mapping)) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_refs(v, mapping) for v in node]
    return node


def test_local_refs_of_a_type_point_into_its_own_component(make_platform):
    from xrm_core.plugins import hookimpl

    class Defs:
        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [{"name": "thing", "schema": {
                "type": "object", "$defs": {"size": {"enum": ["S", "M", "L"]}},
                "properties": {"size": {"$ref": "#/$defs/size"}, "lang": {"$ref": "common.json#/$defs/lang"}}}}]

    app = create_app(make_platform(Defs()), {"TESTING": True})
    spec = app.test_client().get("/api/v1/openapi.json").json
    validate(spec)
    thing = spec["components"]["schemas"]["thing.data"]
    assert thing["properties"]["size"] == {"$ref": "#/components/schemas/thing.data/$defs/size"}
    assert thing["properties"]["lang"] == {"$ref": "#/components/schemas/common.lang"}
    assert "common.lang" in spec["components"]["schemas"]


@pytest.fixture
def api_client(org):
    return create_app(org, {"TESTING": True}).test_client()
