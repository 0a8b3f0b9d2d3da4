"""Date-time fields filter, sort, page and index by the instant they name (xrm_core.instants),
on SQLite and PostgreSQL: mixed offsets, fractions of any length, lower-case ``t``/``z``."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import literal_column, select

from xrm_core import accounts, db, entity_types, fields, hookimpl, instants, keys, kpis, listing, migrations
from xrm_core.errors import Conflict, ValidationError
from xrm_core.filters import parse_where

EVENT = {
    "name": "event", "title_field": "title", "indexes": ["opened_at"], "unique": ["slot"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "$defs": {"when": {"type": "string", "format": "date-time"}},
        "properties": {
            "title": {"type": "string"},
            "opened_at": {"type": "string", "format": "date-time"},
            "closed_at": {"$ref": "#/$defs/when"},
            "due_at": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/datetime"},
            "seen_at": {"allOf": [{"type": "string"}, {"format": "date-time"}]},
            "maybe_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "slot": {"type": "string", "format": "date-time"},
            "on": {"type": "string", "format": "date"},
            "label": {"type": "string"},
        },
    },
}

#: Mixed offsets, spellings of one instant, fractions of different lengths, a leap second.
VALUES = [
    "2026-03-01T02:00:00+03:30",        # 2026-02-28T22:30Z
    "2026-02-28T23:30:00-05:00",        # 2026-03-01T04:30Z
    "2026-03-01T00:00:00Z",
    "2026-03-01t08:00:00+08:00",        # 2026-03-01T00:00Z again (a tie), lower-case t
    "2026-02-28T22:30:00z",             # 22:30Z again (a tie), lower-case z
    "2026-03-01T00:00:00.5Z",
    "2026-03-01T03:30:00.25+03:30",     # 00:00:00.25Z: between 00:00Z and 00:00:00.5Z
    "2026-03-01T00:00:00.123456789Z",   # digits past microseconds dropped
    "2026-03-01T00:00:00.000001-00:00",
    "2026-02-28T23:59:60Z",             # a leap second: after 23:59:59.x, before 00:00
    "2026-02-28T23:59:59.9+00:00",
]


class EventPlugin:
    __name__ = "testevents"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [EVENT]


@pytest.fixture
def events(make_platform):
    p = make_platform(EventPlugin())
    with p.session() as s:
        for i, v in enumerate(VALUES):
            s.create("event", {"title": f"e{i}", "opened_at": v})
        s.create("event", {"title": "none"})  # no opened_at: last in either direction
    return p


def _instant(text):
    return instants.normal(text)


def _titles(p, where=None, sort=None, limit=100, after=None):
    with p.session() as s:
        return [r.data["title"] for r in s.list("event", where, limit=limit, sort=sort, after=after)]


def _expected(keep, descending=False):
    """Titles of VALUES kept by ``keep(instant)``, in instant order then creation (id) order."""
    rows = [(_instant(v), i) for i, v in enumerate(VALUES) if keep(_instant(v))]
    rows.sort(key=lambda r: r[0], reverse=descending)
    if descending:  # ids ascend within a tie whatever the direction
        rows.sort(key=lambda r: r[0], reverse=True)
        out, i = [], 0
        while i < len(rows):
            j = i
            while j < len(rows) and rows[j][0] == rows[i][0]:
                j += 1
            out += sorted(rows[i:j], key=lambda r: r[1])
            i = j
        rows = out
    return [f"e{i}" for _, i in rows]


# -- what is an instant field -----------------------------------------------------------
def test_sql_type_reads_the_format_through_refs_allof_and_nullable_anyof(events):
    with events.session() as s:
        et = s.entity_type("event")
    for name in ("opened_at", "closed_at", "due_at", "seen_at", "maybe_at", "slot"):
        assert fields.sql_type(et, name) == instants.INSTANT, name
    assert fields.sql_type(et, "on") == "string"
    assert fields.sql_type(et, "label") == "string"
    assert et.field_type("opened_at") == "string"  # the JSON type is unchanged


def test_normal_form_is_the_same_in_python_and_in_the_database(events):
    with events.session() as s:
        text = fields.field_expr(s.dialect, "opened_at", "string")
        rows = s.conn.execute(select(text, fields.field_expr(s.dialect, "opened_at", instants.INSTANT))
                              .where(db.records.c.type == "event")).all()
    assert sorted(map(tuple, rows), key=str) == sorted([(v, _instant(v)) for v in VALUES] + [(None, None)], key=str)
    assert _instant("2026-03-01T02:00:00+03:30") == "2026-02-28T22:30:00.000000Z"
    assert _instant("2026-02-28T23:59:60Z") == "2026-02-28T23:59:59.999999Z"


# -- sort and keyset pages --------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_sort_both_ways_and_keyset_pages_crossing_ties(events, size):
    everything = lambda _: True  # noqa: E731
    for sort, descending in (("opened_at", False), ("-opened_at", True)):
        whole = _titles(events, sort=[sort])
        assert whole == _expected(everything, descending) + ["none"]
        seen, after = [], None
        with events.session() as s:
            while True:
                page = s.list("event", sort=[sort], limit=size, after=after)
                seen += [r.data["title"] for r in page]
                if len(page) < size:
                    break
                after = (page[-1].data.get("opened_at"), page[-1].id)  # the stored text, as the API's cursor
        assert seen == whole, (sort, size)


def test_stored_text_is_returned_exactly_as_given(events):
    with events.session() as s:
        got = {r.data["title"]: r.data.get("opened_at") for r in s.list("event")}
    assert got == {**{f"e{i}": v for i, v in enumerate(VALUES)}, "none": None}


# -- filters ----------------------------------------------------------------------------
def test_the_reported_defect_lt_compares_instants(events):
    with events.session() as s:
        s.create("event", {"title": "x1", "opened_at": "2026-02-28T23:30:00-05:00"})  # 04:30Z on 1 March
        s.create("event", {"title": "x2", "opened_at": "2026-03-01T02:00:00+03:30"})  # 22:30Z on 28 February
    got = _titles(events, parse_where(["opened_at<2026-03-01T00:00:00Z"]))
    assert "x2" in got and "x1" not in got


CUT = "2026-03-01T03:30:00.25+03:30"  # 2026-03-01T00:00:00.250000Z, a tie with e6


@pytest.mark.parametrize("op, keep", [
    ("eq", lambda x, c: x == c), ("gt", lambda x, c: x > c), ("gte", lambda x, c: x >= c),
    ("lt", lambda x, c: x < c), ("lte", lambda x, c: x <= c),
])
def test_each_comparison_compares_instants(events, op, keep):
    c = _instant(CUT)
    # The value in another spelling of the same instant: the result is the same.
    for given in (CUT, "2026-03-01T00:00:00.250Z", "2026-03-01t08:00:00.25+08:00"):
        got = _titles(events, {"opened_at": {op: given}}, sort=["opened_at"])
        assert got == _expected(lambda x: x is not None and keep(x, c)), (op, given)


def test_ne_in_and_exists(events):
    c = _instant("2026-03-01T00:00:00Z")
    got = _titles(events, {"opened_at": {"ne": "2026-03-01T08:00:00+08:00"}}, sort=["opened_at"])
    assert got == _expected(lambda x: x != c) + ["none"]  # ne keeps records without the field
    got = _titles(events, {"opened_at": {"in": ["2026-03-01T00:00:00.000Z", "2026-02-28T19:00:00-03:30"]}},
                  sort=["opened_at"])
    assert got == ["e0", "e4", "e2", "e3"]  # 22:30Z twice, then 00:00Z twice (ties by id)
    assert _titles(events, {"opened_at": {"exists": False}}) == ["none"]
    assert len(_titles(events, {"opened_at": {"exists": True}})) == len(VALUES)
    assert _titles(events, {"opened_at": None}) == ["none"]


def test_a_day_compares_with_the_day_written_as_kpi_periods_count_it(events):
    """A date-only value keeps its meaning: the calendar day written in each value."""
    from xrm_core.instants import DATE_TIME_RE
    written = {f"e{i}": DATE_TIME_RE.fullmatch(v).group(0)[:10] for i, v in enumerate(VALUES)}
    for op, keep in (("gte", lambda d, day: d >= day), ("gt", lambda d, day: d > day),
                     ("lt", lambda d, day: d < day), ("lte", lambda d, day: d <= day)):
        for day in ("2026-02-28", "2026-03-01", "2026-03-02"):
            got = set(_titles(events, {"opened_at": {op: day}}))
            assert got == {t for t, d in written.items() if keep(d, day)}, (op, day)
    # The calendar's ends: every value is on or before 9999-12-31, none after it.
    assert set(_titles(events, {"opened_at": {"lte": "9999-12-31"}})) == set(written)
    assert _titles(events, {"opened_at": {"gt": "9999-12-31"}}) == []
    assert set(_titles(events, {"opened_at": {"gt": "0001-01-01"}})) == set(written)
    # The KPI's window and the equivalent filter count the same records.
    with events.connection() as conn:
        kpis.add(events, conn, {"name": "opened", "unit": "events", "entity": "event",
                                "time_field": "opened_at", "measure": {"count": True}})
    for day in ("2026-02-28", "2026-03-01"):
        with events.session(write=False) as s:
            n = kpis.compute(s, "opened", day, day)["n"]
        listed = _titles(events, {"opened_at": {"gte": day, "lt": instants.next_day(day, 1)}})
        assert n == len(listed) > 0, day
    # A KPI's own filter on a date-time field compares instants, as a list does.
    with events.connection() as conn:
        kpis.add(events, conn, {"name": "early", "unit": "events", "entity": "event",
                                "time_field": "opened_at", "measure": {"count": True},
                                "where": {"opened_at": {"lt": "2026-03-01T00:00:00Z"}}})
    with events.session(write=False) as s:
        assert kpis.compute(s, "early")["n"] == len(_titles(events, {"opened_at": {"lt": "2026-03-01T00:00:00Z"}}))


@pytest.mark.parametrize("where, pointer, words", [
    ({"opened_at": {"lt": "soon"}}, "/where/opened_at/lt", "is not a date-time"),
    ({"opened_at": {"gt": "2026-03-01T00:00:00"}}, "/where/opened_at/gt", "is not a date-time"),
    ({"opened_at": {"gt": 1772323200}}, "/where/opened_at/gt", "is not a date-time"),
    ({"opened_at": "2026-02-30T00:00:00Z"}, "/where/opened_at", "names no instant"),
    ({"opened_at": {"lt": "2026-02-30"}}, "/where/opened_at/lt", "no calendar day"),
    ({"opened_at": "2026-03-01"}, "/where/opened_at", "holds no date alone"),
    ({"opened_at": {"in": ["2026-03-01T00:00:00Z", "2026-03-01"]}}, "/where/opened_at/in/1", "holds no date alone"),
    ({"opened_at": {"in": ["x"]}}, "/where/opened_at/in/0", "is not a date-time"),
])
def test_bad_values_are_refused_at_their_pointer(events, where, pointer, words):
    with events.session() as s, pytest.raises(ValidationError) as e:
        s.list("event", where)
    assert e.value.errors[0]["pointer"] == pointer and words in e.value.errors[0]["message"]


def test_a_cursor_value_must_be_a_date_time(events):
    with events.session() as s, pytest.raises(ValidationError) as e:
        s.list("event", sort=["opened_at"], after=("2026-03-01", "x"))
    assert e.value.errors[0]["pointer"] == "/cursor/0"


# -- indexes ----------------------------------------------------------------------------
def list_plan(p, type_name: str = "event", where=None, sort=None) -> str:
    """The query plan of a first list page of ``type_name`` (PostgreSQL: analyzed, with
    sequential scans off, so an index that can serve it shows)."""
    with p.session() as s:
        statement, params = listing.list_query(s, type_name, where, sort=sort, limit=10)
    with p.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return "\n".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
        conn.exec_driver_sql("ANALYZE xrm_records")
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
        conn.rollback()
        return plan


def _index_name(p, field, unique=False) -> str:
    with p.connection() as conn:
        et = entity_types.get(conn, "event")
        expr = fields.field_sql(conn.dialect.name, field, fields.sql_type(et, field))
        [name] = [n for n, ddl in entity_types.index_ddl(conn.dialect.name, et).items()
                  if expr in ddl and ("UNIQUE" in ddl) == unique]
    return name


def _stored(p) -> set[str]:
    with p.connection() as conn:
        return entity_types.stored_indexes(conn, "event")


@pytest.mark.parametrize("where, sort", [
    ({"opened_at": {"gte": "2026-03-01T00:00:00+03:30", "lt": "2026-03-01T12:00:00Z"}}, None),
    ({"opened_at": {"gte": "2026-03-01"}}, None),
    (None, ["opened_at"]),
    (None, ["-opened_at"]),
])
def test_lists_are_served_by_the_instant_index(events, where, sort):
    if sort == ["-opened_at"] and events.engine.dialect.name == "postgresql":
        # Not for date-times only: DESC NULLS LAST, id ASC is no scan of any ascending index
        # on PostgreSQL (backwards it reads NULLS FIRST), whatever the field.
        pytest.skip("PostgreSQL reads no ascending index for a descending sort with NULLS LAST")
    plan = list_plan(events, where=where, sort=sort)
    assert _index_name(events, "opened_at") in plan, plan
    if sort:
        # Read in the index's order: no sort of the whole type (ties of a descending sort are
        # put in id order as they stream: SQLite's "RIGHT PART", PostgreSQL's Incremental Sort).
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
        assert not any(line.strip().lstrip("->").strip().startswith("Sort ") for line in plan.splitlines()), plan


def test_upgrade_rebuilds_text_indexes_made_before_instants(events, monkeypatch):
    """A database indexed by an older release (text expressions, migration 0005) is upgraded
    by ``xrm init``: the function appears, the old indexes go, the new ones serve lists."""
    new = _stored(events)
    with events.connection() as conn:
        et = entity_types.get(conn, "event")
        config = Config()
        config.set_main_option("script_location", migrations.__path__[0])
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")  # PostgreSQL: the function and its indexes go
        with monkeypatch.context() as m:  # what the older release built: text expressions
            m.setattr(fields, "sql_type", lambda et, f: et.field_type(f))
            entity_types.apply_indexes(conn, "event", et)
    old = _stored(events)
    assert old and not old & new and migrations.HEAD == "0009"
    with events.engine.connect() as conn:
        assert migrations.current(conn) == "0005"
    report = events.init()
    assert report["migrated_from"] == "0005" and report["revision"] == migrations.HEAD
    assert _stored(events) == new
    assert _index_name(events, "opened_at") in list_plan(events, sort=["opened_at"])
    assert _titles(events, sort=["opened_at"]) == _expected(lambda _: True) + ["none"]


def test_types_update_rebuilds_a_text_index_of_a_date_time_field(make_platform):
    """An admin's type whose field gains ``format: date-time``: its index becomes the instant's."""
    p = make_platform()
    plain = {"name": "visit", "indexes": ["at"],
             "schema": {"type": "object", "properties": {"at": {"type": "string"}}}}
    with p.connection() as conn:
        entity_types.add(conn, plain)
        before = entity_types.stored_indexes(conn, "visit")
    with p.session() as s:
        s.create("visit", {"at": "2026-03-01T02:00:00+03:30"})
        s.create("visit", {"at": "2026-02-28T23:00:00Z"})
    timed = {**plain, "schema": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}}
    with p.connection() as conn:
        entity_types.update(conn, timed)
        after = entity_types.stored_indexes(conn, "visit")
    assert len(after) == 1 and not after & before
    with p.session() as s:
        # 22:30Z before 23:00Z: text order was the other way round
        assert [r.data["at"] for r in s.list("visit", sort=["at"])] == ["2026-03-01T02:00:00+03:30", "2026-02-28T23:00:00Z"]


# -- unique keys and lookups by key -----------------------------------------------------
def test_two_spellings_of_one_instant_clash_on_a_unique_key(events):
    with events.session() as s:
        first = s.create("event", {"title": "a", "slot": "2026-03-01T02:00:00+03:30"})
    with pytest.raises(Conflict) as clash, events.session() as s:
        s.create("event", {"title": "b", "slot": "2026-02-28T22:30:00Z"})
    # named as any duplicate is: the record holding the other spelling is found by its instant
    assert first.id in clash.value.message and clash.value.errors == [{"pointer": "/data/slot", "message": "already used"}]
    with events.session() as s:
        assert [r.data["title"] for r in s.list("event", {"slot": {"exists": True}})] == ["a"]
        s.create("event", {"title": "c", "slot": "2026-02-28T22:30:00.000001Z"})  # another instant
        found = keys.find(s, s.entity_type("event"), "slot", "string",
                          ["2026-02-28T19:00:00-03:30", "nonsense", "2026-02-28T22:30:00.000001z"])
        assert [r.id for r in found["2026-02-28T19:00:00-03:30"]] == [first.id]
        assert list(found) == ["2026-02-28T19:00:00-03:30", "2026-02-28T22:30:00.000001z"]
    assert _index_name(events, "slot", unique=True) in _stored(events)


# -- REST -------------------------------------------------------------------------------
def test_rest_list_sorted_by_a_date_time_pages_by_instant(events):
    from xrm_core.web import create_app
    client = create_app(events, {"TESTING": True}).test_client()
    with events.connection() as conn:
        token = accounts.create_token(conn, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    seen, cursor = [], None
    while True:
        r = client.get("/api/v1/records/event", headers=headers,
                       query_string={"sort": "-opened_at", "limit": 4, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.json
        seen += [item["data"]["title"] for item in r.json["items"]]
        cursor = r.json["next"]
        if not cursor:
            break
    assert seen == _expected(lambda _: True, descending=True) + ["none"]
    r = client.get("/api/v1/records/event", headers=headers, query_string={"filter[opened_at][lt]": "soon"})
    assert r.status_code == 400 and r.json["errors"][0]["pointer"] == "/query/filter[opened_at][lt]", r.json


def test_a_unique_key_over_two_stored_spellings_of_one_instant_is_refused_by_name(make_platform):
    """Making a date-time field unique compares stored values as its index will: by instant.
    Compared as text, the check passed and the index build broke (a raw IntegrityError)."""
    loose = {"name": "slotted", "schema": {"type": "object",
                                           "properties": {"slot": {"type": "string", "format": "date-time"}}}}
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, loose)
    with p.session() as s:
        a = s.create("slotted", {"slot": "2026-03-01T02:00:00+03:30"})
        b = s.create("slotted", {"slot": "2026-02-28T22:30:00Z"})
    with p.connection() as conn, pytest.raises(Conflict) as refused:
        entity_types.update(conn, {**loose, "unique": ["slot"]})
    assert refused.value.errors[0]["pointer"] == "/unique/0"
    assert a.id in refused.value.errors[0]["message"] and b.id in refused.value.errors[0]["message"]
    with p.connection() as conn:
        assert "unique" not in entity_types.load_all(conn)["slotted"].definition
