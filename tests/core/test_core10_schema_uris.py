"""Entity-type schemas whose URIs are ambiguous, or whose references reach nothing, are
refused when a type is added or changed (xrm_core.schema_uris): two subschemas claiming one
``$id`` or one anchor of a resource (the validator picks one by an order of its own, field
types and indexes read the first), an ``$id`` claiming a platform schema's URI, a ``$ref`` to
an anchor, pointer or resource that does not exist (even in a ``$defs`` entry nothing uses
yet, which the validator skips but /openapi.json publishes). Nothing is ever fetched. A type
stored before these checks still loads, and `xrm init` keeps going over it."""
from __future__ import annotations

import copy
import http.server
import itertools
import json
import os
import threading

import pytest
from conftest import empty_database
from sqlalchemy import select

from xrm_core import Platform, db, entity_types, schema_uris
from xrm_core.errors import DefinitionError
from xrm_core.plugins import hookimpl, make_plugin_manager
from xrm_core.schema_index import normal_uri
from xrm_core.web.openapi import build_spec

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")


@pytest.fixture
def refused(shared):
    """``refused(schema, name=None)``: the errors of adding a type of ``schema`` (none: it was
    added); a refused type leaves nothing stored."""
    def run(schema: dict, name: str | None = None) -> list[dict]:
        name = name or f"core10_{next(_names)}"
        try:
            with shared.p.connection() as conn:
                entity_types.add(conn, {"name": name, "schema": copy.deepcopy(schema)})
        except DefinitionError as e:
            assert shared.stored(name) == ([], [], set())
            return e.errors
        return []
    return run


def two(first: dict, second: dict, **more) -> dict:
    return {"type": "object", "properties": {"a": {"type": "string"}}, "$defs": {"a": first, "b": second}, **more}


# -- anchors -------------------------------------------------------------------------------
@pytest.mark.parametrize("first, second", [("$anchor", "$anchor"), ("$dynamicAnchor", "$dynamicAnchor"),
                                           ("$dynamicAnchor", "$anchor"), ("$anchor", "$dynamicAnchor")])
def test_one_anchor_name_twice_in_a_resource_is_refused_at_the_second_naming_the_first(first, second, refused):
    # Both keywords make the same plain-name fragment "#n" (JSON Schema 2020-12 §8.2.2).
    errors = refused(two({first: "n", "type": "string"}, {second: "n", "type": "integer"}))
    assert [e["pointer"] for e in errors] == [f"/schema/$defs/b/{second}"]
    assert f"/schema/$defs/a/{first}" in errors[0]["message"] and "'n'" in errors[0]["message"]


def test_an_anchor_twice_in_nested_subschemas_of_one_resource_is_refused_in_document_order(refused):
    schema = {"type": "object", "$anchor": "top",
              "properties": {"x": {"type": "object", "properties": {"y": {"$anchor": "top"}}}}}
    errors = refused(schema)
    assert [e["pointer"] for e in errors] == ["/schema/properties/x/properties/y/$anchor"]
    assert "declared at /schema/$anchor" in errors[0]["message"]


def test_one_subschema_declaring_an_anchor_by_both_keywords_is_accepted(refused):
    # Both names are one schema's: nothing is ambiguous, and the validator reads it so.
    assert refused(two({"$anchor": "n", "$dynamicAnchor": "n", "type": "string"}, {"type": "integer"})) == []


def test_what_only_looks_like_a_declaration_claims_nothing(refused):
    # A property may be named $anchor or $id, and a const or default may hold one: data, not
    # identifiers (the validator reads them so too).
    schema = {"type": "object", "$anchor": "n",
              "properties": {"$anchor": {"type": "string"}, "$id": {"type": "string"},
                             "c": {"const": {"$anchor": "n", "$id": "a.json"}, "default": {"$anchor": "n"}}},
              "$defs": {"a": {"$id": "a.json", "examples": [{"$id": "a.json"}]}}}
    assert refused(schema) == []


def test_one_anchor_in_two_embedded_resources_is_accepted(shared, refused):
    # Different base URIs: a.json#n and b.json#n are two URIs.
    schema = {"type": "object",
              "properties": {"a": {"$ref": "a.json#n"}, "b": {"$ref": "b.json#n"}},
              "$defs": {"x": {"$id": "a.json", "$defs": {"n": {"$anchor": "n", "type": "string"}}},
                        "y": {"$id": "b.json", "$defs": {"n": {"$anchor": "n", "type": "integer"}}}}}
    assert refused(schema) == []
    name = shared.add({"schema": schema})
    with shared.p.session() as s:
        s.create(name, {"a": "text", "b": 1})
        et = s.entity_type(name)
    assert (et.field_type("a"), et.field_type("b")) == ("string", "integer")
    assert not et.is_valid({"a": 1}) and not et.is_valid({"b": "text"})


@pytest.mark.parametrize("name", ["1n", "a b", "a/b", "", "n#"])
def test_an_anchor_that_is_no_plain_name_is_refused_by_the_meta_schema(shared, name):
    for keyword in ("$anchor", "$dynamicAnchor"):
        info = shared.refuse({"schema": {"type": "object", "$defs": {"x": {keyword: name}}}})
        assert [e["pointer"] for e in info.errors] == [f"/schema/$defs/x/{keyword}"]


# -- $id -------------------------------------------------------------------------------------
@pytest.mark.parametrize("first, second, uri", [
    ("a.json", "a.json", "https://xrm.dev/schemas/a.json"),                       # relative, twice
    ("a.json", "https://xrm.dev/schemas/a.json", "https://xrm.dev/schemas/a.json"),  # relative and absolute
    ("a.json", "HTTPS://XRM.dev/schemas/sub/../a.json#", "https://xrm.dev/schemas/a.json"),  # spelled otherwise
    ("urn:example:a", "urn:example:a", "urn:example:a"),
])
def test_two_subschemas_with_one_id_are_refused_at_the_second(first, second, uri, refused):
    errors = refused(two({"$id": first, "type": "string"}, {"$id": second, "type": "integer"}))
    assert [e["pointer"] for e in errors] == ["/schema/$defs/b/$id"]
    assert uri in errors[0]["message"] and "the $id at /schema/$defs/a/$id" in errors[0]["message"]


def test_an_id_resolved_against_an_embedded_base_clashes_with_the_same_uri_written_whole(refused):
    schema = two({"$id": "https://example.org/p/", "$defs": {"q": {"$id": "a.json"}}},
                 {"$id": "https://example.org/p/a.json"})
    assert [e["pointer"] for e in refused(schema)] == ["/schema/$defs/b/$id"]
    # The same relative $id under two bases names two URIs.
    assert refused(two({"$id": "https://example.org/p/", "$defs": {"q": {"$id": "a.json"}}}, {"$id": "a.json"})) == []


@pytest.mark.parametrize("root_id", [None, "https://example.org/root.json"])
def test_an_embedded_id_naming_the_schema_itself_is_refused(root_id, refused):
    # The document is its base URI's resource, with or without an $id of its own: the
    # validator resolves t.type.json to the embedded copy, the field index to the document.
    name = f"core10_{next(_names)}"
    schema = two({"$id": f"https://xrm.dev/schemas/{name}.type.json"}, {"type": "integer"})
    if root_id:
        schema["$id"] = root_id
    errors = refused(schema, name)
    assert [e["pointer"] for e in errors] == ["/schema/$defs/a/$id"] and "the schema itself" in errors[0]["message"]
    assert refused({"$id": f"{name}.type.json", "type": "object"}, name) == []  # the document naming itself


@pytest.mark.parametrize("where, written", [
    ("/schema/$defs/a/$id", "common.json"), ("/schema/$defs/a/$id", "https://xrm.dev/schemas/common.json"),
    ("/schema/$id", "https://xrm.dev/schemas/common.json"), ("/schema/$defs/a/$id", "entity-type.schema.json"),
])
def test_an_id_claiming_a_platform_schema_is_refused(where, written, refused):
    schema = two({"type": "string"}, {"type": "integer"})
    if where == "/schema/$id":
        schema["$id"] = written
    else:
        schema["$defs"]["a"]["$id"] = written
    errors = refused(schema)
    assert [e["pointer"] for e in errors] == [where]
    assert "the platform's schema" in errors[0]["message"] and "schemas/" in errors[0]["message"]


def test_an_id_claiming_a_meta_schema_is_refused(refused):
    errors = refused(two({"$id": "https://json-schema.org/draft/2020-12/schema"}, {}))
    assert [e["pointer"] for e in errors] == ["/schema/$defs/a/$id"] and "meta-schema" in errors[0]["message"]


def test_two_types_with_one_id_are_accepted_each_read_alone(shared):
    # Each type is compiled alone (its validator knows the platform's schemas only), and
    # /openapi.json drops $ids: the same $id in two types names nothing twice.
    first = shared.add({"schema": {"$id": "https://example.org/same.json", "type": "object",
                                   "properties": {"v": {"$ref": "#/$defs/v"}}, "$defs": {"v": {"type": "string"}}}})
    second = shared.add({"schema": {"$id": "https://example.org/same.json", "type": "object",
                                    "properties": {"v": {"$ref": "#/$defs/v"}}, "$defs": {"v": {"type": "integer"}}}})
    with shared.p.session() as s:
        s.create(first, {"v": "text"})
        s.create(second, {"v": 1})
        assert (s.entity_type(first).field_type("v"), s.entity_type(second).field_type("v")) == ("string", "integer")
        schemas = build_spec(s)["components"]["schemas"]
    assert schemas[f"{first}.data"]["properties"]["v"] == {"$ref": f"#/components/schemas/{first}.data/$defs/v"}
    assert schemas[f"{second}.data"]["$defs"]["v"] == {"type": "integer"}


# -- references ----------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["properties", "$defs"])  # used, or in a $defs entry nothing uses
@pytest.mark.parametrize("keyword, ref", [("$ref", "#nope"), ("$ref", "#/$defs/nope"),
                                         ("$ref", "https://xrm.dev/schemas/common.json#/$defs/nope"),
                                         ("$ref", "https://example.com/x.json"), ("$dynamicRef", "#nope")])
def test_a_reference_to_nothing_is_refused_when_the_type_is_added(shared, where, keyword, ref):
    schema = {"type": "object", "properties": {"ok": {"type": "string"}}, where: {"x": {keyword: ref}}}
    info = shared.refuse({"schema": schema})
    assert [e["pointer"] for e in info.errors] == [f"/schema/{where}/x/{keyword}"]
    assert repr(ref) in info.errors[0]["message"]


def test_what_the_validator_resolves_without_the_index_stays_accepted(shared):
    # The meta-schema is built into the validator; true/false subschemas are schemas.
    shared.add({"schema": {"type": "object", "properties": {"s": {"$ref": "#/$defs/t"}},
                           "$defs": {"meta": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
                                     "t": True, "f": {"$ref": "#/$defs/t"},
                                     "phone": {"$ref": "common.json#/$defs/phone"}}}})


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        body = json.dumps({"type": "string"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def schema_server():
    """A local server that would answer any schema asked of it, counting what is asked."""
    _Hits.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Hits.hits
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_reference_outside_the_known_resources_is_refused_without_fetching_it(shared, schema_server):
    url, hits = schema_server
    for where in ("properties", "$defs"):
        info = shared.refuse({"schema": {"type": "object", where: {"x": {"$ref": f"{url}/x.json"}}}})
        assert [e["pointer"] for e in info.errors] == [f"/schema/{where}/x/$ref"]
        assert "cannot resolve" in info.errors[0]["message"]
    assert hits == []


# -- add and update change nothing when refusing ---------------------------------------------
def test_add_refuses_an_ambiguous_type_and_stores_nothing(shared):
    name = f"amb{next(_names)}"
    definition = {"name": name, "indexes": ["a"], "schema": two({"$anchor": "n"}, {"$anchor": "n"})}
    with shared.p.connection() as conn, pytest.raises(DefinitionError) as info:
        entity_types.add(conn, definition)
    assert info.value.message.startswith(f"entity type {name!r}: ")
    assert [e["pointer"] for e in info.value.errors] == ["/schema/$defs/b/$anchor"]
    assert shared.stored(name) == ([], [], set())


def test_update_refuses_a_changed_definition_with_one_uri_twice_and_changes_nothing(shared):
    name = shared.add({"indexes": ["a"], "schema": two({"type": "string"}, {"type": "integer"})})
    before = shared.stored(name)
    bad = shared.definition(name, {"indexes": ["a"], "schema": two({"$id": "x.json"}, {"$id": "x.json"})})
    for dry_run in (True, False):
        with shared.p.connection() as conn, pytest.raises(DefinitionError) as info:
            entity_types.update(conn, bad, dry_run=dry_run)
        assert [e["pointer"] for e in info.value.errors] == ["/schema/$defs/b/$id"]
    assert shared.stored(name) == before


def test_the_cli_refuses_a_repeated_anchor_with_the_pointer(cli, tmp_path):
    assert cli("init", "--admin-password", "pw").exit_code == 0
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "t", "schema": two({"$anchor": "n"}, {"$dynamicAnchor": "n"})}))
    result = cli("types", "add", str(path))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert "/schema/$defs/b/$dynamicAnchor" in result.stderr and "/schema/$defs/a/$anchor" in result.stderr
    assert cli("types", "show", "t").exit_code != 0


# -- types stored before the check -----------------------------------------------------------
LEGACY = {"name": "legacy", "title_field": "a", "indexes": ["a"],
          "schema": {"type": "object", "properties": {"a": {"$ref": "#n"}},
                     "$defs": {"x": {"$anchor": "n", "type": "string"}, "y": {"$anchor": "n", "type": "string"},
                               "z": {"$ref": "#/$defs/missing"}}}}


class LegacyPlugin:
    """A plugin whose type an older release accepted."""

    __name__ = "legacyplugin"
    declared = LEGACY

    @hookimpl
    def xrm_entity_types(self):
        return [self.declared]


def _unchecked(monkeypatch):
    """As an older release: types stored without the URI check."""
    monkeypatch.setattr(schema_uris, "check_type", lambda et: None)


def test_a_stored_admin_type_from_before_still_loads_and_init_keeps_going(make_platform, monkeypatch):
    p = make_platform()
    with monkeypatch.context() as m:
        _unchecked(m)
        with p.connection() as conn:
            entity_types.add(conn, LEGACY)
        with p.session() as s:
            rid = s.create("legacy", {"a": "kept"}).id
    report = p.init(admin_password="secret")  # does not fail, and says what to fix
    assert [w for w in report["warnings"] if w.startswith("entity type 'legacy': ")]
    with p.session() as s:
        assert s.get(rid).data == {"a": "kept"}
        assert [r.id for r in s.list("legacy", {"a": "kept"})] == [rid]
    with p.connection() as conn:
        stored = entity_types.load_all(conn)
        warnings = schema_uris.stored_type_warnings(stored)
        assert len(warnings) == 1 and warnings[0].startswith("entity type 'legacy': ")
        assert "/schema/$defs/y/$anchor" in warnings[0] and "xrm types update" in warnings[0]
        # Unchanged, an update is a no-op; changed, it must be corrected.
        assert entity_types.update(conn, LEGACY)["changed"] is False
        with pytest.raises(DefinitionError):
            entity_types.update(conn, {**LEGACY, "label": "Legacy"})
        fixed = copy.deepcopy(LEGACY)
        del fixed["schema"]["$defs"]["y"], fixed["schema"]["$defs"]["z"]
        assert entity_types.update(conn, fixed)["applied"]
        assert schema_uris.stored_type_warnings(entity_types.load_all(conn)) == []


def test_init_keeps_a_plugin_type_it_declares_unchanged_and_refuses_a_changed_one(db_url, monkeypatch):
    pm = make_plugin_manager(load_entry_points=False, plugins=[LegacyPlugin()])
    p = Platform(db_url, pm=pm)
    try:
        with monkeypatch.context() as m:
            _unchecked(m)
            p.init(admin_password="secret")
        with p.session() as s:
            rid = s.create("legacy", {"a": "kept"}).id
        p.init()  # the same declaration: not refused
        with p.session() as s:
            assert s.get(rid).data == {"a": "kept"}
        LegacyPlugin.declared = {**LEGACY, "label": "Legacy 2"}
        with pytest.raises(DefinitionError) as info:
            p.init()
        assert "plugin 'legacyplugin'" in info.value.message
        assert [e["pointer"] for e in info.value.errors] == ["/schema/$defs/y/$anchor"]
    finally:
        LegacyPlugin.declared = LEGACY
        p.dispose()


# -- URIs compared as the validator compares them ----------------------------------------------
@pytest.mark.parametrize("written, normal", [
    ("HTTPS://Example.ORG/a/./b/../c.json", "https://example.org/a/c.json"),
    ("https://u:P@Host.example/A", "https://u:P@host.example/A"), ("URN:Ex:A", "urn:Ex:A"),
    ("https://example.org/..", "https://example.org/"), ("https://example.org/a/b/.", "https://example.org/a/b/"),
])
def test_normal_uri_lowers_scheme_and_host_and_applies_dot_segments(written, normal):
    assert normal_uri(written) == normal


def test_a_reference_spelled_with_another_host_case_finds_its_field_type(shared):
    # The validator reads HTTPS://Example.ORG/q.json as https://example.org/q.json; the
    # field index did not, so the field had no type (cast as text, CSV cells left strings).
    name = shared.add({"indexes": ["n"], "schema": {
        "type": "object", "properties": {"n": {"$ref": "https://example.org/q.json"}},
        "$defs": {"q": {"$id": "HTTPS://Example.ORG/sub/../q.json", "type": "integer"}}}})
    with shared.p.session() as s:
        assert s.entity_type(name).field_type("n") == "integer"


# -- fixtures ------------------------------------------------------------------------------
_names = itertools.count()


class Shared:
    """One initialised platform per engine; each test adds types of its own names."""

    def __init__(self, p: Platform):
        self.p = p

    def definition(self, name: str, d: dict) -> dict:
        return {"name": name, **copy.deepcopy(d)}

    def add(self, d: dict) -> str:
        name = f"core10_{next(_names)}"
        with self.p.connection() as conn:
            entity_types.add(conn, self.definition(name, d))
        return name

    def refuse(self, d: dict) -> DefinitionError:
        """The refusal of adding ``d``; checks nothing of it was stored."""
        name = f"core10_{next(_names)}"
        with self.p.connection() as conn, pytest.raises(DefinitionError) as info:
            entity_types.add(conn, self.definition(name, d))
        assert self.stored(name) == ([], [], set())
        return info.value

    def stored(self, name: str) -> tuple:
        """(current row, versions, indexes) of type ``name``."""
        with self.p.connection() as conn:
            current = conn.execute(select(db.entity_types.c.definition, db.entity_types.c.version)
                                   .where(db.entity_types.c.name == name)).all()
            versions = conn.execute(select(db.entity_type_versions.c.version)
                                    .where(db.entity_type_versions.c.name == name)).all()
            return [tuple(r) for r in current], [tuple(r) for r in versions], entity_types.stored_indexes(conn, name)


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def shared(request, tmp_path_factory):
    with empty_database(request.param, tmp_path_factory.mktemp("core10")) as url:
        p = Platform(url, pm=make_plugin_manager(load_entry_points=False))
        p.init()
        yield Shared(p)
        p.dispose()


# -- the admin UI's type editor ---------------------------------------------------------------
def test_the_type_editor_refuses_a_repeated_anchor_at_its_pointer_and_changes_nothing(platform):
    import html
    import re

    from xrm_core.web import create_app
    client = create_app(platform, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    login = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"username": "admin", "password": "secret",
                                       "csrf_token": token.search(login).group(1)}).status_code == 302
    page = client.get("/types/note").get_data(as_text=True)
    with platform.session() as s:
        before = dict(s.entity_type("note").definition)
    changed = {**before, "schema": {**before["schema"], "$defs": {"a": {"$anchor": "n"}, "b": {"$anchor": "n"}}}}
    for action in ("check", "apply"):
        r = client.post("/types/note", data={"definition": json.dumps(changed), "action": action, "version": "1",
                                             "csrf_token": token.search(page).group(1)})
        page = html.unescape(r.get_data(as_text=True))
        assert r.status_code == 422 and "<code>/schema/$defs/b/$anchor</code>" in page
        assert "already declared at /schema/$defs/a/$anchor" in page
    with platform.session() as s:
        assert s.entity_type("note").definition == before and s.entity_type("note").version == 1
