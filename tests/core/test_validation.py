"""Entity-type definitions and their record schemas (xrm_core.validation, no database).

Every JSON Schema 2020-12 feature is exercised with one valid and one invalid record, and
every refused definition must say where (a JSON pointer inside the definition).
"""
from __future__ import annotations

import pytest

from xrm_core import ValidationError
from xrm_core.entity_types import EntityType
from xrm_core.errors import DefinitionError
from xrm_core.validation import check_definition, compile_schema, errors_of

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def make(schema: dict, **extra) -> EntityType:
    return EntityType({"name": "thing", "schema": schema, **extra})


def obj(**properties) -> dict:
    return {"type": "object", "properties": properties}


def refused(definition) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        EntityType(definition)
    return info.value


def pointers(err) -> list[str]:
    return [e["pointer"] for e in err.errors]


# -- the definition itself ---------------------------------------------------------------
@pytest.mark.parametrize("definition, pointer", [
    ({"schema": {"type": "object"}}, "/name"),                                   # no name
    ({"name": "Bad-Name", "schema": {"type": "object"}}, "/name"),
    ({"name": "thing"}, "/schema"),                                              # no schema
    ({"name": "thing", "schema": {"type": "object"}, "colour": "red"}, "/colour"),  # unknown key
    ({"name": "thing", "schema": {"type": "object"}, "indexes": [3]}, "/indexes/0"),
    ({"name": "thing", "schema": {"type": "object"}, "indexes": ["a b"]}, "/indexes/0"),
    ({"name": "thing", "schema": {"type": "object"}, "unique": [["x", 1]]}, "/unique/0/1"),
    ({"name": "thing", "schema": {"type": "object"}, "label": ""}, "/label"),
    ({"name": "thing", "schema": {"type": "object"}, "label": {"EN!": "x"}}, "/label"),
    ({"name": "thing", "schema": {"type": "string"}}, "/schema/type"),           # not an object schema
    ({"name": "thing", "schema": {"properties": {}}}, "/schema/type"),           # type missing
    ({"name": "thing", "schema": []}, "/schema"),
])
def test_malformed_definition_is_refused_with_pointer(definition, pointer):
    err = refused(definition)
    assert pointer in pointers(err), err.errors


def test_definition_that_is_not_an_object():
    with pytest.raises(DefinitionError, match="must be a JSON object"):
        check_definition("entity-type.schema.json", ["name"], "entity type")


def test_schema_keyword_error_points_inside_the_schema():
    err = refused({"name": "thing", "schema": obj(x={"type": "strin"})})
    assert pointers(err) == ["/schema/properties/x/type"]
    err = refused({"name": "thing", "schema": obj(x={"type": "integer", "minimum": "zero"})})
    assert pointers(err) == ["/schema/properties/x/minimum"]
    err = refused({"name": "thing", "schema": {"type": "object", "required": "name"}})
    assert pointers(err) == ["/schema/required"]


def test_every_schema_problem_is_reported_and_type_typos_are_explained():
    err = refused({"name": "thing", "schema": obj(a={"type": "strin"}, b={"type": "string", "pattern": "(["})})
    assert pointers(err) == ["/schema/properties/a/type", "/schema/properties/b/pattern"]
    assert "'strin' is not a JSON type" in err.errors[0]["message"]
    assert "regex" in err.errors[1]["message"]


@pytest.mark.parametrize("declared", [
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-04/schema#",
])
def test_other_drafts_are_refused(declared):
    err = refused({"name": "thing", "schema": {"$schema": declared, "type": "object"}})
    assert pointers(err) == ["/schema/$schema"]
    assert "2020-12" in err.message


def test_explicit_2020_12_is_accepted_with_or_without_hash():
    make({"$schema": DRAFT, "type": "object"})
    make({"$schema": DRAFT + "#", "type": "object"})


def test_non_string_dollar_schema_is_refused():
    err = refused({"name": "thing", "schema": {"$schema": 7, "type": "object"}})
    assert pointers(err) == ["/schema/$schema"]


@pytest.mark.parametrize("ref, where", [
    ("#/$defs/missing", "/schema/properties/x/$ref"),
    ("common.json#/$defs/missing", "/schema/properties/x/$ref"),
    ("https://xrm.dev/schemas/common.json#/$defs/missing", "/schema/properties/x/$ref"),
    ("nowhere.json", "/schema/properties/x/$ref"),
    ("https://example.com/elsewhere.json", "/schema/properties/x/$ref"),  # never fetched
])
def test_unresolvable_ref_is_refused_naming_the_ref(ref, where):
    err = refused({"name": "thing", "schema": obj(ok={"type": "string"}, x={"$ref": ref})})
    assert "$ref" in err.message
    assert pointers(err) == [where]
    assert ref.split("#")[-1] in err.errors[0]["message"] or ref in err.errors[0]["message"]


def test_unresolvable_ref_deep_inside_defs_is_located():
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}},
              "$defs": {"a": {"type": "object", "properties": {"b": {"items": {"$ref": "#/$defs/zz"}}}}}}
    err = refused({"name": "thing", "schema": schema})
    assert pointers(err) == ["/schema/$defs/a/properties/b/items/$ref"]


@pytest.mark.parametrize("key, value, pointer", [
    ("title_field", "nope", "/title_field"),
    ("indexes", ["name", "nope"], "/indexes/1"),
    ("unique", ["nope"], "/unique/0"),
    ("unique", [["name", "nope"]], "/unique/0/1"),
    ("indexes", ["address.nope"], "/indexes/0"),
])
def test_declared_fields_must_exist_in_the_schema(key, value, pointer):
    schema = obj(name={"type": "string"}, address={"$ref": "common.json#/$defs/address"})
    err = refused({"name": "thing", "schema": schema, key: value})
    assert pointers(err) == [pointer]
    assert "nope" in err.errors[0]["message"]


def test_declared_fields_found_through_ref_allof_and_nested_paths():
    schema = {"type": "object", "$defs": {"base": obj(code={"type": "string"})},
              "allOf": [{"$ref": "#/$defs/base"}],
              "properties": {"address": {"$ref": "common.json#/$defs/address"}}}
    et = make(schema, indexes=["code", "address.city"], unique=[["code", "address.country"]],
              title_field="code")
    assert et.field_type("code") == "string"
    assert et.field_type("address.city") == "string"
    assert et.unique_keys() == [("code", "address.country")]


# -- 2020-12 features: each with a valid and an invalid record ---------------------------
FEATURES = {
    "ref_defs": (
        {"type": "object", "$defs": {"pos": {"type": "integer", "minimum": 1}},
         "properties": {"n": {"$ref": "#/$defs/pos"}}},
        {"n": 3}, {"n": 0}, "/n"),
    "dynamic_ref": (
        # The classic extensible tree: "strict_tree" overrides the dynamic anchor so that
        # the nodes of "tree" become strict too.
        {"type": "object",
         "properties": {"root": {"$ref": "#/$defs/strict_tree"}},
         "$defs": {
             "tree": {"$id": "https://xrm.test/tree", "$dynamicAnchor": "node", "type": "object",
                      "properties": {"data": True,
                                     "children": {"type": "array", "items": {"$dynamicRef": "#node"}}}},
             "strict_tree": {"$id": "https://xrm.test/strict-tree", "$dynamicAnchor": "node",
                             "$ref": "tree", "unevaluatedProperties": False}}},
        {"root": {"data": 1, "children": [{"data": 2}]}},
        {"root": {"data": 1, "children": [{"daat": 2}]}}, "/root/children/0/daat"),
    "unevaluated_properties": (
        {"type": "object", "allOf": [obj(a={"type": "string"})],
         "properties": {"b": {"type": "string"}}, "unevaluatedProperties": False},
        {"a": "x", "b": "y"}, {"a": "x", "c": "z"}, "/c"),
    "if_then_else": (
        {"type": "object", "properties": {"kind": {"enum": ["person", "company"]},
                                          "vat": {"type": "string"}, "born": {"type": "string"}},
         "if": {"properties": {"kind": {"const": "company"}}, "required": ["kind"]},
         "then": {"required": ["vat"]}, "else": {"required": ["born"]}},
        {"kind": "company", "vat": "DE1"}, {"kind": "company", "born": "2000-01-01"}, "/vat"),
    "prefix_items": (
        obj(point={"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
                   "items": False}),
        {"point": [1, 2.5]}, {"point": [1, 2, 3]}, "/point/2"),
    "dependent_required": (
        {"type": "object", "properties": {"card": {"type": "string"}, "expiry": {"type": "string"}},
         "dependentRequired": {"card": ["expiry"]}},
        {"card": "4111", "expiry": "12/30"}, {"card": "4111"}, "/expiry"),
    "dependent_schemas": (
        {"type": "object", "dependentSchemas": {"discount": {"required": ["reason"]}}},
        {"discount": 5, "reason": "loyal"}, {"discount": 5}, "/reason"),
    "contains_min_max": (
        obj(tags={"type": "array", "contains": {"const": "vip"}, "minContains": 1, "maxContains": 1}),
        {"tags": ["a", "vip"]}, {"tags": ["vip", "vip"]}, "/tags"),
    "pattern_properties_property_names": (
        {"type": "object", "properties": {"extra": {
            "type": "object", "propertyNames": {"pattern": "^[a-z]+$"},
            "patternProperties": {"^n": {"type": "number"}}}}},
        {"extra": {"nval": 1, "other": "x"}}, {"extra": {"nval": "one"}}, "/extra/nval"),
    "one_of_const": (
        obj(status={"oneOf": [{"const": "open"}, {"const": "closed"}]}),
        {"status": "open"}, {"status": "pending"}, "/status"),
    "not_multiple_of": (
        obj(n={"type": "number", "multipleOf": 0.5, "not": {"const": 0}}),
        {"n": 1.5}, {"n": 0.3}, "/n"),
    "anchor": (
        {"type": "object", "$defs": {"c": {"$anchor": "code", "pattern": "^[A-Z]{3}$"}},
         "properties": {"c": {"$ref": "#code"}}},
        {"c": "ABC"}, {"c": "abc"}, "/c"),
    "additional_and_required": (
        {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
         "required": ["name"], "additionalProperties": False},
        {"name": "Ada"}, {"name": "Ada", "x": 1}, "/x"),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_2020_12_feature(feature):
    schema, good, bad, pointer = FEATURES[feature]
    et = make({"$schema": DRAFT, **schema})
    assert et.is_valid(good), et.errors(good)
    assert et.errors(good) == []
    et.validate(good)
    assert not et.is_valid(bad)
    with pytest.raises(ValidationError) as info:
        et.validate(bad)
    assert "/data" + pointer in [e["pointer"] for e in info.value.errors], info.value.errors


@pytest.mark.parametrize("fmt, good, bad", [
    ("date", "2024-02-29", "2023-02-29"),
    ("date", "2024-02-01", "01.02.2024"),
    ("date-time", "2024-02-03T10:00:00Z", "2024-02-03"),
    ("date-time", "2024-02-03T10:00:00+03:30", "2024-02-03 10:00"),
    ("email", "ada@example.org", "ada.example.org"),
    ("uri", "https://example.org/a?b=c", "not a uri"),
    ("uri", "urn:isbn:0451450523", "/relative/path"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456"),
])
def test_format_is_asserted(fmt, good, bad):
    et = make(obj(v={"type": "string", "format": fmt}))
    assert et.is_valid({"v": good})
    errs = et.errors({"v": bad}, "/data")
    assert [e["pointer"] for e in errs] == ["/data/v"]
    assert fmt in errs[0]["message"]


# -- common.json -------------------------------------------------------------------------
COMMON_CASES = [
    ("phone", "+49 30 1234567", "call me"),
    ("email", "a@b.org", "nope"),
    ("money", {"amount": 9.5, "currency": "EUR"}, {"amount": 9.5, "currency": "euro"}),
    ("money", {"amount": 1, "currency": "IRR"}, {"amount": "1", "currency": "IRR"}),
    ("address", {"line1": "1 Main St", "city": "Tehran", "country": "IR"}, {"city": "X", "country": "Iran"}),
    ("address", {"city": "Beijing"}, {"city": "Beijing", "planet": "Earth"}),
    ("date", "2024-01-31", "2024-01-32"),
    ("datetime", "2024-01-31T08:00:00Z", "yesterday"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", "x"),
    ("uri", "https://xrm.dev", "::"),
    ("percent", 42.5, 101),
    ("country", "CN", "cn"),
    ("currency", "USD", "usd"),
]


@pytest.mark.parametrize("base", ["common.json", "https://xrm.dev/schemas/common.json",
                                  "./common.json"])
@pytest.mark.parametrize("name, good, bad", COMMON_CASES)
def test_common_defs_resolve_relative_and_absolute(base, name, good, bad):
    et = make(obj(v={"$ref": f"{base}#/$defs/{name}"}))
    assert et.is_valid({"v": good}), et.errors({"v": good})
    assert not et.is_valid({"v": bad})
    assert all(e["pointer"].startswith("/data/v") for e in et.errors({"v": bad}, "/data"))


def test_common_defs_inside_nested_defs_and_arrays():
    schema = {"type": "object", "$defs": {"contact": {
        "type": "object", "properties": {"phones": {"type": "array", "items": {"$ref": "common.json#/$defs/phone"}}}}},
        "properties": {"contacts": {"type": "array", "items": {"$ref": "#/$defs/contact"}}}}
    et = make(schema)
    assert et.is_valid({"contacts": [{"phones": ["+1 555 0100"]}]})
    errs = et.errors({"contacts": [{"phones": ["+1 555 0100", "??"]}]}, "/data")
    assert [e["pointer"] for e in errs] == ["/data/contacts/0/phones/1"]


def test_field_types_through_common_refs():
    et = make(obj(p={"$ref": "common.json#/$defs/phone"},
                  m={"$ref": "https://xrm.dev/schemas/common.json#/$defs/money"},
                  pct={"$ref": "common.json#/$defs/percent"}))
    assert et.field_type("p") == "string"
    assert et.field_type("m") == "object"
    assert et.field_type("m.amount") == "number"
    assert et.field_type("pct") == "number"


def test_every_common_def_compiles_and_is_minimal():
    import xrm_schemas
    common = xrm_schemas.load("common.json")
    for name in ("phone", "email", "money", "address"):
        assert name in common["$defs"]
    for name in common["$defs"]:
        make(obj(v={"$ref": f"common.json#/$defs/{name}"}))

    def walk(node, where):
        if isinstance(node, dict):
            assert "default" not in node, f"default-valued key at {where}"
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
    for name in xrm_schemas.names():
        walk(xrm_schemas.load(name), name)


# -- validation helpers ------------------------------------------------------------------
def test_errors_report_every_problem_sorted_by_pointer():
    et = make({"type": "object", "required": ["name"],
               "properties": {"age": {"type": "integer"}, "email": {"type": "string", "format": "email"}}})
    errs = et.errors({"age": "x", "email": "nope"}, "/data")
    assert [e["pointer"] for e in errs] == ["/data/age", "/data/email", "/data/name"]
    assert all(e["message"] for e in errs)


def test_pointer_escapes_slash_and_tilde():
    et = make({"type": "object", "properties": {"a/b": {"type": "integer"}, "c~d": {"type": "integer"}}})
    errs = et.errors({"a/b": "x", "c~d": "y"})
    assert sorted(e["pointer"] for e in errs) == ["/a~1b", "/c~0d"]


def test_compile_schema_rejects_non_object_schema():
    with pytest.raises(DefinitionError) as info:
        compile_schema(True, "https://xrm.dev/schemas/x.type.json")
    assert pointers(info.value) == ["/schema"]


def test_compiled_validator_matches_errors_of():
    v = compile_schema(obj(n={"type": "integer"}), "https://xrm.dev/schemas/x.type.json")
    assert v.is_valid({"n": 1})
    assert errors_of(v, {"n": "1"}, "/data") == [{"pointer": "/data/n", "message": '"1" is not of type "integer"'}]


# -- errors about properties point at the property ---------------------------------------
def test_each_missing_required_property_is_reported_at_its_own_pointer():
    et = make({"type": "object", "required": ["investor_code", "name"],
               "properties": {"investor_code": {"type": "string"}, "name": {"type": "string"}}})
    assert et.errors({}, "/data") == [
        {"pointer": "/data/investor_code", "message": '"investor_code" is a required property'},
        {"pointer": "/data/name", "message": '"name" is a required property'}]


def test_each_additional_property_is_reported_at_its_own_pointer():
    et = make({"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False})
    # one unexpected property: the library's message, unchanged
    assert et.errors({"name": "x", "bogus": 1}, "/data") == [
        {"pointer": "/data/bogus", "message": "Additional properties are not allowed ('bogus' was unexpected)"}]
    # several: one error each, worded as for one
    assert et.errors({"b": 1, "a": 2}, "/data") == [
        {"pointer": "/data/a", "message": "Additional properties are not allowed ('a' was unexpected)"},
        {"pointer": "/data/b", "message": "Additional properties are not allowed ('b' was unexpected)"}]


def test_additional_properties_false_alone_names_every_property():
    # Without "properties" beside it jsonschema-rs reports one "False schema" error at the object.
    et = make({"type": "object", "properties": {"extra": {"type": "object", "additionalProperties": False}}})
    assert et.errors({"extra": {"p": 1, "q": [2]}}, "/data") == [
        {"pointer": "/data/extra/p", "message": "Additional properties are not allowed ('p' was unexpected)"},
        {"pointer": "/data/extra/q", "message": "Additional properties are not allowed ('q' was unexpected)"}]


def test_each_unevaluated_property_is_reported_at_its_own_pointer():
    et = make({"type": "object", "allOf": [obj(a={"type": "string"})], "unevaluatedProperties": False})
    assert et.errors({"a": "x", "c": 1}, "/data") == [
        {"pointer": "/data/c", "message": "Unevaluated properties are not allowed ('c' was unexpected)"}]
    assert [e["pointer"] for e in et.errors({"c": 1, "d": 2}, "/data")] == ["/data/c", "/data/d"]


def test_dependent_required_points_at_each_missing_property():
    et = make({"type": "object", "dependentRequired": {"card": ["expiry", "holder"]}})
    assert et.errors({"card": "4111"}, "/data") == [
        {"pointer": "/data/expiry", "message": '"expiry" is required when "card" is present'},
        {"pointer": "/data/holder", "message": '"holder" is required when "card" is present'}]


def test_property_errors_in_nested_objects_and_arrays():
    et = make(obj(address={"$ref": "common.json#/$defs/address", "required": ["city"]},
                  lines={"type": "array", "items": {"type": "object", "required": ["sku"]}}))
    errs = et.errors({"address": {"planet": "Mars"}, "lines": [{"sku": "a"}, {}]}, "/data")
    assert errs == [
        {"pointer": "/data/address/city", "message": '"city" is a required property'},
        {"pointer": "/data/address/planet", "message": "Additional properties are not allowed ('planet' was unexpected)"},
        {"pointer": "/data/lines/1/sku", "message": '"sku" is a required property'}]


def test_property_names_are_escaped_in_pointers():
    et = make({"type": "object", "required": ["a/b"], "properties": {"c~d": {}}, "additionalProperties": False})
    assert [e["pointer"] for e in et.errors({"x/y": 1})] == ["/a~1b", "/x~1y"]


def test_the_same_property_required_twice_is_reported_once():
    et = make({"type": "object", "required": ["name"], "allOf": [{"required": ["name"]}]})
    assert et.errors({}, "/data") == [{"pointer": "/data/name", "message": '"name" is a required property'}]


def test_errors_that_name_no_single_property_stay_at_the_object():
    et = make({"type": "object", "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
               "maxProperties": 1})
    assert [e["pointer"] for e in et.errors({"a": 1, "b": 2}, "/data")] == ["/data", "/data"]


def test_definition_errors_point_at_the_missing_or_unknown_key():
    err = refused({"schema": {"type": "object"}, "colour": "red"})
    assert pointers(err) == ["/colour", "/name"]


def test_errors_without_structured_kind_fall_back_to_the_object():
    class Bare:  # what a jsonschema-rs without ``kind`` details would give
        instance_path = ["address"]
        schema_path = ["required"]
        message = '"city" is a required property'
        kind = None

    class Validator:
        def iter_errors(self, instance):
            yield Bare()

    assert errors_of(Validator(), {"address": {}}, "/data") == [
        {"pointer": "/data/address", "message": '"city" is a required property'}]



def test_a_format_error_says_what_a_valid_value_looks_like():
    """The library's '"x" is not a "date"' becomes a sentence with an example."""
    validator = compile_schema({"type": "object", "properties": {
        "d": {"format": "date"}, "t": {"format": "date-time"}, "e": {"format": "email"},
        "u": {"format": "uuid"}, "ip": {"format": "ipv4"}}}, "https://xrm.dev/schemas/t.type.json")
    errors = errors_of(validator, {"d": "2026-02-30", "t": "2026-01-31 09:30", "e": "nope", "u": "x",
                                   "ip": "300.1.1.1", "other": "2026-02-30"}, "/data")
    assert errors == [
        {"pointer": "/data/d", "message": '"2026-02-30" is not a valid date (YYYY-MM-DD, e.g. 2026-01-31)'},
        {"pointer": "/data/e", "message": '"nope" is not a valid email (e.g. name@example.org)'},
        {"pointer": "/data/ip", "message": '"300.1.1.1" is not a valid ipv4'},
        {"pointer": "/data/t", "message": '"2026-01-31 09:30" is not a valid date-time '
                                          '(RFC 3339, e.g. 2026-01-31T09:30:00Z)'},
        {"pointer": "/data/u", "message": '"x" is not a valid uuid (e.g. 123e4567-e89b-12d3-a456-426614174000)'}]


def test_an_anyof_or_oneof_error_points_into_the_option_the_value_was_meant_for():
    """Rather than 'not valid under any of the schemas' at the field: when the value's type
    or a discriminating const rules out every option but one, that option's errors."""
    validator = compile_schema({"type": "object", "properties": {
        "contact": {"anyOf": [{"type": "string"}, {"type": "object", "required": ["phone"],
                                                    "properties": {"phone": {"type": "string", "pattern": "^[0-9]+$"}}}]},
        "channel": {"oneOf": [
            {"type": "object", "required": ["kind", "to"],
             "properties": {"kind": {"const": "email"}, "to": {"type": "string", "format": "email"}}},
            {"type": "object", "required": ["kind", "number"],
             "properties": {"kind": {"const": "sms"}, "number": {"type": "string"}}}]}}},
        "https://xrm.dev/schemas/t.type.json")

    def errors(data):
        return [(e["pointer"], e["message"]) for e in errors_of(validator, data, "/data")]

    assert errors({"contact": {"phone": "abc"}}) == [("/data/contact/phone", '"abc" does not match "^[0-9]+$"')]
    assert errors({"channel": {"kind": "sms"}}) == [("/data/channel/number", '"number" is a required property')]
    assert errors({"channel": {"kind": "email", "to": "x"}}) == [
        ("/data/channel/to", '"x" is not a valid email (e.g. name@example.org)')]
    # Nothing tells the options apart: the summary, at the field.
    (pointer, message), = errors({"contact": 5})
    assert pointer == "/data/contact" and "not valid under any of the schemas" in message
    (pointer, message), = errors({"channel": {"kind": "fax"}})
    assert pointer == "/data/channel" and "not valid under any of the schemas" in message
