"""``xrm import --update-by FIELD``: rows naming a record by a key update it (a merge patch,
with history naming the file and line), the other rows create records; all or nothing,
scoped, every invalid row reported by line and pointer."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import PermissionDenied, ValidationError, accounts, db, import_update_by, importer
from xrm_core.importer import import_file


@pytest.fixture
def p(make_platform):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        s.create("person", {"name": "Ann", "national_id": "001", "age": 30, "email": "ann@example.com"})
        s.create("person", {"name": "Bob", "national_id": "002", "age": 40, "tags": ["a"]})
    return p


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def people(s) -> dict:
    return {r.data.get("national_id"): (r.data, r.version) for r in s.list("person", limit=100)}


def state(p) -> tuple:
    with p.engine.connect() as conn:
        rows = conn.execute(select(db.records.c.id, db.records.c.data, db.records.c.version)
                            .order_by(db.records.c.id)).all()
        acts = conn.execute(select(func.count()).select_from(db.activities)).scalar_one()
    return [tuple(r) for r in rows], acts


def refusal(call) -> dict:
    with pytest.raises(ValidationError) as e:
        call()
    return {r["line"]: [(x["pointer"], x["message"]) for x in r["errors"]] for r in e.value.extra["report"]["invalid"]}


def test_rows_update_by_key_and_create_the_rest(p, tmp_path):
    # line 2 changes Ann's age and keeps her other fields (empty cells are absent); line 3
    # names Bob and changes nothing; line 4 is new; line 5 updates the record line 4 created.
    path = write(tmp_path, "p.csv", "national_id,name,age\n001,,31\n002,Bob,\n003,Cy,20\n003,,21\n")
    with p.session() as s:
        report = import_file(s, "person", path, update_by="national_id")
        assert report == {"total": 4, "valid": 4, "imported": 4, "invalid": [], "updated": 2, "unchanged": 1}
        got = people(s)
        assert got["001"] == ({"name": "Ann", "national_id": "001", "age": 31, "email": "ann@example.com"}, 2)
        assert got["002"] == ({"name": "Bob", "national_id": "002", "age": 40, "tags": ["a"]}, 1)
        assert got["003"] == ({"national_id": "003", "name": "Cy", "age": 21}, 2)
        ann = s.list("person", {"national_id": "001"})[0].id
        last = s.history(ann)[-1]
        assert (last["kind"], last["summary"]) == ("updated", "updated from p.csv line 2")
        assert last["payload"]["changes"] == [{"pointer": "/age", "old": 30, "new": 31, "op": "replace"}]


def test_jsonl_rows_are_merge_patches(p, tmp_path):
    path = write(tmp_path, "p.jsonl", '{"national_id": "002", "tags": null, "address": {"city": "Qom"}}\n')
    with p.session() as s:
        assert import_file(s, "person", path, update_by="national_id")["updated"] == 1
        assert people(s)["002"][0] == {"name": "Bob", "national_id": "002", "age": 40, "address": {"city": "Qom"}}


def test_updates_across_batches(p, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    rows = [{"national_id": f"1{i:02d}", "name": f"n{i}"} for i in range(5)] + \
        [{"national_id": f"1{i:02d}", "age": i} for i in range(5)]
    path = write(tmp_path, "p.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with p.session() as s:
        report = import_file(s, "person", path, update_by="national_id")
        assert (report["imported"], report["updated"], report["unchanged"]) == (10, 5, 0)
        assert people(s)["104"] == ({"national_id": "104", "name": "n4", "age": 4}, 2)
        assert s.count("person") == 7


def test_rows_are_looked_up_a_batch_at_a_time(p, tmp_path, monkeypatch):
    """``importer.BATCH`` sizes the lookups of ``--update-by`` too (it reaches them through
    the writer): five rows naming stored records, batches of two, three lookups."""
    monkeypatch.setattr(importer, "BATCH", 2)
    lookups, find = [], import_update_by.find

    def counting(s, et, key, json_type, values):
        lookups.append(sorted(values))
        return find(s, et, key, json_type, values)
    monkeypatch.setattr(import_update_by, "find", counting)
    rows = [{"national_id": n, "age": 50 + i} for i, n in enumerate(["001", "002", "001", "002", "001"])]
    path = write(tmp_path, "p.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with p.session() as s:
        assert import_file(s, "person", path, update_by="national_id")["updated"] == 5
    assert lookups == [["001", "002"], ["001", "002"], ["001"]]


def test_every_invalid_row_is_reported_and_nothing_changes(p, tmp_path):
    before = state(p)
    path = write(tmp_path, "p.csv", "national_id,name,age\n001,,-5\n002,Bobby,\n009,,7\n001,,x\n")
    with p.session() as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
    assert lines[2] == [("/age", "-5 is less than the minimum of 0")]
    assert lines[4] == [("/name", '"name" is a required property')]  # a new record needs its name
    assert lines[5][0][0] == "/age"  # the cell is no integer
    assert sorted(lines) == [2, 4, 5]
    assert state(p) == before


def test_skip_invalid_and_dry_run(p, tmp_path):
    path = write(tmp_path, "p.csv", "national_id,age\n001,-5\n002,41\n")
    before = state(p)
    with p.session() as s:
        report = import_file(s, "person", path, update_by="national_id", dry_run=True, skip_invalid=True)
        assert (report["valid"], report["imported"], report["updated"], report["would"]["updated"]) == (1, 0, 0, 1)
        assert refusal(lambda: import_file(s, "person", path, update_by="national_id", dry_run=True)) == {
            2: [("/age", "-5 is less than the minimum of 0")]}
    assert state(p) == before
    with p.session() as s:
        report = import_file(s, "person", path, update_by="national_id", skip_invalid=True)
        assert (report["imported"], report["updated"], [r["line"] for r in report["invalid"]]) == (1, 1, [2])
        assert people(s)["001"][1] == 1 and people(s)["002"][0]["age"] == 41


def test_a_key_naming_several_records_is_refused(p, tmp_path):
    with p.session() as s:
        s.create("person", {"name": "Ann"})
        anns = sorted(r.id for r in s.list("person", {"name": "Ann"}))
    path = write(tmp_path, "p.csv", "name,age\nAnn,5\n")
    with p.session() as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="name"))
    ((pointer, message),) = lines[2]
    assert pointer == "/name" and message.startswith("2 records have name='Ann'") and all(a in message for a in anns)


def test_scope(org, tmp_path):
    with org.session("manager_b") as s:
        s.create("person", {"name": "theirs", "national_id": "B1"})
    with org.session("agent_a") as s:
        s.create("person", {"name": "mine", "national_id": "A1"})
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "reader", "grants": [
            {"type": "*", "actions": ["read", "create"], "depth": "all"}]})
        accounts.create_user(conn, "reader", "hq", ["reader"], "pw")
        accounts.save_role(conn, {"name": "editor", "grants": [
            {"type": "person", "actions": ["read", "update"], "depth": "unit"}]})
        accounts.create_user(conn, "editor_a", "dealer_a", ["editor"], "pw")
    # A record outside the user's scope is not found: with a unique key, the new record it
    # would be is refused as a duplicate, without naming the hidden record.
    path = write(tmp_path, "p.csv", "national_id,name\nB1,x\nA1,mine too\n")
    with org.session("agent_a") as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
    assert lines == {2: [("/national_id", 'national_id "B1" is already used by another record')]}
    # May read but not update: the row is refused.
    with org.session("reader") as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
    assert lines[3][0][1].startswith("'reader' may not update")
    # May update but not create: the rows naming a record update it, the others are refused
    # (a hidden record's key among them, said as for an unknown one); alone, an import runs.
    path = write(tmp_path, "e.csv", "national_id,name\nB1,x\nA1,edited\nC1,new\n")
    with org.session("editor_a") as s:
        lines = refusal(lambda: import_file(s, "person", path, update_by="national_id"))
    assert lines == {n: [("/national_id", f"no person record you may see has national_id={v!r}, and "
                                          "'editor_a' may not create person records")]
                     for n, v in ((2, "B1"), (4, "C1"))}
    with org.session("editor_a") as s:
        report = import_file(s, "person", path, update_by="national_id", skip_invalid=True)
        assert (report["updated"], report["imported"]) == (1, 1)
        assert [r.data["name"] for r in s.list("person", limit=10)] == ["edited"]
    # Without --update-by, or without an update grant either, the import is refused at once.
    with org.session("editor_a") as s, pytest.raises(PermissionDenied, match="may not create person"):
        import_file(s, "person", path)
    with org.session("nobody") as s, pytest.raises(PermissionDenied, match="may not create person"):
        import_file(s, "person", path, update_by="national_id")


@pytest.mark.parametrize("key, message", [
    ("nope", "--update-by nope: person has no field 'nope'"),
    ("tags", "a key must be a field holding one string, number or boolean, not array"),
])
def test_bad_keys_are_refused(p, tmp_path, key, message):
    path = write(tmp_path, "p.csv", "national_id\n001\n")
    with p.session() as s:
        with pytest.raises(ValidationError, match=message):
            import_file(s, "person", path, update_by=key)


def test_cli(cli, tmp_path):
    plugins = (PersonPlugin(),)
    assert cli("init", "--admin-password", "secret", plugins=plugins).exit_code == 0
    assert cli("records", "create", "person", "--data", '{"name": "Ann", "national_id": "1"}',
               plugins=plugins).exit_code == 0
    path = write(tmp_path, "p.csv", "national_id,name\n1,Anna\n2,Bo\n")
    r = cli("import", "person", path, "--update-by", "national_id", plugins=plugins)
    assert r.exit_code == 0 and r.stdout.strip() == "2 rows read: 1 created, 1 updated, 0 unchanged"
    r = cli("import", "person", path, "--update-by", "national_id", "--json", plugins=plugins)
    assert json.loads(r.stdout) == {"total": 2, "valid": 2, "imported": 2, "invalid": [], "updated": 0,
                                    "unchanged": 2}
    r = cli("import", "person", path, "--update-by", "tags", plugins=plugins)
    assert r.exit_code != 0 and "not array" in r.stderr and "Traceback" not in r.stderr
