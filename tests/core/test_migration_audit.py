"""Audit of the migration commands (docs/migrating.md): ``xrm import --update-by`` and
``xrm import-relationships`` / ``export-relationships`` against what a migration throws at
them — keys of every JSON type, repeated keys, hooks that refuse or rewrite, scope, dry runs
and refusals that must leave the database exactly as it was."""
from __future__ import annotations

import io
import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import select

from xrm_core import Platform, ValidationError, accounts, db, for_types, hookimpl, importer
from xrm_core.importer import import_file
from xrm_core.plugins import make_plugin_manager
from xrm_core.relationship_files import export_relationships, import_relationships

ACCT = {"name": "acct", "title_field": "code", "unique": ["code", "num", "ext.id"],
        "schema": {"type": "object", "properties": {
            "code": {"type": "string"}, "num": {"type": "integer"}, "score": {"type": "number"},
            "flag": {"type": "boolean"}, "plain": {"type": "string"},
            "ext": {"type": "object", "properties": {"id": {"type": "string"}}}}}}


class Accounts:
    __name__ = "audit_accounts"

    @hookimpl
    def xrm_entity_types(self):
        return [ACCT]

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "link", "source": "acct", "target": "acct", "cardinality": "many-to-many"},
                {"name": "any", "source": "*", "target": "*", "cardinality": "many-to-many"}]


class Hooks:
    """before_update: refuses name "REFUSE", upper-cases name "shout"; after_update: logs a
    note record, then refuses age 99; before_create: trims and upper-cases national_id."""

    __name__ = "audit_hooks"

    @hookimpl
    @for_types("person")
    def xrm_record_event(self, event, record, changes, session):
        data = record.data
        if event == "before_create" and isinstance(data.get("national_id"), str):
            data["national_id"] = data["national_id"].strip().upper()
        if event == "before_update":
            if data.get("name") == "REFUSE":
                raise ValidationError("no such name", [{"pointer": "/name", "message": "refused by a hook"}])
            if data.get("name") == "shout":
                data["name"] = "SHOUT"
        if event == "after_update":
            session.create("note", {"text": f"after {record.id}"})
            if data.get("age") == 99:
                raise ValidationError("no 99", [{"pointer": "/age", "message": "refused after the update"}])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def state(p) -> tuple:
    """Everything a refused or dry import must leave as it was."""
    with p.engine.connect() as conn:
        return tuple([tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                     for t in (db.records, db.activities, db.relationships))


def refusal(call) -> dict:
    with pytest.raises(ValidationError) as e:
        call()
    return {r["line"]: [(x["pointer"], x["message"]) for x in r["errors"]] for r in e.value.extra["report"]["invalid"]}


def counts(report) -> tuple:
    return report["imported"], report.get("updated"), report.get("unchanged"), [r["line"] for r in report["invalid"]]


@pytest.fixture
def acct(make_platform):
    p = make_platform(Accounts())
    with p.session() as s:
        s.create("acct", {"code": "A 1", "num": 1, "score": 1.5, "flag": True, "plain": "x", "ext": {"id": "e1"}})
        s.create("acct", {"code": "بانک ۱", "num": 2, "score": 2, "flag": False, "plain": "x", "ext": {"id": "e2"}})
    return p


def by(s, field) -> dict:
    return {r.data.get(field): r for r in s.list("acct", limit=100)}


# -- --update-by ------------------------------------------------------------------------
def test_a_record_named_by_several_rows_counts_each_rows_own_change(acct, tmp_path):
    # The second row repeats the first: it changes nothing and is "unchanged", not "updated".
    path = write(tmp_path, "a.csv", "code,plain\nA 1,y\nA 1,y\nA 1,z\n")
    with acct.session() as s:
        assert counts(import_file(s, "acct", path, update_by="code")) == (3, 2, 1, [])
        assert (by(s, "code")["A 1"].data["plain"], by(s, "code")["A 1"].version) == ("z", 3)


@pytest.mark.parametrize("key", ["code", "num", "score", "flag", "ext.id"])
def test_keys_of_every_json_type(acct, tmp_path, key):
    files = {  # a CSV cell of the key's type, and JSON values equal to the stored ones
        "code": ("a.csv", "code,plain\nبانک ۱,k\n"),
        "num": ("a.jsonl", '{"num": 2.0, "plain": "k"}\n'),
        "score": ("a.jsonl", '{"score": 2.0, "plain": "k"}\n'),
        "flag": ("a.csv", "flag,plain\nfalse,k\n"),
        "ext.id": ("a.csv", "ext.id,plain\ne2,k\n"),
    }
    name, text = files[key]
    with acct.session() as s:
        assert counts(import_file(s, "acct", write(tmp_path, name, text), update_by=key)) == (1, 1, 0, [])
        assert by(s, "code")["بانک ۱"].data["plain"] == "k" and s.count("acct") == 2


def test_an_integer_key_beyond_64_bits_is_an_invalid_row_not_a_crash(acct, tmp_path):
    path = write(tmp_path, "a.jsonl", '{"num": 99999999999999999999, "plain": "z"}\n{"num": 1, "plain": "ok"}\n')
    before = state(acct)
    with acct.session() as s:
        lines = refusal(lambda: import_file(s, "acct", path, update_by="num"))
        assert list(lines) == [1] and lines[1][0][0] == "/num" and "64-bit" in lines[1][0][1]
        links = write(tmp_path, "l.jsonl", '{"source": 99999999999999999999, "target": 1}\n')
        lines = refusal(lambda: import_relationships(s, "link", links, source_key="num", target_key="num"))
        assert lines == {1: [("/source", "no acct with num=99999999999999999999")]}
    assert state(acct) == before


@pytest.fixture
def hooked(make_platform):
    p = make_platform(PersonPlugin(), Hooks())
    with p.session() as s:
        for i in (1, 2, 3):
            s.create("person", {"name": f"P{i}", "national_id": f"N{i}", "age": 30})
    return p


def notes(s) -> int:
    return s.count("note")


def test_update_hooks_refuse_rewrite_and_skip_invalid_leaves_nothing_behind(hooked, tmp_path):
    # line 2: refused before; line 3: rewritten by the hook; line 4: refused after the
    # after_update hook wrote a note; line 5: a plain update.
    path = write(tmp_path, "p.csv", "national_id,name,age\nN1,REFUSE,\nN2,shout,\nN3,,99\nN1,,31\n")
    before = state(hooked)
    with hooked.session() as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
        assert lines == {2: [("/name", "refused by a hook")], 4: [("/age", "refused after the update")]}
    assert state(hooked) == before
    with hooked.session() as s:
        report = import_file(s, "person", path, update_by="national_id", dry_run=True, skip_invalid=True)
        assert counts(report) == (0, 0, 0, [2, 4]) and report["would"] == {"imported": 2, "updated": 2, "unchanged": 0}
    assert state(hooked) == before
    with hooked.session() as s:
        assert counts(import_file(s, "person", path, update_by="national_id", skip_invalid=True)) == (2, 2, 0, [2, 4])
        got = {r.data["national_id"]: r for r in s.list("person", limit=10)}
        assert got["N2"].data["name"] == "SHOUT" and got["N1"].data["age"] == 31
        assert (got["N3"].data["age"], got["N3"].version) == (30, 1)  # the refused row left nothing
        assert notes(s) == 2  # the two updates written, not the refused one's note
        assert [h["summary"] for h in s.history(got["N3"].id)] == ["created person"]


def test_a_key_a_create_hook_normalises_is_found_by_the_next_row(hooked, tmp_path, monkeypatch):
    # Row 2 creates " n9 " (stored as "N9"); row 3 names N9 and must update that record,
    # whether or not the rows fall in the same batch.
    text = "national_id,name,age\n n9 ,Nine,\nN9,,9\n"
    for batch in (2000, 1):
        monkeypatch.setattr(importer, "BATCH", batch)
        with hooked.session() as s:
            report = import_file(s, "person", write(tmp_path, "p.csv", text), update_by="national_id")
            assert counts(report) == (2, 1, 0, [])
            (nine,) = s.list("person", {"national_id": "N9"})
            assert nine.data == {"name": "Nine", "national_id": "N9", "age": 9}
            s.delete(nine.id)


def test_a_row_that_changes_nothing_still_needs_the_update_grant(org, tmp_path):
    # Rows that change nothing are counted without an update; the grant is checked the same.
    with org.session("manager_a") as s:
        s.create("person", {"name": "Ann", "national_id": "A1"})
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "reader", "grants": [
            {"type": "*", "actions": ["read", "create"], "depth": "all"}]})
        accounts.create_user(conn, "reader", "hq", ["reader"], "pw")
    path = write(tmp_path, "p.csv", "national_id,name\nA1,Ann\n")
    with org.session("reader") as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
        assert lines[2][0][1].startswith("'reader' may not update")
    with org.session("manager_a") as s:
        assert counts(import_file(s, "person", path, update_by="national_id")) == (1, 0, 1, [])


def test_hidden_records_are_neither_updated_nor_named(org, tmp_path):
    # name is not unique: manager_b's hidden "Zed" is not found, so the row creates a record of
    # manager_a's; the hidden record is untouched, and no message names it.
    with org.session("manager_b") as s:
        hidden = s.create("person", {"name": "Zed", "age": 1})
    before = hidden.data
    path = write(tmp_path, "p.csv", "name,age\nZed,2\n")
    with org.session("manager_a") as s:
        assert counts(import_file(s, "person", path, update_by="name")) == (1, 0, 0, [])
        (mine,) = s.list("person", {"name": "Zed"})
        assert mine.id != hidden.id and mine.data["age"] == 2
    with org.session() as s:
        assert s.get(hidden.id).data == before and s.get(hidden.id).version == 1
    # Relating by key: the hidden record is "no person", exactly as one that does not exist.
    links = write(tmp_path, "l.csv", "source,target\nZed,Zed\nNobody,Zed\n")
    with org.session("manager_a") as s:
        lines = refusal(lambda: import_relationships(s, "knows", links, source_key="name", target_key="name"))
    assert lines[2] == [("/target", "the same record as the source: a record cannot be related to itself")]
    assert lines[3] == [("/source", "no person with name='Nobody'")]
    assert hidden.id not in json.dumps(lines)


# -- relationships ----------------------------------------------------------------------
def test_an_end_of_any_type_given_a_type_takes_records_of_that_type_only(acct, tmp_path):
    with acct.session() as s:
        ids = {r.data["code"]: r.id for r in s.list("acct", limit=10)}
    with acct.session() as s:
        admin_unit_record = ids["A 1"]
        path = write(tmp_path, "l.csv", f"source,target\n{admin_unit_record},{ids['بانک ۱']}\n")
        # by id, --source-type person on the "any" end: an acct is refused, not related silently
        lines = refusal(lambda: import_relationships(s, "any", path, source_type="person"))
        assert lines == {2: [("/source", f"any: the source must be a record of type person (--source-type), got acct {admin_unit_record}")]}
        assert counts(import_relationships(s, "any", path, source_type="acct")) == (1, None, None, [])
        out, warnings = io.StringIO(), []
        assert export_relationships(s, "any", out, "jsonl", source_type="person", warn=warnings.append) == 0
        assert warnings == ["1 relationships were left out: their source is no person"]


def test_refused_and_dry_relationship_imports_leave_everything_as_it_was(acct, tmp_path):
    path = write(tmp_path, "l.csv", 'source,target,data\n1,2,"{""since"": 2020}"\n2,1,\n1,9,\n')
    before = state(acct)
    with acct.session() as s:
        lines = refusal(lambda: import_relationships(s, "link", path, source_key="num", target_key="num"))
        assert lines == {4: [("/target", "no acct with num=9")]}
        report = import_relationships(s, "link", path, source_key="num", target_key="num", dry_run=True,
                                      skip_invalid=True)
        assert (report["valid"], report["imported"]) == (2, 0)
    assert state(acct) == before
    with acct.session() as s:
        assert import_relationships(s, "link", path, source_key="num", target_key="num",
                                    skip_invalid=True)["imported"] == 2
    assert len(state(acct)[2]) == 2


@pytest.mark.parametrize("key", [None, "code", "num", "ext.id"])
def test_export_import_round_trip_into_another_database(acct, other_db_url, tmp_path, key):
    other = Platform(other_db_url, pm=make_plugin_manager(load_entry_points=False, plugins=[Accounts()]))
    try:
        other.init(admin_password="x")
        records = write(tmp_path, "a.jsonl", "")
        with acct.session() as s:
            s.relate("link", by(s, "num")[1].id, by(s, "num")[2].id, {"since": "2021-04-01", "n": 1.0})
            s.relate("link", by(s, "num")[2].id, by(s, "num")[1].id)
            with open(records, "w", encoding="utf-8") as f:
                importer.export(s, "acct", f, "jsonl")
            for fmt in ("csv", "jsonl"):
                with open(tmp_path / f"l.{fmt}", "w", encoding="utf-8", newline="") as f:
                    export_relationships(s, "link", f, fmt, key, key)
            want = sorted((r["record"].data["num"], r["direction"], json.dumps(r["relationship"]["data"], sort_keys=True))
                          for r in s.related(by(s, "num")[1].id, "link"))
        with other.session() as s:
            import_file(s, "acct", records)
            if key is None:  # ids are the other database's: only keys travel
                with pytest.raises(ValidationError):
                    import_relationships(s, "link", str(tmp_path / "l.csv"))
                return
            for fmt in ("csv", "jsonl"):
                report = import_relationships(s, "link", str(tmp_path / f"l.{fmt}"), source_key=key,
                                              target_key=key, dry_run=fmt == "csv")
                assert report["valid"] == 2
            got = sorted((r["record"].data["num"], r["direction"], json.dumps(r["relationship"]["data"], sort_keys=True))
                         for r in s.related(by(s, "num")[1].id, "link"))
        assert got == want
    finally:
        other.dispose()


def test_stdin(cli, tmp_path):
    plugins = (PersonPlugin(),)
    assert cli("init", "--admin-password", "secret", plugins=plugins).exit_code == 0
    r = cli("import", "person", "-", "--format", "csv", "--update-by", "national_id", "--json", plugins=plugins,
            input="national_id,name\n1,Ann\n1,Anna\n")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"total": 2, "valid": 2, "imported": 2, "invalid": [],
                                                         "updated": 1, "unchanged": 0}
    r = cli("import-relationships", "knows", "-", "--format", "jsonl", "--source-key", "national_id",
            "--target-key", "national_id", "--json", plugins=plugins, input='{"source": "1", "target": "1"}\n')
    assert r.exit_code != 0 and json.loads(r.stdout)["invalid"][0]["line"] == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("key, row", [
    ("num", {"num": "1"}), ("num", {"num": True}), ("flag", {"flag": 1}), ("flag", {"flag": "true"}),
    ("code", {"code": 5}), ("code", {"code": ["A 1"]}), ("num", {"num": {"v": 1}}), ("score", {"score": "2"}),
    ("ext.id", {"ext": {"id": ["e1"]}}),
])
def test_a_key_value_of_another_json_type_is_an_invalid_row_not_a_crash(acct, tmp_path, key, row):
    # JSONL gives any JSON value: it names no record (PostgreSQL cannot even compare it).
    before = state(acct)
    path = write(tmp_path, "a.jsonl", json.dumps({**row, "plain": "changed"}) + "\n")
    with acct.session() as s:
        lines = refusal(lambda: import_file(s, "acct", path, update_by=key))
    assert list(lines) == [1] and lines[1][0][0] == "/" + key.replace(".", "/") and "is not of type" in lines[1][0][1]
    assert state(acct) == before
