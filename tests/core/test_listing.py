"""Prepared list statements (``xrm_core.listing``) and records listed with undecoded data.

A list's SQL is compiled once per shape and reused with new values, so these tests check
that nothing of one call leaks into another: values, scopes, definitions of the same type
name in another database, the cursor's shape. A property test compares the prepared list with
the statement built the classic way (``compile_filter``) for random filters.
"""
from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, select

from xrm_core import Platform, ValidationError, db, listing
from xrm_core.fields import type_literal
from xrm_core.filters import compile_filter
from xrm_core.plugins import hookimpl, make_plugin_manager

R = db.records

PEOPLE = [
    {"name": "Ada", "email": "ada@example.org", "age": 5, "score": 1.5, "vip": True, "born": "2019-01-01",
     "address": {"city": "Oslo"}},
    {"name": "Bob", "age": 30, "score": 10, "vip": False, "born": "1994-05-05", "address": {"city": "Bergen"}},
    {"name": "Cy", "age": 100, "score": -2.25, "born": "1924-12-31"},
    {"name": "Di", "age": 30, "score": 0, "vip": True, "national_id": "7"},
    {"name": "Ed", "email": "ed@example.org", "age": 0, "address": {"city": "Oslo"}},
]


@pytest.fixture
def people(platform):
    with platform.session() as s:
        s.create_many("person", PEOPLE)
    return platform


def classic_ids(s, where, sort_desc_age=False):
    """Ids the unprepared statement (compile_filter, SQLAlchemy execution) finds, in list order."""
    et = s.entity_type("person")
    q = (select(R.c.id).where(and_(R.c.type == type_literal("person"), s.actor.clause("person", "read"),
                                   compile_filter(s.dialect, et, where)))
         .order_by(R.c.id))
    return list(s.conn.execute(q).scalars())


# -- random filters: prepared == classic ------------------------------------------------
VALUES = {
    "name": st.sampled_from(["Ada", "Bob", "Zed", "Cy"]),
    "age": st.one_of(st.integers(-1, 120), st.sampled_from(["30", "5"])),
    "score": st.one_of(st.floats(-5, 20, allow_nan=False), st.integers(-5, 20)),
    "vip": st.one_of(st.booleans(), st.sampled_from(["true", "false"])),
    "born": st.sampled_from(["1924-12-31", "1994-05-05", "2000-01-01"]),
    "address.city": st.sampled_from(["Oslo", "Bergen", "Paris"]),
}


@st.composite
def filters(draw):
    where = {}
    for field in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True)):
        op = draw(st.sampled_from(["eq", "ne", "lt", "gte", "in", "exists", "null"]))
        if op == "exists":
            where[field] = {"exists": draw(st.booleans())}
        elif op == "null":
            where[field] = None
        elif op == "in":
            where[field] = {"in": draw(st.lists(VALUES[field], max_size=3))}
        elif op == "eq" and draw(st.booleans()):
            where[field] = draw(VALUES[field])
        else:
            where[field] = {op: draw(VALUES[field])}
    return where


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=filters())
def test_prepared_list_matches_the_classic_statement(people, where):
    with people.session(write=False) as s:
        try:
            got = [r.id for r in s.list("person", where)]
        except ValidationError as refused:  # e.g. lt on a boolean: both ways refuse alike
            with pytest.raises(ValidationError) as classic:
                classic_ids(s, where)
            assert classic.value.errors == refused.errors
            return
        assert got == classic_ids(s, where)
        assert len(got) == s.count("person", where)
        # The second run takes the cached plan: same answer.
        assert [r.id for r in s.list("person", where)] == got


def test_a_plan_made_for_a_small_int_serves_a_big_one(people):
    """PostgreSQL: a bound int is cast ::INTEGER or ::BIGINT by its value; a plan compiled
    for 5 failed with 'integer out of range' for 3000000001 (until the process restarted)."""
    with people.session() as s:
        big = s.create("person", {"name": "Big", "age": 3_000_000_000})
    with people.session(write=False) as s:
        assert "Big" not in [r.data["name"] for r in s.list("person", {"age": {"lt": 5}})]
        assert "Big" in [r.data["name"] for r in s.list("person", {"age": {"lt": 3_000_000_001}})]
        assert [r.id for r in s.list("person", {"age": {"in": [1, 3_000_000_000]}})] == [big.id]
        page = s.list("person", limit=1, sort=["age"], after=None)
        assert page and s.list("person", {"age": {"gte": 3_000_000_000}}, limit=5)[0].id == big.id


def test_booleans_are_not_ordered(people):
    with people.session(write=False) as s:
        with pytest.raises(ValidationError) as e:
            s.list("person", {"vip": {"gte": True}})
        assert e.value.errors == [{"pointer": "/where/vip/gte",
                                   "message": "gte does not order booleans; use eq, ne or in"}]


@pytest.mark.parametrize("sort", [[5], [["name"]], ["-"], ["nope"], [None]])
def test_bad_sort_items_are_refused_with_a_pointer(people, sort):
    with people.session(write=False) as s:
        with pytest.raises(ValidationError) as e:
            s.list("person", sort=sort)
        assert e.value.errors[0]["pointer"] == "/sort/0"


def test_same_shape_new_values(people):
    with people.session(write=False) as s:
        assert [r.data["name"] for r in s.list("person", {"age": 30})] == ["Bob", "Di"]
        assert [r.data["name"] for r in s.list("person", {"age": 100})] == ["Cy"]
        assert [r.data["name"] for r in s.list("person", {"age": {"in": [5, 0]}})] == ["Ada", "Ed"]
        assert [r.data["name"] for r in s.list("person", {"age": {"in": [100]}})] == ["Cy"]
        assert s.list("person", {"age": {"in": []}}) == []


def test_cached_plans_do_not_carry_one_actors_scope_to_another(org):
    with org.session("manager_a") as s:
        s.create("person", {"name": "A1"})
        s.create("person", {"name": "A2"})
    with org.session("manager_b") as s:
        s.create("person", {"name": "B1"})
    with org.session("agent_a") as s:
        s.create("person", {"name": "own by agent_a"})
    seen = {}
    for user in ("manager_a", "manager_b", "manager_a", "agent_a", "agent_a2", "north_lead", "analyst"):
        with org.session(user, write=False) as s:
            seen[user] = sorted(r.data["name"] for r in s.list("person", {"name": {"ne": "x"}}))
    assert seen["manager_a"] == ["A1", "A2", "own by agent_a"]
    assert seen["manager_b"] == ["B1"]
    assert seen["agent_a"] == ["own by agent_a"]
    assert seen["agent_a2"] == []
    assert seen["north_lead"] == ["A1", "A2", "own by agent_a"]
    assert seen["analyst"] == ["A1", "A2", "B1", "own by agent_a"]


def _thing_plugin(n_type):
    class Thing:
        __name__ = f"thing_{n_type}"

        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [{"name": "thing", "indexes": ["n"], "schema": {
                "type": "object", "properties": {"n": {"type": n_type}}}}]
    return Thing()


def test_same_type_name_and_version_with_another_definition_gets_its_own_plan(make_platform, other_db_url):
    """Two databases hold version 1 of ``thing``: ``n`` is an integer in one, a string in the
    other. PostgreSQL compares them differently (numeric cast or text): one plan must not serve both."""
    ints = make_platform(_thing_plugin("integer"))
    with ints.session() as s:
        s.create_many("thing", [{"n": 9}, {"n": 10}])
        assert [r.data["n"] for r in s.list("thing", {"n": {"gt": 9}})] == [10]
    strs = Platform(other_db_url, pm=make_plugin_manager(load_entry_points=False, plugins=[_thing_plugin("string")]))
    strs.init(admin_password="secret")
    with strs.session() as s:
        s.create_many("thing", [{"n": "9"}, {"n": "10"}])
        # As text, "9" > "10"; "10" is not greater than "9".
        assert [r.data["n"] for r in s.list("thing", {"n": {"gt": "9"}})] == []
        assert [r.data["n"] for r in s.list("thing", {"n": {"gt": "1"}})] == ["9", "10"]
        assert [r.data["n"] for r in s.list("thing", {"n": {"gt": 9}})] == []
    strs.dispose()


def test_cursor_shapes_with_absent_values(people):
    with people.session(write=False) as s:
        everyone = s.list("person", sort=["email"], limit=100)
        assert [r.data.get("email") for r in everyone] == ["ada@example.org", "ed@example.org", None, None, None]
        pages, after = [], None
        while True:
            page = s.list("person", sort=["email"], limit=2, after=after)
            if not page:
                break
            pages.extend(r.id for r in page)
            after = (page[-1].data.get("email"), page[-1].id)
        assert pages == [r.id for r in everyone]


def test_the_plan_cache_is_bounded(people, monkeypatch):
    monkeypatch.setattr(listing, "CACHE_SIZE", 3)
    monkeypatch.setattr(listing, "_plans", type(listing._plans)())
    with people.session(write=False) as s:
        for limit in range(1, 8):
            assert len(s.list("person", limit=limit)) == min(limit, len(PEOPLE))
    assert len(listing._plans) == 3


def test_list_query_is_what_list_runs(people):
    with people.session(write=False) as s:
        sql, params = listing.list_query(s, "person", {"age": 30}, limit=7)
        assert "LIMIT 7" in sql and "xrm_records.type = 'person'" in sql
        values = list(params.values()) if isinstance(params, dict) else list(params)
        assert values[0] == 30 and 7 not in values  # the limit is in the SQL text (SQLite adds OFFSET ?: 0)


# -- records with undecoded data --------------------------------------------------------------
def test_listed_records_decode_data_on_first_read_and_equal_the_stored_record(people):
    with people.session(write=False) as s:
        listed = s.list("person", {"name": "Ada"})[0]
        assert listed == s.get(listed.id)  # dataclass equality reads data
        assert listed.data["address"] == {"city": "Oslo"}
        assert listed.data is listed.data  # decoded once, then kept
        listed.data["name"] = "changed here"
        assert listed.data["name"] == "changed here"
        assert listed.to_dict()["data"]["name"] == "changed here"
        with pytest.raises(AttributeError):
            listed.no_such_attribute  # noqa: B018


def test_json_ready_form_serialises_like_the_dict(people):
    with people.session(write=False) as s:
        for fresh in s.list("person"):
            decoded = s.get(fresh.id)
            assert orjson.loads(orjson.dumps(fresh.to_json_ready())) == decoded.to_dict()


def test_search_finds_the_text_anywhere_in_the_title_in_any_case(platform):
    names = ["Ada Lovelace", "ADAM", "Madame X", "Bob", "100% sure", "a_b", "back\\slash", "Nadia Ådal",
             "École Émile", "ΣΟΦΙΑ", "Москва", "客户 Ltd"]
    with platform.session() as s:
        for n in names:
            s.create("person", {"name": n})
        s.create("note", {"text": "no title field? it has one"})

        def found(text, **kw):
            return sorted(r.data["name"] for r in s.list("person", search=text, **kw))

        assert found("ada") == ["ADAM", "Ada Lovelace", "Madame X"]
        # Letters beyond ASCII in any case too, on both engines (SQLite's LIKE folds ASCII only).
        assert found("Ådal") == found("åDAL") == ["Nadia Ådal"]
        assert found("émile") == found("ÉCOLE") == ["École Émile"]
        assert found("σοφ") == ["ΣΟΦΙΑ"] and found("МОСК") == ["Москва"] and found("客户 l") == ["客户 Ltd"]
        assert found("é%") == [] and found("ö") == []
        assert found("LOVE") == ["Ada Lovelace"]
        assert found("%") == ["100% sure"] and found("_") == ["a_b"] and found("\\") == ["back\\slash"]
        assert found("zzz") == []
        assert found("ada", where={"name": {"ne": "ADAM"}}) == ["Ada Lovelace", "Madame X"]
        assert found("ada", limit=2, sort=["name"]) == ["ADAM", "Ada Lovelace"]
        with pytest.raises(ValidationError, match="NUL"):
            s.list("person", search="a\x00")
