"""Importing relationships from a file (``xrm import-relationships``): records named by id or
by a field of their type, every invalid row reported by line and pointer, all or nothing unless
skip_invalid, dry runs, scope, and the same history as relating one pair."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import ValidationError, accounts, db, hookimpl, importer, relationship_files
from xrm_core.relationship_files import import_relationships


class AnyEnd:
    """A relationship type whose target may be a record of any type."""

    __name__ = "anyend"

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "about", "source": "note", "target": "*", "cardinality": "many-to-many"}]


@pytest.fixture
def p(make_platform):
    p = make_platform(PersonPlugin(), AnyEnd())
    with p.session() as s:
        for i in range(1, 6):
            s.create("person", {"name": f"P{i}", "national_id": f"00{i}", "age": 30 + i,
                                "email": "twin@example.com" if i in (4, 5) else f"p{i}@example.com"})
        for i in range(1, 4):
            s.create("note", {"text": f"N{i}"})
    return p


def ids(s, type_name, field):
    return {r.data[field]: r.id for r in s.list(type_name, limit=100)}


def relationships(p) -> list[tuple]:
    with p.engine.connect() as conn:
        R = db.relationships
        return [tuple(r) for r in conn.execute(select(R.c.type, R.c.source_id, R.c.target_id, R.c.data)
                                                    .order_by(R.c.source_id, R.c.target_id))]


def counts(p) -> dict:
    with p.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (db.records, db.activities, db.relationships)}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def refusal(call) -> tuple[ValidationError, dict]:
    with pytest.raises(ValidationError) as e:
        call()
    return e.value, e.value.extra["report"]


def by_line(report) -> dict:
    return {r["line"]: [(e["pointer"], e["message"]) for e in r["errors"]] for r in report["invalid"]}


# -- by key -----------------------------------------------------------------------------
def test_csv_by_keys_relates_with_data_and_history(p, tmp_path):
    path = write(tmp_path, "links.csv", 'source,target,data\n001,N1,"{""role"": ""author""}"\n001,N2,\n002,N3,\n')
    with p.session() as s:
        report = import_relationships(s, "has_note", path, source_key="national_id", target_key="text")
        people, notes = ids(s, "person", "national_id"), ids(s, "note", "text")
        assert report == {"total": 3, "valid": 3, "imported": 3, "invalid": []}
        related = {(r["record"].data["text"], json.dumps(r["relationship"]["data"]))
                   for r in s.related(people["001"], "has_note")}
        assert related == {("N1", '{"role": "author"}'), ("N2", "null")}
        assert [r["record"].id for r in s.related(notes["N3"])] == [people["002"]]
        # the same history as relating one pair: a `related` activity on both records
        assert [a["kind"] for a in s.history(notes["N1"])][-1] == "related"
        assert sum(a["kind"] == "related" for a in s.history(people["001"])) == 2


def test_integer_keys_are_read_as_the_fields_type(p, tmp_path):
    # `age` is an integer field: the CSV cell 31 is the integer 31, and a JSONL string is refused.
    csv_path = write(tmp_path, "l.csv", "source,target\n31,32\n")
    jsonl_path = write(tmp_path, "l.jsonl", '{"source": 33, "target": "34"}\n')
    with p.session() as s:
        people = ids(s, "person", "age")
        assert import_relationships(s, "knows", csv_path, source_key="age", target_key="age")["imported"] == 1
        assert [r["record"].id for r in s.related(people[31], "knows")] == [people[32]]
        _, report = refusal(lambda: import_relationships(s, "knows", jsonl_path, source_key="age", target_key="age"))
        assert by_line(report) == {1: [("/target", '"34" is not of type "integer"')]}


def test_every_invalid_row_is_reported_and_nothing_is_related(p, tmp_path):
    before = counts(p)
    path = write(tmp_path, "links.csv", "\n".join([
        "source,target",
        "001,N1",      # 2: fine
        "009,N2",      # 3: no such person
        "001,N9",      # 4: no such note
        "002,N1",      # 5: N1 already has a source (line 2): one-to-many
        "001,N1",      # 6: repeats line 2
        ",N3",         # 7: source missing
        "003,N3,x",    # 8: a cell too many
    ]) + "\n")
    with p.session() as s:
        e, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="national_id",
                                                         target_key="text"))
    assert "6 of 7 rows are invalid" in str(e) and "nothing related" in str(e)
    assert report["total"] == 7 and report["imported"] == 0
    lines = by_line(report)
    assert lines[3] == [("/source", "no person with national_id='009'")]
    assert lines[4] == [("/target", "no note with text='N9'")]
    assert lines[5][0][0] == "/target" and "already has a 'has_note' source (line 2)" in lines[5][0][1]
    assert lines[6] == [("", "repeats line 2: person with national_id='001' → note with text='N1'")]
    assert lines[7][0][0] == "/source" and "required" in lines[7][0][1]
    assert "cells" in lines[8][0][1]
    assert sorted(lines) == [3, 4, 5, 6, 7, 8]
    assert counts(p) == before and relationships(p) == []


def test_skip_invalid_relates_the_valid_rows(p, tmp_path):
    path = write(tmp_path, "links.csv", "source,target\n001,N1\n009,N2\n002,N2\n")
    with p.session() as s:
        report = import_relationships(s, "has_note", path, source_key="national_id", target_key="text",
                                      skip_invalid=True)
        assert (report["valid"], report["imported"], [r["line"] for r in report["invalid"]]) == (2, 2, [3])
    assert len(relationships(p)) == 2


def test_dry_run_checks_everything_and_writes_nothing(p, tmp_path):
    before = counts(p)
    path = write(tmp_path, "links.csv", "source,target\n001,N1\n002,N2\n")
    with p.session() as s:
        report = import_relationships(s, "has_note", path, source_key="national_id", target_key="text",
                                      dry_run=True)
    assert report == {"total": 2, "valid": 2, "imported": 0, "invalid": []}
    assert counts(p) == before


def test_an_ambiguous_key_is_refused_with_the_records_it_names(p, tmp_path):
    path = write(tmp_path, "links.csv", "source,target\ntwin@example.com,N1\n")
    with p.session() as s:
        twins = sorted(r.id for r in s.list("person", {"email": "twin@example.com"}))
        _, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="email",
                                                         target_key="text"))
    ((pointer, message),) = by_line(report)[2]
    assert pointer == "/source"
    assert message.startswith("2 records have email='twin@example.com'") and all(t in message for t in twins)


def test_stored_relationships_refuse_duplicates_and_cardinality(p, tmp_path):
    with p.session() as s:
        people, notes = ids(s, "person", "national_id"), ids(s, "note", "text")
        stored = s.relate("has_note", people["001"], notes["N1"])
        s.relate("mentor_of", people["001"], people["002"])
    path = write(tmp_path, "links.csv", "source,target\n001,N1\n002,N1\n")
    mentors = write(tmp_path, "mentors.csv", "source,target\n001,003\n004,002\n")
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="national_id",
                                                         target_key="text"))
        assert by_line(report)[2] == [("", "person with national_id='001' is already related to note with "
                                           f"text='N1' by 'has_note' (relationship {stored['id']})")]
        assert "already has a 'has_note' source (stored)" in by_line(report)[3][0][1]
        _, report = refusal(lambda: import_relationships(s, "mentor_of", mentors, source_key="national_id",
                                                         target_key="national_id"))
        assert by_line(report)[2][0][0] == "/source" and "(stored); mentor_of is one-to-one" in by_line(report)[2][0][1]
        assert by_line(report)[3][0][0] == "/target"


def test_checks_hold_across_batches(p, tmp_path, monkeypatch):
    # Batches are checked and written one after another: a later batch still sees the
    # file's earlier rows (the repeat and the cardinality), and a refusal undoes them all.
    monkeypatch.setattr(relationship_files, "BATCH", 2)
    path = write(tmp_path, "links.csv", "source,target\n001,N1\n002,N2\n003,N3\n004,N1\n001,N1\n")
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="national_id",
                                                         target_key="text"))
    assert sorted(by_line(report)) == [5, 6]
    assert "(line 2)" in by_line(report)[5][0][1] and by_line(report)[6][0][1].startswith("repeats line 2")
    assert relationships(p) == []


def test_stored_many_to_many_pairs_are_found_whatever_else_is_related(p, tmp_path):
    # many-to-many: the stored pairs are looked up pair by pair (a VALUES join on
    # PostgreSQL); other stored pairs of the same records are no clash.
    with p.session() as s:
        people = ids(s, "person", "national_id")
        stored = s.relate("knows", people["001"], people["002"])
        s.relate("knows", people["001"], people["003"])
        s.relate("knows", people["004"], people["002"])
    path = write(tmp_path, "knows.csv", "source,target\n001,004\n001,002\n002,001\n003,002\n")
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "knows", path, source_key="national_id",
                                                         target_key="national_id"))
    assert by_line(report) == {3: [("", "person with national_id='001' is already related to person with "
                                        f"national_id='002' by 'knows' (relationship {stored['id']})")]}
    with p.session() as s:
        report = import_relationships(s, "knows", path, source_key="national_id", target_key="national_id",
                                      skip_invalid=True)
    assert (report["imported"], len(relationships(p))) == (3, 6)


class _Recorder:
    """What GrowthStatistics needs of a connection, recording the statements it runs."""

    def __init__(self, dialect: str, never: bool = False):
        self.dialect = type("D", (), {"name": dialect})()
        self.never, self.sql = never, []

    def exec_driver_sql(self, sql, params=None):
        self.sql.append(sql)
        return type("R", (), {"scalar": lambda _: self.never})()


def test_growth_statistics_analyze_when_the_rows_written_double():
    conn = _Recorder("postgresql")
    stats = db.GrowthStatistics(conn, "xrm_relationships", first=2000)
    analyzed = []
    for _ in range(20):  # 20 batches of 1,000 rows
        stats.wrote(1000)
        analyzed.append(len(conn.sql))
    # after 2k, 4k, 8k and 16k rows: a few times per import, not once per batch
    assert [n * 1000 for n in range(1, 21) if analyzed[n - 1] > (analyzed[n - 2] if n > 1 else 0)] == \
        [2000, 4000, 8000, 16000]
    assert set(conn.sql) == {"ANALYZE (SKIP_LOCKED) xrm_relationships"}
    sqlite = _Recorder("sqlite")
    stats = db.GrowthStatistics(sqlite, "xrm_relationships", first=1, reads=("xrm_records",))
    stats.wrote(10 ** 6)
    assert sqlite.sql == []


def test_a_database_that_refuses_analyze_is_read_as_before():
    # A read replica answers ANALYZE with an error ("cannot execute ANALYZE during
    # recovery"): statistics are an optimisation, the export or check goes on without them.
    from sqlalchemy.exc import DBAPIError

    class Refusing:
        def execution_options(self, **_):
            return self

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def exec_driver_sql(self, sql, params=None):
            raise DBAPIError(sql, params, Exception("cannot execute ANALYZE during recovery"))

    conn = _Recorder("postgresql", never=True)
    conn.engine = type("E", (), {"connect": lambda _: Refusing()})()
    db.GrowthStatistics(conn, "xrm_relationships", reads=("xrm_records",))  # no exception
    assert conn.sql == ["SELECT reltuples < 0 FROM pg_class WHERE oid = to_regclass(%s)"]


def test_a_long_import_leaves_the_planner_statistics_of_what_it_wrote(make_platform, tmp_path, monkeypatch):
    # In one transaction autovacuum sees none of the import's rows; the import analyzes the
    # table as it grows (the batch lookups were planned as scans of every relationship).
    p = make_platform(PersonPlugin())
    if p.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    monkeypatch.setattr(relationship_files, "BATCH", 50)
    people = write(tmp_path, "people.jsonl", "".join(json.dumps({"name": f"P{i}", "national_id": f"n{i}"}) + "\n"
                                                    for i in range(400)))
    links = write(tmp_path, "links.csv", "source,target\n" + "".join(f"n{i},n{i + 1}\n" for i in range(399)))
    with p.session() as s:
        importer.import_file(s, "person", people)
    with p.session() as s:
        assert import_relationships(s, "knows", links, source_key="national_id",
                                    target_key="national_id")["imported"] == 399
        seen = s.conn.exec_driver_sql("SELECT oid::regclass::text, reltuples FROM pg_class WHERE oid IN "
                                      "('xrm_relationships'::regclass, 'xrm_records'::regclass)")
        seen = dict(seen.all())
        assert seen["xrm_relationships"] >= 200  # analyzed at 50, 100, 200 rows written, inside the transaction
        # the records it reads by key, never analyzed before (autovacuum is off or not round yet)
        assert seen["xrm_records"] >= 400
    assert len(relationships(p)) == 399


def test_an_import_does_not_wait_for_another_transactions_analyze(make_platform, tmp_path, monkeypatch):
    # ANALYZE's lock lasts until its transaction ends and stops any other ANALYZE: a second
    # import at the same time skips its own rather than waiting for the first to commit.
    p = make_platform(PersonPlugin())
    if p.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's ANALYZE")
    monkeypatch.setattr(relationship_files, "BATCH", 10)
    people = write(tmp_path, "people.jsonl", "".join(json.dumps({"name": f"P{i}", "national_id": f"n{i}"}) + "\n"
                                                    for i in range(60)))
    links = write(tmp_path, "links.csv", "source,target\n" + "".join(f"n{i},n{i + 1}\n" for i in range(59)))
    with p.session() as s:
        importer.import_file(s, "person", people)
    with p.engine.connect() as first:
        first.exec_driver_sql("ANALYZE xrm_relationships")  # the lock is held until rollback
        with p.session() as s:
            s.conn.exec_driver_sql("SET LOCAL lock_timeout = '3s'")  # a wait becomes an error, not a hang
            assert import_relationships(s, "knows", links, source_key="national_id",
                                        target_key="national_id")["imported"] == 59
        first.rollback()
    assert len(relationships(p)) == 59


# -- by id, scope ------------------------------------------------------------------------
def test_jsonl_by_id(p, tmp_path):
    with p.session() as s:
        people, notes = ids(s, "person", "national_id"), ids(s, "note", "text")
    rows = [{"source": people["001"], "target": notes["N1"], "data": {"since": 2020}},
            {"source": people["002"], "target": people["002"]},
            {"source": notes["N2"], "target": notes["N3"]},
            {"source": people["003"], "target": notes["N2"], "data": {"n": 10 ** 30}}]
    path = write(tmp_path, "links.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", path))
    lines = by_line(report)
    assert lines[2] == [("/target", f"has_note: the target must be a record of type note, got person {people['002']}")]
    assert lines[3] == [("/source", f"has_note: the source must be a record of type person, got note {notes['N2']}")]
    assert lines[4][0][0] == "/data/n"
    assert 1 not in lines and relationships(p) == []
    itself = write(tmp_path, "itself.jsonl", json.dumps({"source": people["001"], "target": people["001"]}) + "\n")
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "knows", itself))
    assert by_line(report) == {1: [("/target", "the same record as the source: a record cannot be related to "
                                               "itself")]}


def test_records_outside_the_callers_scope_do_not_exist(org, tmp_path):
    with org.session("agent_a") as s:
        mine = s.create("person", {"name": "mine", "national_id": "A1"}).id
        note = s.create("note", {"text": "mine"}).id
    with org.session("manager_b") as s:
        theirs = s.create("person", {"name": "theirs", "national_id": "B1"}).id
    with org.session("analyst") as s:  # may read every person, update none
        assert s.get(mine).id == mine
    path = write(tmp_path, "links.csv", "source,target\nB1,mine\nA1,mine\n")
    with org.session("agent_a") as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="national_id",
                                                         target_key="text"))
    assert by_line(report) == {2: [("/source", "no person with national_id='B1'")]}
    assert theirs not in json.dumps(report)
    path = write(tmp_path, "mine.csv", "source,target\nA1,mine\n")
    with org.session("analyst") as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", path, source_key="national_id",
                                                         target_key="text"))
    # the analyst may read both ends (the note? no grant: it does not exist for them)
    assert by_line(report)[2][0] == ("/target", "no note with text='mine'")
    with org.session("agent_a") as s:
        assert import_relationships(s, "has_note", path, source_key="national_id", target_key="text")["imported"] == 1
        assert [r["record"].id for r in s.related(mine)] == [note]


def test_update_on_the_source_is_needed(org, tmp_path):
    with org.session() as s:
        a = s.create("person", {"name": "a", "national_id": "X1"}).id
        s.create("person", {"name": "b", "national_id": "X2"})
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "reader", "grants": [
            {"type": "*", "actions": ["read"], "depth": "all"}]})
        accounts.create_user(conn, "reader", "hq", ["reader"], "pw")
    path = write(tmp_path, "links.csv", "source,target\nX1,X2\n")
    with org.session("reader") as s:
        _, report = refusal(lambda: import_relationships(s, "knows", path, source_key="national_id",
                                                         target_key="national_id"))
    assert by_line(report) == {2: [("/source", f"'reader' may not update {a}")]}


# -- the options ------------------------------------------------------------------------
def test_a_key_on_an_end_of_any_type_needs_its_type(p, tmp_path):
    path = write(tmp_path, "about.csv", "source,target\nN1,001\n")
    with p.session() as s:
        with pytest.raises(ValidationError, match="give --target-type TYPE"):
            import_relationships(s, "about", path, source_key="text", target_key="national_id")
        report = import_relationships(s, "about", path, source_key="text", target_key="national_id",
                                      target_type="person")
        assert report["imported"] == 1
        with pytest.raises(ValidationError, match="does not match"):
            import_relationships(s, "has_note", path, source_type="note")


@pytest.mark.parametrize("key, message", [
    ("nope", "person has no field 'nope'"),
    ("tags", "a key must be a field holding one string, number or boolean, not array"),
    ("a,b", "invalid field name"),
])
def test_bad_keys_are_refused_before_reading(p, tmp_path, key, message):
    path = write(tmp_path, "links.csv", "source,target\n001,N1\n")
    with p.session() as s:
        with pytest.raises(ValidationError, match=message):
            import_relationships(s, "has_note", path, source_key=key, target_key="text")


def test_unknown_columns_and_unknown_keys_are_refused(p, tmp_path):
    csv_path = write(tmp_path, "links.csv", "source,target,role\n001,N1,x\n")
    jsonl_path = write(tmp_path, "links.jsonl", '{"source": "001", "target": "N1", "role": "x"}\n')
    with p.session() as s:
        _, report = refusal(lambda: import_relationships(s, "has_note", csv_path, source_key="national_id",
                                                         target_key="text"))
        assert report["invalid"][0]["line"] == 1 and "role" in json.dumps(report)
        _, report = refusal(lambda: import_relationships(s, "has_note", jsonl_path, source_key="national_id",
                                                         target_key="text"))
        assert by_line(report)[1][0][0] == "/role"
    assert relationships(p) == []


def test_relate_many_takes_data_and_refuses_data_it_cannot_store(p):
    with p.session() as s:
        a, b, c = (s.create("person", {"name": n}).id for n in "abc")
        made = s.relate_many("knows", [(a, b, {"since": 2001}), (a, c)])
        assert [m["data"] for m in made] == [{"since": 2001}, None]
        assert {r["record"].id: r["relationship"]["data"] for r in s.related(a)} == {b: {"since": 2001}, c: None}
        with pytest.raises(ValidationError, match="pair 0: relationship data must be an object"):
            s.relate_many("knows", [(b, c, [1])])
        with pytest.raises(ValidationError, match="pair 1: relationship data cannot be stored"):
            s.relate_many("knows", [(b, c), (c, a, {"x": "\x00"})])
    assert len(relationships(p)) == 2


# -- the command ------------------------------------------------------------------------
def test_cli_reports_like_import(cli, tmp_path):
    from conftest import PersonPlugin as Person
    plugins = (Person(),)
    assert cli("init", "--admin-password", "secret", plugins=plugins).exit_code == 0
    for n in (1, 2):
        assert cli("records", "create", "person", "--data", json.dumps({"name": f"P{n}", "national_id": f"{n}"}),
                   plugins=plugins).exit_code == 0
    good = write(tmp_path, "good.csv", "source,target\n1,2\n")
    bad = write(tmp_path, "bad.csv", "source,target\n1,2\n1,9\n")
    r = cli("import-relationships", "knows", bad, "--source-key", "national_id", "--target-key", "national_id",
            "--json", plugins=plugins)
    assert r.exit_code != 0 and "Traceback" not in r.stderr
    assert json.loads(r.stdout) == {"total": 2, "valid": 1, "imported": 0, "invalid": [
        {"line": 3, "errors": [{"pointer": "/target", "message": "no person with national_id='9'"}]}]}
    assert "line 3 /target: no person with national_id='9'" in r.stderr
    r = cli("import-relationships", "knows", "-", "--format", "csv", "--source-key", "national_id",
            "--target-key", "national_id", plugins=plugins, input="source,target\n1,2\n")
    assert r.exit_code == 0 and r.stdout.strip() == "1 row read, 1 related"
    r = cli("import-relationships", "knows", good, "--source-key", "national_id", "--target-key", "national_id",
            plugins=plugins)
    assert r.exit_code != 0 and "is already related to" in r.stderr
    r = cli("import-relationships", "nope", good, plugins=plugins)
    assert r.exit_code != 0 and "unknown relationship type 'nope'" in r.stderr
    out = tmp_path / "out.csv"
    r = cli("export-relationships", "knows", "-o", out, "--source-key", "national_id", "--target-key",
            "national_id", plugins=plugins)
    assert r.exit_code == 0 and r.stderr.strip() == f"1 relationship written to {out}"
    assert out.read_text() == "source,target,data\n1,2,\n"
    r = cli("export-relationships", "knows", "--source-key", "nope", plugins=plugins)
    assert r.exit_code != 0 and "person has no field 'nope'" in r.stderr and "Traceback" not in r.stderr


# -- export ------------------------------------------------------------------------------
def export_text(s, rel, fmt="jsonl", **keys) -> tuple[str, list[str]]:
    import io
    from xrm_core.relationship_files import export_relationships
    out, warnings = io.StringIO(), []
    n = export_relationships(s, rel, out, fmt, warn=warnings.append, **keys)
    assert n == len(out.getvalue().splitlines()) - (fmt == "csv")
    return out.getvalue(), warnings


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_by_keys_imports_back_the_same_relationships(p, tmp_path, fmt):
    with p.session() as s:
        people, notes = ids(s, "person", "national_id"), ids(s, "note", "text")
        s.relate("has_note", people["001"], notes["N1"], {"role": "=1+2", "n": [1, {"x": None}]})
        s.relate("has_note", people["001"], notes["N2"])
        s.relate("has_note", people["002"], notes["N3"])
        text, warnings = export_text(s, "has_note", fmt, source_key="national_id", target_key="text")
    assert warnings == []
    before = relationships(p)
    with p.session() as s:
        for r in s.related(people["001"]) + s.related(people["002"]):
            s.unrelate(r["relationship"]["id"])
    assert relationships(p) == []
    path = write(tmp_path, f"links.{fmt}", text)
    with p.session() as s:
        assert import_relationships(s, "has_note", path, source_key="national_id", target_key="text")["imported"] == 3
    assert relationships(p) == before


def test_export_by_id_and_scope(org):
    with org.session("agent_a") as s:
        mine, note = s.create("person", {"name": "mine"}).id, s.create("note", {"text": "n"}).id
    with org.session("manager_b") as s:
        theirs = s.create("person", {"name": "theirs"}).id
    with org.session() as s:
        s.relate("knows", mine, theirs)
        s.relate("has_note", mine, note)
        everything, _ = export_text(s, "knows")
    assert [json.loads(line) for line in everything.splitlines()] == [{"source": mine, "target": theirs}]
    with org.session("agent_a") as s:
        assert export_text(s, "knows")[0] == ""  # the other end is hidden from agent_a
        assert [json.loads(line) for line in export_text(s, "has_note")[0].splitlines()] == [
            {"source": mine, "target": note}]
    with org.session("nobody") as s:
        assert export_text(s, "has_note")[0] == ""


def test_export_leaves_out_what_a_key_cannot_name(p):
    with p.session() as s:
        people, notes = ids(s, "person", "national_id"), ids(s, "note", "text")
        a = s.create("person", {"name": "no id"}).id
        s.relate("has_note", a, notes["N1"])
        s.relate("has_note", people["001"], notes["N2"])
        s.relate("about", notes["N3"], people["002"])
        s.relate("about", notes["N3"], notes["N1"])
        text, warnings = export_text(s, "has_note", source_key="national_id", target_key="text")
        assert [json.loads(line) for line in text.splitlines()] == [{"source": "001", "target": "N2"}]
        assert warnings == ["1 relationships were left out: their source is no person with a national_id to "
                            "name it by"]
        text, warnings = export_text(s, "about", source_key="text", target_key="national_id", target_type="person")
        assert [json.loads(line) for line in text.splitlines()] == [{"source": "N3", "target": "002"}]
        assert warnings == ["1 relationships were left out: their target is no person with a national_id to "
                            "name it by"]
