"""Entity types an admin brings and evolves (third audit): schemas whose references run in a
circle, and what their fields are typed as (xrm_core.schema_types, xrm_core.entity_types).
Database tests run on every engine."""
from __future__ import annotations

import pytest

from xrm_core import entity_types
from xrm_core.entity_types import EntityType
from xrm_core.errors import DefinitionError

#: "x" refers to a $def that refers to itself, "y" to two $defs that refer to each other:
#: neither says anything about the value, which may be of any JSON type.
CIRCULAR = {"type": "object",
            "$defs": {"loop": {"$ref": "#/$defs/loop"}, "a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            "properties": {"x": {"$ref": "#/$defs/loop"}, "y": {"$ref": "#/$defs/a"}, "n": {"type": "integer"}}}


@pytest.fixture
def platform(make_platform):
    return make_platform()


def test_a_field_behind_a_circle_of_references_has_no_type():
    """Before: field_type() answered the walk's internal marker "<cycle>" as if it were a JSON
    type, ``xrm types show`` printed it, and the field was cast as that unknown type in SQL."""
    et = EntityType({"name": "circle", "schema": CIRCULAR})
    assert et.field_type("x") is None and et.field_type("y") is None
    assert et.property_type("x") is None
    assert et.field_type("n") == "integer"
    assert et.is_valid({"x": 1, "y": "a"}) and et.is_valid({"x": [True], "y": {}})


def test_a_unique_key_on_a_field_behind_a_circle_is_refused():
    """Before: accepted, and unique per engine: SQLite took 1 and "1" as two values and 1 and
    true as one; PostgreSQL the other way round."""
    et = EntityType({"name": "circle", "unique": ["x"], "schema": CIRCULAR})
    with pytest.raises(DefinitionError) as e:
        et.check_keys()
    assert e.value.errors[0]["pointer"] == "/unique/0"
    assert "several JSON types" in e.value.errors[0]["message"]


def test_filters_on_a_field_behind_a_circle_work_alike_on_both_engines(platform):
    """Before: ``--where y>1`` failed on PostgreSQL with "operator does not exist: text >
    integer" (a database error) and on SQLite matched the text "a" too."""
    with platform.connection() as conn:
        entity_types.add(conn, {"name": "circle", "indexes": ["y"], "schema": CIRCULAR})
    with platform.session() as s:
        a = s.create("circle", {"y": "a"}).id
        two = s.create("circle", {"y": 2}).id
        s.create("circle", {"y": 1})
        s.create("circle", {"y": "2"})
        assert [r.id for r in s.list("circle", {"y": {"gt": 1}})] == [two]
        assert [r.id for r in s.list("circle", {"y": "a"})] == [a]
        assert [r.id for r in s.list("circle", {"y": 2})] == [two]


def _nested(levels: int) -> dict:
    """An entity type whose property "root" nests objects ``levels`` deep."""
    node = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"c": node}}
    return {"name": "deep", "schema": {"type": "object", "properties": {"root": node, "n": {"type": "integer"}}}}


@pytest.mark.parametrize("levels", [130, 400])
def test_a_definition_nested_too_deeply_is_refused_with_its_pointer(platform, levels):
    """Before: ``xrm types add`` answered "ValueError: Recursion limit reached" (the validator,
    at 130 levels) or "RecursionError: maximum recursion depth exceeded" (copying it, at 400)
    with no pointer; an update of a stored type alike."""
    from xrm_core.validation import MAX_DEFINITION_DEPTH
    with platform.connection() as conn:
        entity_types.add(conn, _nested(2) | {"name": "deep"})
    for change in (entity_types.add, entity_types.update):
        with platform.connection() as conn, pytest.raises(DefinitionError) as e:
            change(conn, _nested(levels) | {"name": "deep" if change is entity_types.update else "deeper"})
        (error,) = e.value.errors
        assert error["pointer"].startswith("/schema/properties/root/properties/c/properties/c/")
        assert error["pointer"].count("/") == MAX_DEFINITION_DEPTH
        assert "nested too deeply" in e.value.message
    with platform.connection() as conn:
        assert entity_types.get(conn, "deep").version == 1
        assert set(entity_types.load_all(conn)) == {"deep"}


def test_the_deepest_definition_allowed_works(platform):
    """A definition just within the limit is stored, read back and used on both engines."""
    from xrm_core.validation import MAX_DEFINITION_DEPTH, nesting_error
    levels = (MAX_DEFINITION_DEPTH - 4) // 2
    while nesting_error(_nested(levels + 1)) is None:
        levels += 1
    definition = _nested(levels) | {"indexes": ["n"]}
    with platform.connection() as conn:
        entity_types.add(conn, definition)
        definition["schema"]["required"] = ["n"]
        assert entity_types.update(conn, definition)["applied"]
    with platform.session() as s:
        rid = s.create("deep", {"n": 1, "root": {"c": {"c": {}}}}).id
        assert [r.id for r in s.list("deep", {"n": 1})] == [rid]
        assert s.entity_type("deep").field_type("root.c.c") == "object"


def test_a_refused_min_contains_says_what_the_array_lacks(platform):
    """Before: the impact report said "None of [1,2] are valid under the given schema" of an
    array holding a valid 1 when ``minContains: 2`` was added — the library's wording of a
    failed ``contains``."""
    from xrm_core import ValidationError
    bag = {"type": "array", "contains": {"const": 1}}
    definition = {"name": "bag", "schema": {"type": "object", "properties": {"b": bag}}}
    with platform.connection() as conn:
        entity_types.add(conn, definition)
    with platform.session() as s:
        rid = s.create("bag", {"b": [1, 2]}).id
        many = s.create("bag", {"b": [1, 1, 1]}).id
    for limit, offender, wording in (({"minContains": 2}, rid, '[1,2] has fewer than 2 items matching "contains" '
                                                              '("minContains": 2)'),
                                     ({"maxContains": 2}, many, '[1,1,1] has more than 2 items matching "contains" '
                                                                '("maxContains": 2)')):
        definition["schema"]["properties"]["b"] = bag | limit
        with platform.connection() as conn, pytest.raises(ValidationError) as e:
            entity_types.update(conn, definition, dry_run=True)
        assert e.value.errors == [{"pointer": f"/records/{offender}/data/b", "message": wording}]
    et = EntityType({"name": "bag", "schema": {"type": "object", "properties": {"b": bag}}})
    assert et.errors({"b": [2]}) == [{"pointer": "/b", "message": "None of [2] are valid under the given schema"}]


def test_a_bad_field_name_in_a_definition_is_told_in_words():
    """Before: the error quoted the field-name pattern, 300 characters of regular expression
    ('"it\\'s" does not match "^[\\p{L}\\p{N}_@#](?:[\\p{L}…'), for ``indexes``, ``unique``,
    ``title_field`` and KPI fields alike."""
    from xrm_core.kpi_measures import DeclarativeKPI
    with pytest.raises(DefinitionError) as e:
        EntityType({"name": "o", "indexes": ["it's"], "unique": [["ok", "$ref"]], "schema": {"type": "object"}})
    assert [(x["pointer"], x["message"]) for x in e.value.errors] == [
        ("/indexes/0", '"it\'s" is not a field name: use property names of letters, digits, spaces and '
                       "_ - / : @ # & + ( ) % ?, separated by dots"),
        ("/unique/0/1", '"$ref" is not a field name: use property names of letters, digits, spaces and '
                        "_ - / : @ # & + ( ) % ?, separated by dots")]
    with pytest.raises(DefinitionError) as e:
        DeclarativeKPI({"name": "k", "entity": "o", "time_field": "when?!", "measure": {"count": True}})
    assert e.value.errors[0]["pointer"] == "/time_field"
    assert e.value.errors[0]["message"].startswith('"when?!" is not a field name: use property names')
    with pytest.raises(DefinitionError) as e:  # a definition's name: the rule in words too (user15)
        EntityType({"name": "Bad", "schema": {"type": "object"}})
    assert e.value.errors[0]["message"].startswith('"Bad" is not a name: use lower-case ASCII letters')


@pytest.mark.parametrize("measure, pointer, message", [
    ({"share": {"score": {"exists": "yes"}}}, "/measure/share/score/exists", '"yes" is not of type "boolean"'),
    ({"ratio": {"numerator": {}}}, "/measure/ratio/denominator", '"denominator" is a required property'),
    ({"avg_duration": ["opened"]}, "/measure/avg_duration", '["opened"] has less than 2 items'),
])
def test_a_bad_kpi_measure_is_reported_inside_the_measure_it_is(measure, pointer, message):
    """Before: every mistake inside a measure was reported as '/measure: {...} is not valid
    under any of the schemas listed in the 'oneOf' keyword' — which measure, and what in it,
    left to guess. Options that require a key the measure lacks are ruled out."""
    from xrm_core.kpi_measures import DeclarativeKPI
    with pytest.raises(DefinitionError) as e:
        DeclarativeKPI({"name": "k", "entity": "ticket", "measure": measure})
    assert e.value.errors == [{"pointer": pointer, "message": message}]


def test_a_measure_that_fits_no_option_keeps_the_summary():
    from xrm_core.kpi_measures import DeclarativeKPI
    for measure in ({"nope": 1}, {"sum": "a", "avg": "b"}, {"count": False}):
        with pytest.raises(DefinitionError) as e:
            DeclarativeKPI({"name": "k", "entity": "ticket", "measure": measure})
        assert [x["pointer"] for x in e.value.errors] == ["/measure"]
        assert "not valid under any of the schemas" in e.value.errors[0]["message"]


def test_nesting_error_names_the_first_container_too_deep():
    from xrm_core.validation import nesting_error
    assert nesting_error({"a": [[[1]]]}, 3) == "/a/0/0"
    assert nesting_error({"a": [[[1]]]}, 4) is None
    assert nesting_error({"x": 1, "a/b": {"c~": {}}}, 2) == "/a~1b/c~0"
    assert nesting_error("text", 1) is None and nesting_error([[]], 1) == "/0"
