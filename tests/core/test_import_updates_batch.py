"""The batched path of ``xrm import --update-by`` (xrm_core/import_changes.py): rows that
change the records they name are applied in memory and written a batch at a time, with the
outcome :func:`xrm_core.records.update` gives row by row — same data, versions, history and
invalid rows. Each expectation here is built independently: the same rows applied through
``records.update`` one at a time on the same starting data (then rolled back)."""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin
from sqlalchemy import event, select

from xrm_core import Conflict, ValidationError, XrmError, accounts, db, import_update_by, importer, records
from xrm_core.importer import import_file

FILE = "p.jsonl"


class _Undo(Exception):
    """Rolls a session back once its outcome is captured."""


def write(tmp_path, rows, name=FILE) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def stored(s) -> dict:
    """Everything an update writes: records (data, version, updated_by) and the `updated`
    activities in id order (record, summary, payload, actor, and `at` = the record's
    updated_at for its last one)."""
    R, A = db.records, db.activities
    recs = {r.id: (r.data, r.version, r.updated_by)
            for r in s.conn.execute(select(R.c.id, R.c.data, R.c.version, R.c.updated_by))}
    acts = [(a.record_id, a.record_type, a.unit_id, a.owner_id, a.actor, a.summary, a.payload)
            for a in s.conn.execute(select(A).where(A.c.kind == "updated").order_by(A.c.id))]
    return {"records": recs, "activities": acts}


def by_import(p, path, user="admin", **options) -> tuple:
    """(report, stored) of the import, rolled back; a refused import gives its report."""
    with pytest.raises(_Undo):
        with p.session(user) as s:
            try:
                report = import_file(s, "person", path, update_by=options.pop("key", "national_id"), **options)
            except ValidationError as e:
                report = e.extra["report"]
            out = report, stored(s)
            raise _Undo
    return out


def by_update(p, rows, user="admin", key="national_id") -> tuple:
    """The expectation: each row applied with records.update on its own, as a user would
    one at a time, in file order (rows naming no record are left out: none here create).
    Returns ({"updated", "unchanged", "invalid"}, stored), rolled back."""
    with pytest.raises(_Undo):
        with p.session(user) as s:
            counts = {"updated": 0, "unchanged": 0, "invalid": []}
            for line, row in enumerate(rows, 1):
                (rec,) = s.list("person", {key: row[key]})
                try:
                    with s.conn.begin_nested():
                        done = records.update(s, rec.id, row, summary=f"updated from {FILE} line {line}")
                except XrmError as e:
                    errors = [{"pointer": x.get("pointer", "").removeprefix("/data"), "message": x["message"]}
                              for x in e.errors] or [{"pointer": "", "message": e.message}]
                    if isinstance(e, Conflict):  # the import words it as a new row's clash
                        errors = [{**x, "message": clash_message(x["pointer"], row, e)} for x in errors]
                    counts["invalid"].append({"line": line, "errors": errors})
                    continue
                counts["updated" if done.version != rec.version else "unchanged"] += 1
            out = counts, stored(s)
            raise _Undo
    return out


def clash_message(ptr: str, row: dict, e: Conflict) -> str:
    """How an import words the unique value at ``ptr`` of ``row`` that ``e`` refused: the
    value and the record holding it (named: every record here is the user's to read)."""
    field = ptr.lstrip("/")
    return f'{field} {json.dumps(row[field])} is already used by record {e.extra["existing"]}'


def same_outcome(p, tmp_path, rows, user="admin", key="national_id") -> dict:
    """Import ``rows`` with --skip-invalid and check it matches the row-by-row expectation;
    returns the import's report."""
    report, got = by_import(p, write(tmp_path, rows), user, skip_invalid=True, key=key)
    counts, want = by_update(p, rows, user, key)
    assert {k: report[k] for k in counts} == counts
    assert got == want
    return report


@pytest.fixture
def row_by_row(monkeypatch) -> list:
    """The lines the batched path handed to the per-row path (its fallback), as they come:
    a batch that goes row by row would give the expected outcome too, just slowly."""
    lines: list = []
    per_row = import_update_by.Updates._one_by_one

    def spy(self, steps, versions):
        lines.extend(step.line for step in steps)
        return per_row(self, steps, versions)
    monkeypatch.setattr(import_update_by.Updates, "_one_by_one", spy)
    return lines


@pytest.fixture
def p(make_platform):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        for i in range(30):
            s.create("person", {"name": f"P{i}", "national_id": f"n{i:02d}", "age": 20 + i,
                                "address": {"city": "Qom", "line1": f"{i} Main"}, "tags": ["a"]})
    return p


def test_changes_match_updates_row_by_row(p, tmp_path, monkeypatch, row_by_row):
    # Batches of 7 rows: records named again in the same batch and in later ones.
    monkeypatch.setattr(importer, "BATCH", 7)
    rows = []
    for i in range(30):
        rows.append({"national_id": f"n{i:02d}", "age": 50 + i} if i % 3 else
                    {"national_id": f"n{i:02d}", "name": f"Q{i}", "tags": None, "address": {"city": "Rey"}})
    rows += [
        {"national_id": "n01", "age": 51},                            # what the row before left: unchanged
        {"national_id": "n01", "age": 21, "vip": True},                # back, and a new field
        {"national_id": "n02", "address": {"line1": None}},           # a nested member removed
        {"national_id": "n05"},                                        # only the key: unchanged
        {"national_id": "n05", "address": {"city": "Qom", "line1": "5 Main"}},  # as stored: unchanged
        {"national_id": "n01", "vip": False, "score": 1.5},
        {"national_id": "n01", "score": 1},                            # 1.5 to 1: a change (types differ too)
        {"national_id": "n01", "score": 1.0},                          # 1 to 1.0: a change in JSON
    ]
    report = same_outcome(p, tmp_path, rows)
    assert (report["updated"], report["unchanged"], report["invalid"]) == (35, 3, [])
    report, _ = by_import(p, write(tmp_path, rows))
    assert report["imported"] == report["total"] == len(rows)
    assert row_by_row == []


def test_invalid_rows_in_the_middle_of_a_batch(p, tmp_path, row_by_row):
    rows = [{"national_id": f"n{i:02d}", "age": 60 + i} for i in range(10)]
    rows[3] = {"national_id": "n03", "age": -1}                       # the schema
    rows[5] = {"national_id": "n05", "name": "x" * 10, "email": "not an email", "age": "old"}
    rows.insert(7, {"national_id": "n02", "age": 70})                  # after n02's change
    rows.insert(8, {"national_id": "n03", "name": "bad\u0000"})         # cannot be stored
    report = same_outcome(p, tmp_path, rows)
    assert [r["line"] for r in report["invalid"]] == [4, 6, 9]
    assert report["invalid"][0]["errors"] == [{"pointer": "/age", "message": "-1 is less than the minimum of 0"}]
    assert {e["pointer"] for e in report["invalid"][1]["errors"]} == {"/age", "/email"}
    assert report["invalid"][2]["errors"][0]["pointer"] == "/name"
    # all or nothing without --skip-invalid: the same rows reported, nothing written
    report, got = by_import(p, write(tmp_path, rows))
    assert [r["line"] for r in report["invalid"]] == [4, 6, 9] and report["imported"] == 0
    assert got["activities"] == []
    assert row_by_row == []


def test_dry_run_writes_nothing_and_reports_the_same(p, tmp_path):
    rows = [{"national_id": f"n{i:02d}", "age": 90} for i in range(5)]
    with p.session() as s:
        before = stored(s)
        report = import_file(s, "person", write(tmp_path, rows), update_by="national_id", dry_run=True)
        assert (report["valid"], report["imported"], report["updated"], report["would"]) == (
            5, 0, 0, {"imported": 5, "updated": 5, "unchanged": 0})
        assert stored(s) == before


def test_a_row_refused_by_the_grant(org, tmp_path, row_by_row):
    # Reads every person, updates only their own: rows naming the others are refused, with
    # the message records.update gives; their own rows go through in the same batch.
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "own_editor", "grants": [
            {"type": "person", "actions": ["read"], "depth": "all"},
            {"type": "person", "actions": ["create", "update"], "depth": "own"}]})
        accounts.create_user(conn, "editor", "dealer_a", ["own_editor"], "pw")
    for user, ids in (("editor", range(3)), ("manager_b", range(3, 6))):
        with org.session(user) as s:
            for i in ids:
                s.create("person", {"name": f"P{i}", "national_id": f"n{i}", "age": i})
    rows = [{"national_id": f"n{i}", "age": 40 + i} for i in (0, 3, 1, 4, 4, 2, 5)]
    rows.append({"national_id": "n5", "age": 5})  # changes nothing, still refused
    report = same_outcome(org, tmp_path, rows, user="editor")
    assert (report["updated"], [r["line"] for r in report["invalid"]]) == (3, [2, 4, 5, 7, 8])
    assert report["invalid"][0]["errors"][0]["message"].startswith("'editor' may not update record ")
    # a row that changes nothing in a record the user may update is unchanged, not refused
    report = same_outcome(org, tmp_path, [{"national_id": "n0", "age": 0}], user="editor")
    assert (report["unchanged"], report["invalid"]) == (1, [])
    assert row_by_row == []


def test_several_rows_naming_one_record(p, tmp_path, row_by_row):
    rows = [{"national_id": "n07", "age": 1}, {"national_id": "n08", "age": 2}, {"national_id": "n07", "age": 1},
            {"national_id": "n07", "age": 3, "name": "Seven"}, {"national_id": "n07", "age": -3},
            {"national_id": "n07", "age": 4}]
    report = same_outcome(p, tmp_path, rows)
    assert (report["updated"], report["unchanged"], [r["line"] for r in report["invalid"]]) == (4, 1, [5])
    with p.session() as s:
        import_file(s, "person", write(tmp_path, rows), update_by="national_id", skip_invalid=True)
        (rec,) = s.list("person", {"national_id": "n07"})
        assert (rec.version, rec.data["age"], rec.data["name"]) == (4, 4, "Seven")
        versions = [a["payload"]["version"] for a in s.history(rec.id) if a["kind"] == "updated"]
        summaries = [a["summary"] for a in s.history(rec.id) if a["kind"] == "updated"]
        assert versions == [2, 3, 4]
        assert summaries == [f"updated from {FILE} line {n}" for n in (1, 4, 6)]
    assert row_by_row == []  # one executemany, in the rows' order


def test_unique_conflicts_caused_by_updates(p, tmp_path, row_by_row):
    # Rows are named by name (not unique) and change national_id (unique): a value another
    # record holds is refused, and the rows' order decides, as row by row — n01 takes n02's
    # value only after n02 gave it up on a later line.
    rows = [{"national_id": "n00", "age": 99},
            {"national_id": "n02", "name": "P1"},                      # n02 is P2's: refused
            {"national_id": "zz", "name": "P2"},                       # P2 gives n02 up
            {"national_id": "n02", "name": "P1"},                      # now P1 may take it
            {"national_id": "n03", "name": "P4"},                      # P3's: refused
            {"national_id": "n05", "name": "P5", "age": 1}]
    rows = [dict(r, name=r.get("name", "P0")) for r in rows]
    report = same_outcome(p, tmp_path, rows, key="name")
    assert row_by_row == [1, 2, 3, 4, 5, 6]  # the batch's UPDATEs clashed: row by row
    assert (report["updated"], [r["line"] for r in report["invalid"]]) == (4, [2, 5])
    with p.session(write=False) as s:
        (holder,) = s.list("person", {"name": "P2"})
    # worded as a new row's clash: the value, and the record holding it
    assert report["invalid"][0]["errors"] == [
        {"pointer": "/national_id", "message": f'national_id "n02" is already used by record {holder.id}'}]
    # all or nothing: refused, nothing written
    report, got = by_import(p, write(tmp_path, rows), key="name")
    assert [r["line"] for r in report["invalid"]] == [2, 5] and got["activities"] == []


def test_a_record_changed_after_the_lookup_is_read_again(p, tmp_path, monkeypatch, row_by_row):
    # The lookup read n01 at version 1; before the batch is written it is at version 2 (as
    # another transaction would leave it). Its conditional UPDATE writes nothing, and the
    # batch goes row by row: records.update reads n01 again, so no change is lost.
    found = import_update_by.find

    def stale(s, *args):
        out = found(s, *args)
        with s.conn.begin_nested():
            records.update(s, out["n01"][0].id, {"email": "new@example.com"})
        return out
    monkeypatch.setattr(import_update_by, "find", stale)
    rows = [{"national_id": "n00", "age": 5}, {"national_id": "n01", "age": 7}]
    with p.session() as s:
        report = import_file(s, "person", write(tmp_path, rows), update_by="national_id")
        assert (report["updated"], report["invalid"]) == (2, [])
        (rec,) = s.list("person", {"national_id": "n01"})
        assert (rec.version, rec.data["age"], rec.data["email"]) == (3, 7, "new@example.com")
    assert row_by_row == [1, 2]


def count_statements(p, tmp_path, n: int) -> int:
    rows = [{"national_id": f"s{n}_{i:05d}", "name": f"S{i}"} for i in range(n)]
    with p.session() as s:
        import_file(s, "person", write(tmp_path, rows, "new.jsonl"))
    changes = [{"national_id": f"s{n}_{i:05d}", "age": i % 100, **({"vip": True} if i % 2 else {})} for i in range(n)]
    path = write(tmp_path, changes, "changes.jsonl")
    seen = []

    def count(*_args):
        seen.append(1)
    event.listen(p.engine, "before_cursor_execute", count)
    try:
        with p.session() as s:
            report = import_file(s, "person", path, update_by="national_id")
    finally:
        event.remove(p.engine, "before_cursor_execute", count)
    assert (report["updated"], report["invalid"]) == (n, [])
    return len(seen)


def test_statements_do_not_grow_per_row(make_platform, tmp_path):
    p = make_platform(PersonPlugin())
    small = count_statements(p, tmp_path, 100)
    large = count_statements(p, tmp_path, 1000)
    # Row by row, each changed row took ~6 statements (savepoints, SELECT, UPDATE, INSERT).
    # Batched, 900 more rows add a few statements: a lookup chunk of 500 keys and, on
    # SQLite, one multi-row INSERT of activities per ~100 rows.
    assert large - small <= 15, (small, large)
