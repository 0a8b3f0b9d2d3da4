"""The filter language of lists, KPIs and the CLI (``xrm_core.filters``), on both engines.

Every operator, dotted paths, coercion to the schema's types (PostgreSQL reads ``data #>>``
as text), refusals with a pointer that never reach SQL, the CLI ``--where`` syntax and
injection attempts.
"""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from xrm_core import ValidationError, db
from xrm_core.filters import compile_filter, order_by, parse_where

ROBERT = "Robert'); DROP TABLE xrm_records;--"
PEOPLE = [
    {"name": "Ada", "email": "ada@example.org", "age": 5, "score": 1.5, "vip": True, "born": "2019-01-01",
     "tags": ["a"], "address": {"city": "Oslo", "postal_code": "0150"}},
    {"name": "Bob", "age": 30, "score": 10, "vip": False, "born": "1994-05-05", "address": {"city": "Bergen"}},
    {"name": "Cy", "age": 100, "score": -2.25, "born": "1924-12-31"},
    {"name": ROBERT, "national_id": "123"},
]


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """These tests log nobody in: spare the 0.4 s of a real argon2 hash per user."""
    from argon2 import PasswordHasher
    from xrm_core import accounts
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def people(platform):
    with platform.session() as s:
        for p in PEOPLE:
            s.create("person", p)
    return platform


def names(platform, where) -> set[str]:
    with platform.session(write=False) as s:
        found = {r.data["name"] for r in s.list("person", where, limit=100)}
        assert s.count("person", where) == len(found)
    return found


def refused(platform, where, prefix="/where"):
    """The ValidationError compiling ``where`` raises; checks no SQL ran with it."""
    et = _person(platform)
    with pytest.raises(ValidationError) as e:
        compile_filter(platform.engine.dialect.name, et, where, prefix)
    statements = []
    listener = lambda conn, cursor, statement, *a: statements.append(statement)  # noqa: E731
    event.listen(platform.engine, "before_cursor_execute", listener)
    try:
        with pytest.raises(ValidationError) as e2:
            with platform.session(write=False) as s:
                s.list("person", where)
    finally:
        event.remove(platform.engine, "before_cursor_execute", listener)
    if prefix == "/where":  # what lists use
        assert e2.value.errors == e.value.errors
    assert not [st for st in statements if "xrm_records.data" in st], statements
    return e.value


def _person(platform):
    with platform.session(write=False) as s:
        return s.entity_type("person")


def test_equality_and_and(people):
    assert names(people, {"name": "Bob"}) == {"Bob"}
    assert names(people, {"age": 30}) == {"Bob"}
    assert names(people, {"score": 1.5}) == {"Ada"}
    assert names(people, {"vip": True}) == {"Ada"}
    assert names(people, {"vip": False}) == {"Bob"}
    assert names(people, {"born": "1924-12-31"}) == {"Cy"}
    assert names(people, {"email": None}) == {"Bob", "Cy", ROBERT}
    assert names(people, {"age": {"gte": 5}, "vip": False}) == {"Bob"}
    assert names(people, {"age": {"gte": 5, "lt": 100}}) == {"Ada", "Bob"}
    assert names(people, {}) == {"Ada", "Bob", "Cy", ROBERT}
    assert names(people, {"name": {"eq": "Cy"}}) == {"Cy"}


def test_comparisons_are_numeric_for_numbers(people):
    # As text, "100" < "30" < "5" < "9": a numeric field must compare as numbers on both engines.
    assert names(people, {"age": {"gt": 9}}) == {"Bob", "Cy"}
    assert names(people, {"age": {"gte": 30}}) == {"Bob", "Cy"}
    assert names(people, {"age": {"lt": 30}}) == {"Ada"}
    assert names(people, {"age": {"lte": 30}}) == {"Ada", "Bob"}
    assert names(people, {"score": {"gt": 1.5}}) == {"Bob"}
    assert names(people, {"score": {"lt": 0}}) == {"Cy"}
    assert names(people, {"score": {"gte": -2.25, "lte": 1.5}}) == {"Ada", "Cy"}


def test_comparisons_on_strings_and_dates(people):
    assert names(people, {"born": {"lt": "1990-01-01"}}) == {"Cy"}
    assert names(people, {"born": {"gte": "1994-05-05"}}) == {"Ada", "Bob"}
    assert names(people, {"name": {"gt": "B"}, "age": {"exists": True}}) == {"Bob", "Cy"}
    assert names(people, {"name": {"lte": "Bob"}}) == {"Ada", "Bob"}


def test_ne_includes_records_without_the_field(people):
    assert names(people, {"age": {"ne": 30}}) == {"Ada", "Cy", ROBERT}
    assert names(people, {"vip": {"ne": True}}) == {"Bob", "Cy", ROBERT}
    assert names(people, {"email": {"ne": None}}) == {"Ada"}


def test_in(people):
    assert names(people, {"name": {"in": ["Ada", "Cy", "Zed"]}}) == {"Ada", "Cy"}
    assert names(people, {"age": {"in": [5, "100"]}}) == {"Ada", "Cy"}
    assert names(people, {"age": {"in": []}}) == set()
    assert names(people, {"vip": {"in": [True, False]}}) == {"Ada", "Bob"}


def test_exists(people):
    assert names(people, {"email": {"exists": True}}) == {"Ada"}
    assert names(people, {"age": {"exists": False}}) == {ROBERT}
    assert names(people, {"address": {"exists": True}}) == {"Ada", "Bob"}
    assert names(people, {"tags": {"exists": True}}) == {"Ada"}
    assert names(people, {"address.postal_code": {"exists": True}}) == {"Ada"}


def test_dotted_paths(people):
    assert names(people, {"address.city": "Oslo"}) == {"Ada"}
    assert names(people, {"address.city": {"in": ["Oslo", "Bergen"]}}) == {"Ada", "Bob"}
    assert names(people, {"address.city": {"ne": "Oslo"}}) == {"Bob", "Cy", ROBERT}
    assert names(people, {"address.city": {"gt": "Oslo"}}) == set()
    # "0150" stays a string: never read as the number 150
    assert names(people, {"address.postal_code": "0150"}) == {"Ada"}
    assert names(people, {"address.postal_code": 150}) == set()


def test_values_are_coerced_to_the_schema_type(people):
    assert names(people, {"age": "30"}) == {"Bob"}
    assert names(people, {"age": {"gt": "9"}}) == {"Bob", "Cy"}
    assert names(people, {"score": {"lt": "1e1"}}) == {"Ada", "Cy"}
    assert names(people, {"vip": "true"}) == {"Ada"}
    assert names(people, {"vip": "FALSE"}) == {"Bob"}
    assert names(people, {"national_id": 123}) == {ROBERT}     # a number given for a string field
    assert names(people, {"national_id": "0123"}) == set()


def test_injection_attempts_are_plain_values(people):
    assert names(people, {"name": "x' OR '1'='1"}) == set()
    assert names(people, {"name": {"in": ["' OR 1=1 --", ROBERT]}}) == {ROBERT}
    assert names(people, {"name": ROBERT}) == {ROBERT}
    with people.session(write=False) as s:
        assert s.conn.execute(select(func.count()).select_from(db.records)).scalar() == 4


BAD_FILTERS = [
    ({"nope": 1}, "/where/nope"),
    ({"address.nope": "x"}, "/where/address.nope"),
    ({"age": {"like": 3}}, "/where/age/like"),
    ({"age": {"gt": 3, "contains": 3}}, "/where/age/contains"),
    ({"age": {}}, "/where/age"),
    ({"age": {"gt": "old"}}, "/where/age/gt"),
    ({"age": "thirty"}, "/where/age"),
    ({"age": True}, "/where/age"),
    ({"age": {"gt": "nan"}}, "/where/age/gt"),
    ({"score": {"lt": "inf"}}, "/where/score/lt"),
    ({"score": {"lt": float("inf")}}, "/where/score/lt"),
    ({"vip": "maybe"}, "/where/vip"),
    ({"tags": "a"}, "/where/tags"),
    ({"address": {"eq": "Oslo"}}, "/where/address/eq"),
    ({"age": {"exists": "yes"}}, "/where/age/exists"),
    ({"age": {"in": 5}}, "/where/age/in"),
    ({"age": {"in": [5, None]}}, "/where/age/in/1"),
    ({"age": {"in": [5, "x"]}}, "/where/age/in/1"),
    ({"age": {"lt": None}}, "/where/age/lt"),
    ({"name": {"eq": ["Ada"]}}, "/where/name/eq"),
    ({"name": {"gte": {"x": 1}}}, "/where/name/gte"),
    ({"name') OR 1=1 --": "x"}, "/where/name') OR 1=1 --"),
    ({"name = name OR 1": 1}, "/where/name = name OR 1"),
    ({"a/b~c": 1}, "/where/a~1b~0c"),
    ({"": 1}, "/where/"),
    ({"address..city": 1}, "/where/address..city"),
]


def test_bad_filters_are_refused_with_a_pointer_before_sql(people):
    for where, pointer in BAD_FILTERS:
        e = refused(people, where)
        assert [err["pointer"] for err in e.errors] == [pointer], where
        assert "invalid filter" in e.message


def test_filter_must_be_an_object(people):
    e = refused(people, ["age", 3])
    assert e.errors[0]["pointer"] == "/where"
    e = refused(people, {"nope": 1}, prefix="/filter")
    assert e.errors[0]["pointer"] == "/filter/nope"


def test_parse_where_syntax():
    assert parse_where(["age>=30", "age<40", "vip=true", "name=x=y", "tags=[1", "n!=3", "m<=2.5", "k>-1",
                        'q="7"', "e=", "nul=null", "city=Oslo Centre"]) == {
        "age": {"gte": 30, "lt": 40}, "vip": {"eq": True}, "name": {"eq": "x=y"}, "tags": {"eq": "[1"},
        "n": {"ne": 3}, "m": {"lte": 2.5}, "k": {"gt": -1}, "q": {"eq": "7"}, "e": {"eq": ""},
        "nul": {"eq": None}, "city": {"eq": "Oslo Centre"}}
    # JSON objects and arrays are not filter values: kept as the string typed
    assert parse_where(['a={"x": 1}', "b=[1,2]"]) == {"a": {"eq": '{"x": 1}'}, "b": {"eq": "[1,2]"}}
    assert parse_where(["address.city=Oslo"]) == {"address.city": {"eq": "Oslo"}}
    assert parse_where([]) == {}


@pytest.mark.parametrize("items, pointer", [
    (["age"], "/where/0"), (["=3"], "/where/0"), (['a"b=3'], "/where/0"),
    (["ok=1", "age>=1", "age>=2"], "/where/2"), (["x'--=1"], "/where/0"), (["-a=3"], "/where/0")])
def test_parse_where_refuses_with_pointer(items, pointer):
    with pytest.raises(ValidationError) as e:
        parse_where(items)
    assert e.value.errors[0]["pointer"] == pointer
    assert "--where" in e.value.message


def test_parse_where_then_compile(people):
    assert names(people, parse_where(["age>9"])) == {"Bob", "Cy"}
    assert names(people, parse_where(["age>=30", "age<=30"])) == {"Bob"}
    assert names(people, parse_where(["age<30"])) == {"Ada"}
    assert names(people, parse_where(["name!=Bob", "age>1"])) == {"Ada", "Cy"}
    assert names(people, parse_where(["vip=true"])) == {"Ada"}
    assert names(people, parse_where(["national_id=123"])) == {ROBERT}
    assert names(people, parse_where([f"name={ROBERT}"])) == {ROBERT}
    assert names(people, parse_where(['name="Ada"'])) == {"Ada"}
    assert names(people, parse_where(["address.city=Oslo"])) == {"Ada"}
    assert names(people, parse_where(["born<1990-01-01"])) == {"Cy"}


def test_sort_keys(people):
    et = _person(people)
    with pytest.raises(ValidationError) as e:
        order_by(people.engine.dialect.name, et, ["age", "-nope"])
    assert e.value.errors[0]["pointer"] == "/sort/1"
    with pytest.raises(ValidationError) as e:
        order_by(people.engine.dialect.name, et, ["name;drop"])
    assert e.value.errors[0]["pointer"] == "/sort/0"
    with pytest.raises(ValidationError) as e:
        order_by(people.engine.dialect.name, et, ["tags"])
    assert e.value.errors[0]["pointer"] == "/sort/0"
    with people.session(write=False) as s:
        assert [r.data["name"] for r in s.list("person", {"age": {"exists": True}}, sort=["-age"])] == \
            ["Cy", "Bob", "Ada"]
        assert [r.data["name"] for r in s.list("person", {"score": {"exists": True}}, sort=["score"])] == \
            ["Cy", "Ada", "Bob"]


def test_a_sort_by_a_name_that_is_no_field_path_says_so(platform):
    """A name that cannot be a field ("x[0]") is refused as such, not as a missing field."""
    from xrm_core import ValidationError
    with platform.session() as s:
        for sort, message in ((["x[0]"], "'x[0]' is not a field name (property names of letters, digits, "
                                         "spaces and _ - / : @ # & + ( ) % ?, separated by dots)"),
                              (["-nope"], "'nope' is not a field of person")):
            with pytest.raises(ValidationError) as e:
                s.list("person", sort=sort)
            assert e.value.errors == [{"pointer": "/sort/0", "message": message}]


def test_filter_value_errors_spell_values_as_json(platform):
    from xrm_core import ValidationError
    with platform.session() as s:
        with pytest.raises(ValidationError) as e:
            s.list("person", {"age": True})
    assert e.value.errors[0]["message"] == "true is not a number"


@pytest.mark.parametrize("where, pointer, said", [
    ({"born": {"gt": "yesterday"}}, "/where/born/gt", "'yesterday' for born is not a date: use YYYY-MM-DD"),
    ({"born": "1.3.2026"}, "/where/born", "'1.3.2026' for born is not a date"),
    ({"born": {"gte": "2000"}}, "/where/born/gte", "'2000' for born is not a date"),
    ({"born": {"lt": "2000-02-30"}}, "/where/born/lt", "'2000-02-30' for born is no calendar day"),
    ({"born": {"in": ["2000-01-02", "٢٠٠٠-٠١-٠٢"]}}, "/where/born/in/1", "for born is not a date"),
])
def test_a_date_fields_filter_takes_calendar_dates_only(people, where, pointer, said):
    """Stored dates compare as text: "yesterday" matched nothing, "2000" a range by text,
    without a word. Now refused at the value, before any SQL runs."""
    e = refused(people, where)
    assert e.errors[0]["pointer"] == pointer and said in e.message


def test_a_date_fields_filter_still_compares_dates_and_nulls(people):
    with people.session() as s:
        s.create("person", {"name": "Dated", "born": "2000-01-02"})
    assert names(people, {"born": {"gte": "2000-01-01", "lt": "2000-01-03"}}) == {"Dated"}
    assert names(people, {"born": {"in": ["2000-01-02"]}}) == {"Dated"}
    assert "Dated" not in names(people, {"born": None})
