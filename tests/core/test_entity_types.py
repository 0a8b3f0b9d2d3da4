"""Entity types in the database: versions, impact-checked updates, expression indexes,
unique keys enforced by the database, and removal (xrm_core.entity_types)."""
from __future__ import annotations

import copy
import itertools
import os
import uuid

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from xrm_core import Platform, ValidationError, db, entity_types, listing
from xrm_core.errors import Conflict, DefinitionError, NotFound
from xrm_core.plugins import make_plugin_manager
from xrm_core.records import new_id

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")

THING = {
    "name": "thing", "title_field": "name", "indexes": ["name", "size"],
    "schema": {"type": "object", "required": ["name"],
               "properties": {"name": {"type": "string"}, "size": {"type": "integer"},
                              "code": {"type": "string"}, "region": {"type": "string"},
                              "email": {"type": "string", "format": "email"},
                              "address": {"$ref": "common.json#/$defs/address"}}},
}


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def shared(request, tmp_path_factory):
    """One initialised database per engine for this module: each test works on entity types
    of its own (``kind``), so tests stay independent without paying for an init each."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('et') / 'xrm.db'}", None
    else:
        schema = f"xrm_et_{uuid.uuid4().hex[:12]}"
        admin = db.make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"

        def drop():
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
    p = Platform(url, pm=make_plugin_manager(load_entry_points=False))
    p.init()
    yield p
    p.dispose()
    if drop:
        drop()


_names = itertools.count()


class Kind:
    """A fresh entity type (like THING) on the shared platform: ``kind.p``, ``kind.name``."""

    def __init__(self, p, name):
        self.p, self.name = p, name

    def definition(self, base=THING, **keys) -> dict:
        """THING (or ``base``) under this kind's name with ``keys`` replaced (None removes)."""
        d = copy.deepcopy(base)
        d["name"] = self.name
        for k, v in keys.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
        return d

    def update(self, definition, **kw):
        with self.p.connection() as conn:
            return entity_types.update(conn, definition, **kw)

    def create(self, *items) -> list[str]:
        with self.p.session() as s:
            return [s.create(self.name, d).id for d in items]

    def count(self) -> int:
        with self.p.session() as s:
            return s.count(self.name)

    def indexes(self) -> dict[str, str]:
        """Name -> definition of the database's indexes for this type (from the catalog)."""
        with self.p.connection() as conn:
            return {n: sql for n, sql in runtime_indexes(conn).items() if n in entity_types.stored_indexes(conn, self.name)}

    def expected_indexes(self) -> set[str]:
        with self.p.connection() as conn:
            return set(entity_types.index_ddl(conn.dialect.name, entity_types.get(conn, self.name)))

    def snapshot(self) -> dict:
        """Everything a refused change must leave as it was."""
        with self.p.connection() as conn:
            row = conn.execute(select(db.entity_types).where(db.entity_types.c.name == self.name)).one()
            versions = conn.execute(select(db.entity_type_versions.c.version, db.entity_type_versions.c.definition)
                                    .where(db.entity_type_versions.c.name == self.name)
                                    .order_by(db.entity_type_versions.c.version)).all()
        return {"definition": row.definition, "version": row.version, "versions": [tuple(v) for v in versions],
                "indexes": self.indexes()}


@pytest.fixture
def kind(shared):
    k = Kind(shared, f"thing{next(_names)}")
    with shared.connection() as conn:
        entity_types.add(conn, k.definition())
    return k


def runtime_indexes(conn) -> dict[str, str]:
    """Name -> definition of every per-type index on xrm_records."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND tbl_name = 'xrm_records' AND name LIKE 'xrm_%'"))
    else:
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'xrm_records' "
                                 "AND schemaname = current_schema() AND indexname LIKE 'xrm_%'"))
    return dict(rows.all())


# -- versions ----------------------------------------------------------------------------
def test_add_stores_version_one_and_its_history(kind):
    snap = kind.snapshot()
    assert snap["version"] == 1
    assert snap["versions"] == [(1, kind.definition())]
    with kind.p.connection() as conn:
        assert entity_types.get(conn, kind.name).to_dict() == {**kind.definition(), "version": 1, "source": "admin"}


def test_each_applied_update_bumps_version_and_keeps_old_definitions(kind):
    v2 = kind.definition(label="Thing")
    v3 = kind.definition(v2, description="A thing")
    assert kind.update(v2)["version"] == 2
    report = kind.update(v3)
    assert report["applied"] and report["version"] == 3
    snap = kind.snapshot()
    assert snap["version"] == 3 and snap["definition"] == v3
    assert snap["versions"] == [(1, kind.definition()), (2, v2), (3, v3)]


def test_update_without_change_keeps_the_version(kind):
    assert kind.update(kind.definition()) == {"type": kind.name, "checked": 0, "invalid": 0, "records": [],
                                              "changed": False, "applied": False, "version": 1}
    assert [v for v, _ in kind.snapshot()["versions"]] == [1]


def test_sessions_see_the_new_version_at_once(kind):
    kind.create({"name": "a", "size": 1})
    schema = copy.deepcopy(THING["schema"])
    schema["properties"]["colour"] = {"enum": ["red", "blue"]}
    kind.update(kind.definition(schema=schema))
    kind.create({"name": "b", "colour": "red"})
    with pytest.raises(ValidationError) as info:
        kind.create({"name": "c", "colour": "green"})
    assert info.value.errors[0]["pointer"] == "/data/colour"


def test_add_twice_and_unknown_type(kind):
    with kind.p.connection() as conn:
        with pytest.raises(Conflict, match="already exists"):
            entity_types.add(conn, kind.definition())
        with pytest.raises(NotFound, match="unknown entity type 'nope'"):
            entity_types.get(conn, "nope")
        with pytest.raises(NotFound):
            entity_types.update(conn, kind.definition(name="nope"))


def test_invalid_definition_changes_nothing(kind):
    before = kind.snapshot()
    with pytest.raises(DefinitionError) as info:
        kind.update(kind.definition(indexes=["name", "missing"]))
    assert info.value.errors[0]["pointer"] == "/indexes/1"
    assert kind.snapshot() == before


# -- impact check ------------------------------------------------------------------------
def test_update_that_would_invalidate_records_is_refused_with_report(kind):
    ok, bad1, bad2 = kind.create({"name": "a", "size": 1}, {"name": "b", "size": 50}, {"name": "c", "size": 70})
    before = kind.snapshot()
    stricter = kind.definition(indexes=["name", "region"])  # the index change must not happen either
    stricter["schema"]["properties"]["size"]["maximum"] = 10
    with pytest.raises(ValidationError) as info:
        kind.update(stricter)
    e = info.value
    assert "2 of 3" in e.message
    report = e.extra["impact"]
    assert report["invalid"] == 2 and report["checked"] == 3
    assert {r["id"]: [x["pointer"] for x in r["errors"]] for r in report["records"]} == {
        bad1: ["/data/size"], bad2: ["/data/size"]}
    assert sorted(x["pointer"] for x in e.errors) == sorted([f"/records/{bad1}/data/size",
                                                             f"/records/{bad2}/data/size"])
    assert ok not in str(e)
    assert kind.snapshot() == before


def test_dry_run_reports_and_applies_nothing(kind):
    kind.create({"name": "a", "size": 1}, {"name": "b", "size": 2})
    before = kind.snapshot()
    report = kind.update(kind.definition(indexes=["region"], unique=["code"], label="Renamed"), dry_run=True)
    assert report == {"type": kind.name, "checked": 2, "invalid": 0, "records": [], "changed": True,
                      "applied": False, "version": 1}
    assert kind.snapshot() == before
    stricter = kind.definition(schema={**THING["schema"], "required": ["name", "code"]})
    with pytest.raises(ValidationError) as info:
        kind.update(stricter, dry_run=True)
    assert info.value.extra["impact"]["invalid"] == 2
    assert kind.snapshot() == before


def test_loosening_a_schema_is_applied(kind):
    kind.create({"name": "a", "size": 1})
    report = kind.update(kind.definition(schema={**THING["schema"], "required": []}))
    assert report["applied"] and report["checked"] == 1 and report["version"] == 2


def test_impact_lists_at_most_max_ids_but_counts_all(kind):
    kind.create(*({"name": f"n{i}", "size": i} for i in range(7)))
    stricter = kind.definition()
    stricter["schema"]["properties"]["size"]["minimum"] = 100
    with kind.p.connection() as conn:
        report = entity_types.impact(conn, entity_types.EntityType(stricter), max_ids=3, batch=2)
    assert report["checked"] == 7 and report["invalid"] == 7 and len(report["records"]) == 3


def test_a_refused_change_says_when_not_every_record_is_listed(kind):
    with kind.p.session() as s:
        s.create_many(kind.name, [{"name": f"n{i}", "size": i} for i in range(103)])
    stricter = kind.definition()
    stricter["schema"]["properties"]["size"]["minimum"] = 1
    with pytest.raises(ValidationError) as e:
        kind.update(stricter, dry_run=True)
    assert "1 of 103 stored" in e.value.message and "listed" not in e.value.message
    stricter["schema"]["properties"]["size"]["minimum"] = 102
    with pytest.raises(ValidationError) as e:
        kind.update(stricter)
    assert "102 of 103 stored" in e.value.message and "(the first 100 are listed)" in e.value.message
    assert len(e.value.extra["impact"]["records"]) == 100 and e.value.extra["impact"]["invalid"] == 102


def raw_insert(kind, *items):
    """INSERT records straight into xrm_records, past every check of the platform."""
    with kind.p.connection() as conn:
        admin = conn.execute(select(db.users.c.id, db.users.c.unit_id).where(db.users.c.name == "admin")).one()
        now = db.utcnow()
        conn.execute(insert(db.records), [
            dict(id=new_id(), type=kind.name, data=data, version=1, owner_id=admin.id, unit_id=admin.unit_id,
                 created_by=admin.id, updated_by=admin.id, created_at=now, updated_at=now) for data in items])


# -- expression indexes ------------------------------------------------------------------
def captured_list_sql(kind, where, sort=None):
    """(statement, parameters) of the SELECT ``s.list(kind.name, where, sort=sort)`` runs."""
    with kind.p.session() as s:
        return listing.list_query(s, kind.name, where, sort=sort)


def query_plan(kind, where, sort=None) -> str:
    """The database's plan of the list query ``s.list(kind, where, sort=sort)``."""
    statement, params = captured_list_sql(kind, where, sort)
    with kind.p.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # no ANALYZE: the plan must not depend on statistics
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            return "\n".join(r[-1] for r in rows)
        # PostgreSQL plans by statistics (autovacuum keeps them in real use): refresh them.
        conn.exec_driver_sql("ANALYZE xrm_records")
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        conn.rollback()
        return "\n".join(r[0] for r in rows)


def index_for(kind, field, unique=False) -> str:
    """Name of the index ``kind`` declares on ``field`` (from index_ddl)."""
    from xrm_core.fields import field_sql
    with kind.p.connection() as conn:
        et = entity_types.get(conn, kind.name)
        ddl = entity_types.index_ddl(conn.dialect.name, et)
        expr = field_sql(conn.dialect.name, field, et.field_type(field))
    lead = "type, " if conn.dialect.name == "sqlite" else ""  # see entity_types._index_specs
    columns = f"({lead}{expr})" if unique else f"({lead}{expr}, id)"
    [name] = [n for n, sql in ddl.items() if columns in sql and ("UNIQUE" in sql) == unique]
    return name


def test_indexes_exist_on_the_database(kind):
    present = kind.indexes()
    assert set(present) == kind.expected_indexes() and len(present) == 2
    for sql in present.values():
        assert "xrm_records" in sql and f"'{kind.name}'" in sql
        assert ("json_extract" in sql) if kind.p.engine.dialect.name == "sqlite" else ("#>>" in sql)


@pytest.mark.parametrize("field, where, sort, expected", [
    ("name", {"name": "n5"}, None, [5]),
    ("size", {"size": 4}, None, [4]),
    # A range in the index's own order (in id order the planner may rightly scan by id).
    ("size", {"size": {"gte": 27, "lt": 1000}}, ["size"], [27, 28, 29]),
    ("size", {"size": {"lt": 3}}, ["size"], [0, 1, 2]),
])
def test_list_query_on_an_indexed_field_uses_its_index(kind, field, where, sort, expected):
    kind.create(*({"name": f"n{i}", "size": i} for i in range(30)))
    # Enough other rows of the type that reading them all is clearly dearer than the index.
    raw_insert(kind, *({"name": "other", "size": 1000 + i} for i in range(500)))
    plan = query_plan(kind, where, sort)
    assert index_for(kind, field) in plan, plan
    with kind.p.session() as s:  # and the query is right
        assert [r.data["size"] for r in s.list(kind.name, where, sort=sort)] == expected


def test_unindexed_field_is_not_looked_up_in_an_index(kind):
    # The other side of the test above: the plan check can fail.
    kind.create({"name": "a", "region": "north"})
    plan = query_plan(kind, {"region": "north"})
    if kind.p.engine.dialect.name == "sqlite":
        assert "xrm_ix_" not in plan
    else:  # with seqscan off some index is always scanned; none is searched by region
        assert not [line for line in plan.splitlines() if "Index Cond" in line and "{region}" in line]
        assert "{region}" in plan


def test_index_follows_the_definition(kind):
    kind.create({"name": "a", "size": 1, "region": "north", "address": {"city": "Tehran"}})
    old_size = index_for(kind, "size")
    # Remove "size", add "region" and the nested "address.city".
    kind.update(kind.definition(indexes=["name", "region", "address.city"]))
    present = kind.indexes()
    assert set(present) == kind.expected_indexes()
    assert old_size not in present and len(present) == 3
    assert index_for(kind, "region") in query_plan(kind, {"region": "north"})
    assert index_for(kind, "address.city") in query_plan(kind, {"address.city": "Tehran"})
    # Remove every index.
    kind.update(kind.definition(indexes=None))
    assert kind.indexes() == {}


def test_changing_a_field_type_recreates_its_index(kind):
    name_before = index_for(kind, "size")
    retyped = kind.definition()
    retyped["schema"]["properties"]["size"] = {"type": "string"}
    kind.update(retyped)
    present = kind.indexes()
    assert set(present) == kind.expected_indexes()
    name_after = index_for(kind, "size")
    if kind.p.engine.dialect.name == "postgresql":
        # Numbers are cast on PostgreSQL, text is not: a different expression, a new index.
        assert name_after != name_before and name_before not in present
        assert "numeric" not in present[name_after]
    kind.create({"name": "x", "size": "XL"})
    assert name_after in query_plan(kind, {"size": "XL"})


def test_a_missing_index_is_repaired_by_the_next_update(kind):
    [lost, *_] = sorted(kind.indexes())
    with kind.p.connection() as conn:
        conn.execute(text(f"DROP INDEX {lost}"))
    kind.update(kind.definition())  # unchanged definition: version kept, index rebuilt
    assert lost in kind.indexes() and kind.snapshot()["version"] == 1


def test_mixed_type_field_is_indexed_without_a_cast(kind):
    d = kind.definition(indexes=["ref"])
    d["schema"]["properties"]["ref"] = {"type": ["integer", "string", "null"]}
    kind.update(d)
    with kind.p.session() as s:
        assert s.entity_type(kind.name).field_type("ref") is None
    kind.create({"name": "a", "ref": 7}, {"name": "b", "ref": "seven"}, {"name": "c", "ref": None})
    with kind.p.session() as s:
        assert [r.data["name"] for r in s.list(kind.name, {"ref": "seven"})] == ["b"]


@pytest.mark.parametrize("field, message", [
    ({"type": ["integer", "string"]}, "'ref' may hold values of several JSON types"),
    ({}, "'ref' may hold values of several JSON types"),
    ({"type": "array", "items": {"type": "string"}}, "'ref' is an array"),
    ({"type": "object"}, "'ref' is an object"),
])
def test_unique_keys_need_one_scalar_type(kind, field, message):
    """SQLite compares 1 with true as equal, PostgreSQL 1 with "1": a unique key of mixed
    type would differ per engine, and an array or object has no one value to index."""
    before = kind.snapshot()
    d = kind.definition(unique=[["name", "ref"]])
    d["schema"]["properties"]["ref"] = field
    with pytest.raises(DefinitionError) as e:
        kind.update(d)
    assert [err["pointer"] for err in e.value.errors] == ["/unique/0/1"]
    assert message in e.value.errors[0]["message"]
    with pytest.raises(DefinitionError, match="cannot compare"), kind.p.connection() as conn:
        entity_types.add(conn, {**d, "name": f"{kind.name}_new"})
    if field.get("type") in ("array", "object"):  # not even a plain index
        d = kind.definition(indexes=["name", "ref"])
        d["schema"]["properties"]["ref"] = field
        with pytest.raises(DefinitionError, match="cannot compare") as e:
            kind.update(d)
        assert [err["pointer"] for err in e.value.errors] == ["/indexes/1"]
    assert kind.snapshot() == before


def test_index_on_a_type_with_a_long_name(shared):
    long_name = f"t{next(_names)}".ljust(60, "x")
    with shared.connection() as conn:
        entity_types.add(conn, {"name": long_name, "indexes": ["a"], "unique": ["b"],
                                "schema": {"type": "object", "properties": {"a": {"type": "string"},
                                                                            "b": {"type": "string"}}}})
        present = entity_types.stored_indexes(conn, long_name)
    assert len(present) == 2 and all(len(n) <= 63 for n in present)
    with shared.session() as s:
        s.create(long_name, {"a": "x", "b": "y"})
        with pytest.raises(Conflict):
            s.create(long_name, {"a": "x", "b": "y"})


# -- unique keys -------------------------------------------------------------------------
@pytest.fixture
def uniq(kind):
    kind.update(kind.definition(unique=["code", ["region", "name"]]))
    return kind




def test_unique_field_is_answered_with_a_clear_conflict(uniq):
    [first] = uniq.create({"name": "a", "code": "X1"})
    with pytest.raises(Conflict) as info:
        uniq.create({"name": "b", "code": "X1"})
    e = info.value
    assert e.status == 409
    assert 'code="X1"' in e.message and first in e.message
    assert e.errors == [{"pointer": "/data/code", "message": "already used"}]
    assert uniq.count() == 1


def test_unique_is_enforced_by_the_database_itself(uniq):
    uniq.create({"name": "a", "code": "X1", "region": "north"})
    with pytest.raises(IntegrityError):
        raw_insert(uniq, {"name": "b", "code": "X1"})
    with pytest.raises(IntegrityError):
        raw_insert(uniq, {"name": "a", "region": "north", "code": "other"})
    raw_insert(uniq, {"name": "a", "region": "south"})  # another composite value
    assert uniq.count() == 2


def test_composite_unique(uniq):
    uniq.create({"name": "a", "region": "north"}, {"name": "a", "region": "south"},
                {"name": "b", "region": "north"}, {"name": "a"}, {"name": "a"})  # missing parts never clash
    with pytest.raises(Conflict) as info:
        uniq.create({"name": "a", "region": "north"})
    assert 'region="north", name="a"' in info.value.message
    assert [e["pointer"] for e in info.value.errors] == ["/data/region", "/data/name"]
    assert uniq.count() == 5


def test_update_into_a_duplicate_is_a_conflict_and_changes_nothing(uniq):
    a, b = uniq.create({"name": "a", "code": "X1"}, {"name": "b", "code": "X2"})
    with pytest.raises(Conflict, match=a):
        with uniq.p.session() as s:
            s.update(b, {"code": "X1"})
    with uniq.p.session() as s:
        rec = s.get(b)
        assert rec.data["code"] == "X2" and rec.version == 1
        assert [h["kind"] for h in s.history(b)] == ["created"]
        s.update(a, {"size": 3})  # updating a record keeps its own unique value


def test_adding_a_unique_key_violated_by_stored_records_is_refused(kind):
    kind.create({"name": "a", "code": "DUP"}, {"name": "b", "code": "DUP"}, {"name": "c", "code": "ok"},
                {"name": "d", "region": "r1"}, {"name": "d", "region": "r1"}, {"name": "e"})
    before = kind.snapshot()
    with pytest.raises(Conflict) as info:
        kind.update(kind.definition(unique=["code"], indexes=["region"]))
    with kind.p.session() as s:
        dup_ids = sorted(r.id for r in s.list(kind.name, {"code": "DUP"}))
    assert info.value.errors == [{"pointer": "/unique/0",
                                  "message": f'code="DUP" is shared by 2 records ({", ".join(dup_ids)})'}]
    assert kind.snapshot() == before
    with pytest.raises(Conflict) as info:  # a dry run checks the same
        kind.update(kind.definition(unique=["size", ["name", "region"]]), dry_run=True)
    assert info.value.errors[0]["pointer"] == "/unique/1"
    assert 'name="d", region="r1" is shared by 2 records' in str(info.value)
    assert kind.snapshot() == before
    # Without duplicates the same kind of key is accepted.
    assert kind.update(kind.definition(unique=[["name", "code"]]))["applied"]


def test_removing_a_unique_key_drops_its_index(uniq):
    uniq.create({"name": "a", "code": "X1"})
    uniq.update(uniq.definition(unique=None))
    assert set(uniq.indexes()) == uniq.expected_indexes()
    uniq.create({"name": "b", "code": "X1"})


def test_unique_on_integer_field(kind):
    kind.update(kind.definition(unique=["size"]))
    kind.create({"name": "a", "size": 7})
    with pytest.raises(Conflict, match="size=7"):
        kind.create({"name": "b", "size": 7})


# -- removal -----------------------------------------------------------------------------
def test_remove_refused_while_records_exist(kind):
    [rid] = kind.create({"name": "a"})
    before = kind.snapshot()
    with pytest.raises(Conflict, match="1 records"):
        with kind.p.connection() as conn:
            entity_types.remove(conn, kind.name)
    assert kind.snapshot() == before
    with kind.p.session() as s:
        s.delete(rid)
    with kind.p.connection() as conn:
        entity_types.remove(conn, kind.name)
        assert entity_types.stored_indexes(conn, kind.name) == set()
        with pytest.raises(NotFound):
            entity_types.get(conn, kind.name)


@pytest.mark.parametrize("end", ["source", "target"])
def test_remove_refused_while_a_relationship_type_uses_it(kind, end):
    from xrm_core import relationships
    other, rel = f"other{kind.name}", f"links{kind.name}"
    with kind.p.connection() as conn:
        entity_types.add(conn, {"name": other, "schema": {"type": "object"}})
        ends = {"source": other, "target": other, end: kind.name}
        relationships.save(conn, {"name": rel, "cardinality": "many-to-many", **ends}, {kind.name, other})
    before = kind.snapshot()
    with pytest.raises(Conflict, match=f"'{rel}'"):
        with kind.p.connection() as conn:
            entity_types.remove(conn, kind.name)
    assert kind.snapshot() == before
    with kind.p.connection() as conn:
        relationships.remove(conn, rel)
        entity_types.remove(conn, kind.name)


def test_remove_unknown_type(shared):
    with pytest.raises(NotFound):
        with shared.connection() as conn:
            entity_types.remove(conn, "nope")


def test_removed_type_can_be_added_again(kind):
    kind.update(kind.definition(label="Thing"))
    with kind.p.connection() as conn:
        entity_types.remove(conn, kind.name)
    with kind.p.connection() as conn:
        et = entity_types.add(conn, kind.definition(indexes=["region"], unique=["code"]))
    assert set(kind.indexes()) == kind.expected_indexes()
    # Versions keep counting, so no cached compile of an older definition is reused.
    assert et.version == 3
    assert [v for v, _ in kind.snapshot()["versions"]] == [1, 2, 3]
    kind.create({"name": "a", "code": "C"})
    with pytest.raises(Conflict):
        kind.create({"name": "b", "code": "C"})


def test_definitions_keep_their_key_order(db_url):
    """Schema property order drives forms and CSV columns: it must survive storage."""
    from xrm_core import Platform
    from xrm_core.plugins import make_plugin_manager
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    try:
        p.init()
        names = ["zeta", "alpha", "mid", "beta"]
        definition = {"name": "ordered", "schema": {"type": "object", "properties": {n: {"type": "string"} for n in names}}}
        with p.connection() as conn:
            entity_types.add(conn, definition)
        with p.connection() as conn:
            assert list(entity_types.get(conn, "ordered").schema["properties"]) == names
    finally:
        p.dispose()


def test_field_types_resolve_refs_inside_the_common_schemas():
    """address → common.json#/$defs/address, whose country → #/$defs/country in common.json."""
    et = entity_types.EntityType({"name": "place", "schema": {"type": "object", "properties": {
        "address": {"$ref": "common.json#/$defs/address"},
        "price": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/money"}}}})
    assert et.field_type("address.country") == "string"
    assert et.property_schema("address.country")["pattern"] == "^[A-Z]{2}$"
    assert et.field_type("price.currency") == "string"
    assert et.field_type("price.amount") == "number"
