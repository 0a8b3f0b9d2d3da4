"""Open items of the core (7th round).

1. An import with ``--update-by`` counts as ``updated``/``unchanged`` only what it stored: a
   dry run reports what it *would* do under ``would``, a refused import counts nothing.
2. A Python KPI's ``time_field`` is checked against its entity type at init (and on type
   changes), as a declarative KPI's is, naming the plugin, the KPI and the field.
3. Filter values given as text for numeric fields take JSON's number spelling only — not
   Python's ("١٢٣", "1_000", " 12 ", "+5", "infinity", "nan") — and say which field and
   value; ``--where`` keeps numbers a float would change as typed; date-time filters and
   KPI periods take ASCII digits only.
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import KPI, DefinitionError, ValidationError, db, entity_types, kpis
from xrm_core.filters import parse_where
from xrm_core.importer import import_file
from xrm_core.plugins import hookimpl


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def state(p) -> tuple:
    """Every record (id, data, version) and the number of activities."""
    with p.engine.connect() as conn:
        rows = conn.execute(select(db.records.c.id, db.records.c.data, db.records.c.version)
                            .order_by(db.records.c.id)).all()
        acts = conn.execute(select(func.count()).select_from(db.activities)).scalar_one()
    return [tuple(r) for r in rows], acts


# -- 1. the report of --update-by ---------------------------------------------------------
class Hooked:
    """A record hook on person: rows that change records then go row by row (records.update)."""

    __name__ = "hooked"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        return None


@pytest.fixture(params=["batched", "row_by_row"])
def people(request, make_platform):
    plugins = (PersonPlugin(),) if request.param == "batched" else (PersonPlugin(), Hooked())
    p = make_platform(*plugins)
    with p.session() as s:
        s.create("person", {"name": "Ann", "national_id": "001", "age": 30})
        s.create("person", {"name": "Bob", "national_id": "002", "age": 40})
    return p


# line 2 updates Ann, line 3 names Bob and changes nothing, line 4 creates Cy, line 5 is invalid
CSV = "national_id,name,age\n001,,31\n002,Bob,40\n003,Cy,20\n004,Di,-1\n"
JSONL = ('{"national_id": "001", "age": 31}\n{"national_id": "002", "name": "Bob"}\n'
         '{"national_id": "003", "name": "Cy", "age": 20}\n{"national_id": "004", "name": "Di", "age": -1}\n')


@pytest.mark.parametrize("name, text", [("p.csv", CSV), ("p.jsonl", JSONL)])
def test_a_dry_run_counts_what_it_would_do_under_would_and_stores_nothing(people, tmp_path, name, text):
    path = write(tmp_path, name, text)
    before = state(people)
    with people.session() as s:
        report = import_file(s, "person", path, update_by="national_id", dry_run=True, skip_invalid=True)
    assert state(people) == before
    assert (report["total"], report["valid"], report["imported"], report["updated"], report["unchanged"]) == \
        (4, 3, 0, 0, 0)
    assert report["would"] == {"imported": 3, "updated": 1, "unchanged": 1}
    assert [r["line"] for r in report["invalid"]] == [5 if name.endswith(".csv") else 4]  # CSV: a header
    # what it said it would do is what the same import does
    with people.session() as s:
        real = import_file(s, "person", path, update_by="national_id", skip_invalid=True)
    assert "would" not in real
    assert {k: real[k] for k in ("imported", "updated", "unchanged")} == report["would"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_refused_import_counts_nothing_as_updated(people, tmp_path, dry_run):
    path = write(tmp_path, "p.csv", CSV)
    before = state(people)
    with people.session() as s:
        with pytest.raises(ValidationError) as e:
            import_file(s, "person", path, update_by="national_id", dry_run=dry_run)
    assert state(people) == before
    report = e.value.extra["report"]
    assert (report["valid"], report["imported"], report["updated"], report["unchanged"]) == (3, 0, 0, 0)
    if dry_run:  # the import would be refused: it would store nothing
        assert report["would"] == {"imported": 0, "updated": 0, "unchanged": 0}
    else:
        assert "would" not in report


def test_a_refusal_of_the_whole_file_counts_nothing_either(people, tmp_path):
    # line 3 is not UTF-8: the file is refused as a whole, even with skip_invalid, after
    # line 2 updated Ann
    path = tmp_path / "p.csv"
    path.write_bytes(b"national_id,age\n001,33\n002,\xff\n")
    before = state(people)
    with people.session() as s:
        with pytest.raises(ValidationError) as e:
            import_file(s, "person", str(path), update_by="national_id", skip_invalid=True)
    report = e.value.extra["report"]
    assert (report["imported"], report["updated"], report["unchanged"]) == (0, 0, 0)
    assert state(people) == before


def test_without_update_by_the_report_keeps_the_contract_keys_only(people, tmp_path):
    path = write(tmp_path, "p.jsonl", '{"name": "Eve"}\n')
    with people.session() as s:
        assert import_file(s, "person", path, dry_run=True) == {"total": 1, "valid": 1, "imported": 0,
                                                                "invalid": []}


def test_a_stored_import_reports_what_it_stored(people, tmp_path):
    path = write(tmp_path, "p.csv", CSV)
    with people.session() as s:
        report = import_file(s, "person", path, update_by="national_id", skip_invalid=True)
        ann = s.list("person", {"national_id": "001"})[0]
    assert (report["imported"], report["updated"], report["unchanged"]) == (3, 1, 1)
    assert (ann.data["age"], ann.version) == (31, 2)


# -- 2. a Python KPI's time_field ---------------------------------------------------------
EVENT = {"name": "event", "title_field": "title", "schema": {"type": "object", "properties": {
    "title": {"type": "string"}, "on": {"type": "string", "format": "date"}, "note": {"type": "string"},
    "mail": {"type": "string", "format": "email"}, "size": {"type": "integer"}}}}


def kpi_plugin(**attrs):
    """A plugin declaring the entity type ``event`` and one Python KPI with ``attrs``."""
    kpi_class = type("EventCount", (KPI,), {
        "name": "event_count", "entity": "event", "unit": "events",
        "compute": lambda self, ctx: ctx.measure("event", func.count(), func.count()), **attrs})

    class Plugin:
        __name__ = "eventplug"

        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [EVENT]

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return [kpi_class()]

    return Plugin()


@pytest.mark.parametrize("time_field, message", [
    ("when", "KPI 'event_count' has time_field 'when', which is not a field of event"),
    ("size", "KPI 'event_count' has time_field 'size', which is integer in event: it must be a date or "
             "date-time string field"),
    ("mail", "KPI 'event_count' has time_field 'mail', which is a string of format email in event: it must "
             "be a date or date-time string field"),
    (5, "KPI 'event_count': time_field must be the name of a field, not 5"),
])
def test_init_refuses_a_python_kpi_whose_time_field_does_not_fit(make_platform, time_field, message):
    with pytest.raises(DefinitionError) as e:
        make_platform(kpi_plugin(time_field=time_field))
    assert e.value.message == f"plugin 'eventplug': {message}"
    assert [err["pointer"] for err in e.value.errors] == ["/time_field"]


@pytest.mark.parametrize("time_field", ["on", "note", None])
def test_a_date_or_plain_string_time_field_is_accepted_and_used(make_platform, time_field):
    p = make_platform(kpi_plugin(time_field=time_field))
    with p.session() as s:
        s.create("event", {"title": "a", "on": "2026-01-05", "note": "2026-01-05"})
        s.create("event", {"title": "b", "on": "2026-03-05", "note": "2026-03-05"})
        result = kpis.compute(s, "event_count", "2026-03-01", "2026-03-31")
    assert result["n"] == (2 if time_field is None else 1)


def test_check_still_gets_the_set_of_type_names_and_an_override_without_super_is_covered(make_platform):
    seen = []

    def check(self, known_types):  # overrides KPI.check, without calling super()
        seen.append(known_types)

    with pytest.raises(DefinitionError) as e:
        make_platform(kpi_plugin(entity="nosuch", time_field="on", check=check))
    assert isinstance(seen[0], set) and "event" in seen[0]
    assert e.value.message == "plugin 'eventplug': KPI 'event_count' measures unknown entity type 'nosuch'"


def test_a_type_change_that_removes_the_time_field_is_refused(make_platform):
    p = make_platform(kpi_plugin(time_field="on"))
    changed = {**EVENT, "schema": {**EVENT["schema"], "properties": {
        k: v for k, v in EVENT["schema"]["properties"].items() if k != "on"}}}
    with p.connection() as conn:
        before = entity_types.load_all(conn)
        with pytest.raises(ValidationError) as e:
            kpis.check_type_change(p, conn, before, "event", changed)
    assert e.value.errors == [{"pointer": "/kpis/event_count", "message":
                               "KPI 'event_count' of plugin 'eventplug': KPI 'event_count' has time_field 'on', "
                               "which is not a field of event"}]


# -- 3. numbers in filters ----------------------------------------------------------------
@pytest.fixture
def numbers(make_platform):
    p = make_platform(PersonPlugin())
    with p.connection() as conn:
        entity_types.add(conn, {"name": "thing", "schema": {"type": "object", "properties": {
            "any": {}, "n": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}}}})
    with p.session() as s:
        s.create("person", {"name": "Ann", "age": 123, "score": 1000, "national_id": "99999999999999999999"})
        s.create("person", {"name": "Bob", "age": 12, "score": 2.5, "national_id": "1e2"})
        s.create("thing", {"n": 1, "any": 100, "at": "2026-03-01T08:00:00Z"})
        s.create("thing", {"n": 2, "any": "1e2"})
        s.create("thing", {"n": 3, "any": "١٢٣"})
        s.create("thing", {"n": 4, "any": "+5"})
    return p


def names(p, where, type_name="person"):
    with p.session(write=False) as s:
        return sorted(r.data.get("name", r.data.get("n")) for r in s.list(type_name, where))


@pytest.mark.parametrize("field, text", [
    ("age", "١٢٣"), ("age", "１２３"), ("age", "1_000"), ("age", " 12 "), ("age", "12 "), ("age", "+12"),
    ("age", ""), ("age", "12."), ("age", ".5"), ("age", "0x10"),
    ("score", "infinity"), ("score", "Infinity"), ("score", "nan"), ("score", "١٢.٥"), ("score", "1e"),
    ("score", "2.5\n"),
])
@pytest.mark.parametrize("op", ["eq", "gte"])
def test_a_numeric_field_refuses_text_that_is_no_json_number(numbers, field, text, op):
    with pytest.raises(ValidationError) as e:
        names(numbers, {field: {op: text}})
    assert e.value.message.startswith(f"invalid filter: {text!r} for {field} is not a number: write it as JSON")
    assert e.value.errors == [{"pointer": f"/where/{field}/{op}", "message": f"{text!r} is not a number"}]


def test_one_bad_value_of_in_is_named_by_its_index(numbers):
    with pytest.raises(ValidationError) as e:
        names(numbers, {"age": {"in": ["12", "١٢٣"]}})
    assert e.value.errors == [{"pointer": "/where/age/in/1", "message": "'١٢٣' is not a number"}]


@pytest.mark.parametrize("where, found", [
    ({"age": "123"}, ["Ann"]), ({"age": "-0"}, []), ({"age": {"lt": "1.2e2"}}, ["Bob"]),
    ({"age": "0012"}, ["Bob"]),  # zeros in front: the filters always read them so (REST tests pin it)
    ({"score": {"gt": "2E0"}}, ["Ann", "Bob"]), ({"score": "2.5"}, ["Bob"]), ({"age": 12}, ["Bob"]),
])
def test_json_numbers_as_text_still_filter(numbers, where, found):
    assert names(numbers, where) == found


@pytest.mark.parametrize("text, problem", [("1e400", "is not a finite number"),
                                           ("9" * 20, "is outside the 64-bit integer range")])
def test_numbers_beyond_range_say_so(numbers, text, problem):
    with pytest.raises(ValidationError) as e:
        names(numbers, {"age": text})
    assert e.value.message == f"invalid filter: {text!r} for age {problem}"


def test_a_number_of_thousands_of_digits_is_shown_by_its_start(numbers):
    with pytest.raises(ValidationError) as e:
        names(numbers, {"age": "1" * 5000})
    assert len(e.value.message) < 200 and "(5,000 characters)" in e.value.message


@pytest.mark.parametrize("text", ["٢٠٢٦-٠٣-٠١T٠٨:٠٠:٠٠Z", "2026-03-01T08:00:00.١Z", "٢٠٢٦-٠٣-٠١"])
def test_a_date_time_filter_takes_ascii_digits_only(numbers, text):
    with pytest.raises(ValidationError) as e:
        names(numbers, {"at": {"gte": text}}, "thing")
    assert e.value.message.startswith(f"invalid filter: {text!r} for at is not a date-time")
    assert names(numbers, {"at": {"gte": "2026-03-01T08:00:00Z"}}, "thing") == [1]


def test_where_keeps_numbers_a_float_would_change_as_typed(numbers):
    # a JSON reader rounds 20 digits to 1e+20 and reads 1e2 as 100.0: a string field
    # compared "1e+20" and "100.0"
    assert names(numbers, parse_where(["national_id=99999999999999999999"])) == ["Ann"]
    assert names(numbers, parse_where(["national_id=1e2"])) == ["Bob"]
    assert names(numbers, parse_where(["age=1.23e2"])) == ["Ann"]
    assert names(numbers, parse_where(["age>1e1", "age<1.3E2"])) == ["Ann", "Bob"]
    # a field of no single type: the number typed, in any spelling; the text when quoted
    assert names(numbers, parse_where(["any=1e2"]), "thing") == [1]
    assert names(numbers, parse_where(['any="1e2"']), "thing") == [2]
    # plain numbers stay numbers in the filter document
    assert parse_where(["age=12", "score<=2.5", "n>-1"]) == {"age": {"eq": 12}, "score": {"lte": 2.5},
                                                             "n": {"gt": -1}}


@pytest.mark.parametrize("item, message", [
    ("age=99999999999999999999", "invalid filter: 99999999999999999999 for age is outside the 64-bit integer range"),
    ("any=99999999999999999999", "invalid filter: 99999999999999999999 for any is outside the 64-bit integer range"),
    ("age>1e400", "invalid filter: 1e400 for age is not a finite number"),
    ("age=١٢٣", "invalid filter: '١٢٣' for age is not a number: write it as JSON does (12, -3.5, 1e6): ASCII "
                "digits, no spaces, + or _"),
    ("vip=1e2", "invalid filter: 1e2 for vip is not a boolean"),
])
def test_where_refuses_numbers_no_field_can_hold(numbers, item, message):
    with pytest.raises(ValidationError) as e:
        names(numbers, parse_where([item]), "thing" if item.startswith("any") else "person")
    assert e.value.message == message


def test_where_reads_other_spellings_of_untyped_values_as_text(numbers):
    assert names(numbers, parse_where(["any=١٢٣"]), "thing") == [3]
    assert names(numbers, parse_where(["any=+5"]), "thing") == [4]


@pytest.mark.parametrize("bound", ["٢٠٢٤-٠١-٠١", "２０２４-01-01", "2024-01-01\n", " 2024-01-01", "2024-1-01"])
def test_kpi_periods_take_iso_dates_in_ascii_digits_only(make_platform, bound):
    p = make_platform(kpi_plugin(time_field="on"))
    with p.session() as s:
        for which in ("/from", "/to"):
            args = (bound, None) if which == "/from" else (None, bound)
            with pytest.raises(ValidationError) as e:
                kpis.compute(s, "event_count", *args)
            assert e.value.errors == [{"pointer": which, "message": "not a YYYY-MM-DD date"}]
            assert repr(bound) in e.value.message


# -- 3. the same through the REST query string --------------------------------------------
@pytest.fixture
def api(numbers):
    from xrm_core import accounts
    from xrm_core.web import create_app
    with numbers.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(numbers, {"TESTING": True}).test_client()

    def get(path):
        return client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})
    return get


@pytest.mark.parametrize("query, parameter, text", [
    ("filter[age]=%D9%A1%D9%A2%D9%A3", "filter[age]", "١٢٣"),
    ("filter[age][gte]=1_000", "filter[age][gte]", "1_000"),
    ("filter[age]=%2012%20", "filter[age]", " 12 "),
    ("filter[age][lt]=%2B12", "filter[age][lt]", "+12"),
    ("filter[score][gt]=infinity", "filter[score][gt]", "infinity"),
    ("filter[score]=nan", "filter[score]", "nan"),
    ("filter[age][in]=12,%EF%BC%91", "filter[age][in]", "１"),
])
def test_rest_filters_refuse_text_that_is_no_json_number(api, query, parameter, text):
    r = api("/records/person?" + query)
    assert r.status_code == 400, r.get_data(as_text=True)
    field = parameter[len("filter["):].partition("]")[0]
    assert r.json["detail"].startswith(f"invalid filter: {text!r} for {field} is not a number")
    assert [e["pointer"] for e in r.json["errors"]] == [f"/query/{parameter}"]


def test_rest_filters_still_read_json_numbers(api):
    for query, found in (("filter[age]=123", ["Ann"]), ("filter[score][lt]=1e3", ["Bob"]),
                         ("filter[age][in]=12,0123", ["Ann", "Bob"])):
        r = api("/records/person?" + query)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert sorted(i["data"]["name"] for i in r.json["items"]) == found, query


@pytest.mark.parametrize("query, found", [
    ("filter[any]=%D9%A1%D9%A2%D9%A3", [3]),  # Arabic-Indic digits: the text, not 123
    ("filter[any]=%2B5", [4]),  # "+5": the text
    ("filter[any]=100", [1]), ("filter[any]=1e2", [1]), ("filter[any]=%221e2%22", [2]),
    ("filter[any]=%20100", []),  # spaces sent are part of the value: no record holds " 100"
])
def test_rest_reads_an_untyped_value_as_json_only_when_it_is_json(api, query, found):
    r = api("/records/thing?" + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [i["data"]["n"] for i in r.json["items"]] == found


def test_rest_kpi_periods_take_ascii_dates_only(make_platform):
    from xrm_core import accounts
    from xrm_core.web import create_app
    p = make_platform(kpi_plugin(time_field="on"))
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    r = client.get("/api/v1/kpis/event_count?from=%D9%A2%D9%A0%D9%A2%D9%A4-01-01",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.json["errors"][0]["pointer"] == "/query/from"
