"""Fields named as people name them: ``First Name``, ``e-mail``, ``cost (USD)``, ``R&D``.

Such properties can be indexed, made unique, filtered, sorted, grouped by and measured by
KPIs — from Python, the CLI and the REST API — on both engines; names that would need
escaping in SQL paths or in the REST query syntax (quotes, brackets, commas, dots, the
``--where`` operators) are refused where a field is expected, with the rule in the message.
"""
from __future__ import annotations

import json

import pytest

from xrm_core import ValidationError, entity_types
from xrm_core.fields import FIELD_RE, field_sql, pg_path

TYPE = {
    "name": "spaced", "title_field": "First Name",
    "indexes": ["First Name", "cost (USD)", "addr.post-code"],
    "unique": ["e-mail", ["R&D", "@id"]],
    "schema": {"type": "object", "required": ["First Name"], "properties": {
        "First Name": {"type": "string"},
        "e-mail": {"type": "string", "format": "email"},
        "cost (USD)": {"type": "number"},
        "R&D": {"type": "string"}, "@id": {"type": "integer"},
        "addr": {"type": "object", "properties": {"post-code": {"type": "string"}}},
        "city": {"type": "string"},
    }},
}
ROWS = [
    {"First Name": "Ada", "e-mail": "ada@example.org", "cost (USD)": 3.5, "R&D": "x", "@id": 1,
     "addr": {"post-code": "12 34"}, "city": "Rome"},
    {"First Name": "Bob", "e-mail": "bob@example.org", "cost (USD)": 1, "R&D": "x", "@id": 2,
     "addr": {"post-code": "99"}, "city": "Rome"},
    {"First Name": "Cy", "e-mail": "cy@example.org", "cost (USD)": 7, "addr": {"post-code": "99"}, "city": "Oslo"},
]


@pytest.fixture
def spaced(platform):
    with platform.session() as s:
        entity_types.add(s.conn, TYPE)
        for row in ROWS:
            s.create("spaced", row)
    return platform


def names(records):
    return [r.data["First Name"] for r in records]


@pytest.mark.parametrize("name", ["First Name", "e-mail", "cost (USD)", "R&D", "@id", "#tag", "2fa",
                                  "schema:name", "a/b", "rate %", "why?", "a+b", "نام خانوادگی", "客户 名称"])
def test_names_people_write_are_fields(name):
    assert FIELD_RE.match(name) and FIELD_RE.match(f"{name}.{name}")


@pytest.mark.parametrize("name", ["a.", ".a", "a..b", " a", "a ", "a. b", "-a", 'say "hi"', "it's", "a\\b",
                                  "x[0]", "a,b", "a=b", "a<b", "a>b", "a!", "a\tb", "a\nb", "", "$.a", "*"])
def test_names_that_need_escaping_are_not(name):
    assert not FIELD_RE.match(name)


def test_identifiers_keep_the_sql_of_existing_indexes():
    """Identifiers are written into JSON paths unquoted, as before other names were allowed:
    the text (and so the name) of every index made earlier stays the same."""
    assert field_sql("sqlite", "address.city") == "json_extract(data, '$.address.city')"
    assert field_sql("postgresql", "address.city") == "(data #>> '{address,city}')"
    assert field_sql("sqlite", "addr.post-code") == "json_extract(data, '$.addr.\"post-code\"')"
    assert pg_path(["First Name", "null", "city"]) == '{"First Name","null",city}'


def test_the_meta_schema_pattern_says_what_the_code_does():
    """schemas/*.json spell FIELD_RE in ECMA-262: the same names pass both."""
    from xrm_core import validation
    meta = validation.meta_validator("entity-type.schema.json")

    def indexable(name):
        return meta.is_valid({"name": "t", "indexes": [name], "schema": {"type": "object"}})

    for name in ["First Name", "e-mail", "cost (USD)", "@id", "نام خانوادگی", "2fa", "a.b-c", "city"]:
        assert indexable(name) and FIELD_RE.match(name), name
    for name in ["a ", "-a", 'x"y', "x[0]", "a,b", "a=b", "a..b", "a\nb", "$.a"]:
        assert not indexable(name) and not FIELD_RE.match(name), name


def test_filter_sort_and_unique_on_such_names(spaced):
    with spaced.session() as s:
        assert names(s.list("spaced", {"First Name": "Ada"})) == ["Ada"]
        assert names(s.list("spaced", {"cost (USD)": {"gt": 2}}, sort=["cost (USD)"])) == ["Ada", "Cy"]
        assert names(s.list("spaced", {"addr.post-code": "99"})) == ["Bob", "Cy"]
        assert names(s.list("spaced", {"R&D": {"exists": False}})) == ["Cy"]
        assert names(s.list("spaced", sort=["-cost (USD)"])) == ["Cy", "Ada", "Bob"]
        assert s.count("spaced", {"@id": {"in": [1, 2]}}) == 2
        with pytest.raises(Exception) as e:
            s.create("spaced", {"First Name": "Dup", "e-mail": "ada@example.org"})
        assert e.value.errors == [{"pointer": "/data/e-mail", "message": "already used"}]
        with pytest.raises(Exception) as e:
            s.create("spaced", {"First Name": "Dup", "R&D": "x", "@id": 2})
        assert {err["pointer"] for err in e.value.errors} == {"/data/R&D", "/data/@id"}
    with spaced.session() as s:
        assert s.count("spaced") == 3


def test_refused_names_say_the_rule(spaced):
    with spaced.session() as s:
        for bad in ['x"y', "a,b", "x[0]"]:
            with pytest.raises(ValidationError) as e:
                s.list("spaced", {bad: 1})
            assert e.value.errors[0]["pointer"].startswith("/where/")
            assert "is not a field name (property names of letters, digits, spaces" in e.value.errors[0]["message"]


def test_declared_indexes_exist_and_are_used(spaced):
    with spaced.connection() as conn:
        held = entity_types.stored_indexes(conn, "spaced")
        expected = set(entity_types.index_ddl(conn.dialect.name, entity_types.get(conn, "spaced")))
        assert expected and expected <= held
        if conn.dialect.name == "sqlite":
            from sqlalchemy import text
            plan = " ".join(str(row[-1]) for row in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM xrm_records WHERE type = 'spaced' AND "
                + field_sql("sqlite", "First Name", "string") + " = 'Ada'")))
            assert "USING INDEX xrm_ix_" in plan, plan


def test_a_type_indexing_a_name_with_a_quote_is_refused_with_its_pointer(platform):
    bad = {**TYPE, "name": "quoted", "indexes": ['say "hi"']}
    bad["schema"] = {"type": "object", "properties": {'say "hi"': {"type": "string"}}}
    with platform.session() as s:
        with pytest.raises(ValidationError) as e:
            entity_types.add(s.conn, bad)
    assert any(err["pointer"] == "/indexes/0" for err in e.value.errors), e.value.errors
    with platform.session() as s:
        assert "quoted" not in s.entity_types_map()


def test_kpis_measure_and_group_by_such_names(spaced):
    with spaced.session() as s:
        from xrm_core import kpis
        for definition in ({"name": "spend", "entity": "spaced", "measure": {"sum": "cost (USD)"}},
                           {"name": "with_rd", "entity": "spaced", "measure": {"share": {"R&D": "x"}}}):
            kpis.add(spaced, s.conn, definition)
    with spaced.session() as s:
        total = s.kpi("spend", by="First Name")
        assert total["value"] == 11.5 and total["n"] == 3
        assert {g["key"]: g["value"] for g in total["groups"]} == {"Ada": 3.5, "Bob": 1, "Cy": 7}
        assert round(s.kpi("with_rd")["value"], 2) == 66.67


def test_the_cli_filters_with_where_and_groups_with_by(spaced, cli):
    r = cli("records", "list", "spaced", "--where", "First Name=Bob", "--json")
    assert r.exit_code == 0, r.stderr
    assert [x["data"]["First Name"] for x in json.loads(r.stdout)] == ["Bob"]
    r = cli("records", "list", "spaced", "--where", "cost (USD) >= 3", "--where", "addr.post-code=99", "--json")
    assert [x["data"]["First Name"] for x in json.loads(r.stdout)] == ["Cy"]
    r = cli("records", "list", "spaced", "--where", 'x"y=1')
    assert r.exit_code != 0 and "Traceback" not in r.stderr


def test_the_rest_api_filters_and_sorts_by_such_names(spaced):
    from xrm_core import accounts
    from xrm_core.web import create_app
    with spaced.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(spaced, {"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/records/spaced", headers=headers,
                   query_string={"filter[city]": "Rome", "sort": "-cost (USD)"})
    assert r.status_code == 200, r.json
    assert [x["data"]["First Name"] for x in r.json["items"]] == ["Ada", "Bob"]
    r = client.get("/api/v1/records/spaced", headers=headers,
                   query_string={"filter[addr.post-code]": "99", "filter[cost (USD)][lt]": "5"})
    assert r.status_code == 200, r.json
    assert [x["data"]["First Name"] for x in r.json["items"]] == ["Bob"]
