"""Refusals that say what is in the way and whose doing it is (7th round).

1. A plugin upgrade narrowing a relationship type's source or target is refused naming the
   relationships in the way by id, with both ends (the first 20 by id), after the counts by
   type it gave before.
2. Removing a relationship type still in use says how many relationships use it, names
   them (the first 20) and how to remove them.
3. A record event hook routing a record to an unknown unit, or setting a value the schema
   check after the ``before_*`` hooks refuses, is named: the plugin and its hook, on the
   error of that value only — on create, update, import and ``--update-by`` alike.
4. An import refused as a whole partway through (a quote left open) counts the rows found
   valid before it, and says so.
6. The wording of validation errors lives in ``xrm_core.error_wording``; the names other
   modules import from ``xrm_core.validation`` are the same objects.
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import Conflict, NotFound, ValidationError, db, hookimpl, relationships
from xrm_core.importer import import_file

INVESTOR = {"name": "investor", "title_field": "name",
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
MEETING = {"name": "meeting", "schema": {"type": "object", "properties": {"topic": {"type": "string"}}}}
FUND = {"name": "fund", "schema": {"type": "object", "properties": {"code": {"type": "string"}}}}


class Fund:
    """One release of a plugin whose ``attended`` relationship type ends at ``target``."""

    __name__ = "fund"

    def __init__(self, target: str, source: str = "investor"):
        self.rel = {"name": "attended", "source": source, "target": target, "cardinality": "many-to-many"}

    @hookimpl
    def xrm_entity_types(self):
        return [INVESTOR, MEETING, FUND]

    @hookimpl
    def xrm_relationship_types(self):
        return [self.rel]


def dump(platform) -> dict:
    with platform.session(write=False) as s:
        return {t.name: sorted(map(tuple, s.conn.execute(select(t)).all()), key=repr)
                for t in (db.records, db.relationships, db.relationship_types, db.activities)}


def listed(errors: list[dict]) -> dict[str, str]:
    """The relationships a refusal names: ``{id: "investor A → fund B"}``."""
    return {e["pointer"].removeprefix("/relationships/"): e["message"]
            for e in errors if e["pointer"].startswith("/relationships/")}


# -- 1. a plugin upgrade narrowing an end -------------------------------------------------
def test_narrowing_a_target_names_each_relationship_in_the_way_with_its_ends(make_platform):
    v1 = make_platform(Fund("*"))
    with v1.session() as s:
        ada = s.create("investor", {"name": "Ada"}).id
        agm = s.create("meeting", {"topic": "AGM"}).id
        gf1 = s.create("fund", {"code": "GF1"}).id
        bob = s.create("investor", {"name": "Bob"}).id
        fine = s.relate("attended", ada, agm)["id"]
        on_fund = s.relate("attended", ada, gf1)["id"]
        on_bob = s.relate("attended", ada, bob)["id"]
    v2 = make_platform(Fund("meeting"), init=False)
    before = dump(v2)
    with pytest.raises(Conflict) as e:
        v2.init()
    assert "3 relationship(s)" not in e.value.message
    assert "cannot change the target of 'attended': 2 relationship(s) of it link records of other types " \
           "than 'meeting' (each is listed; remove one with `xrm unrelate RELATIONSHIP_ID`" in e.value.message
    # The counts by type first, as before; then every relationship in the way, by id.
    assert e.value.errors[:2] == [{"pointer": "/target", "message": "1 relationship(s) link fund records"},
                                  {"pointer": "/target", "message": "1 relationship(s) link investor records"}]
    assert listed(e.value.errors) == {on_fund: f"investor {ada} → fund {gf1}",
                                      on_bob: f"investor {ada} → investor {bob}"}
    assert fine not in listed(e.value.errors)  # it links a meeting: not in the way
    assert dump(v2) == before

    # Unrelating what was named is the way out: the upgrade then applies.
    with v2.session() as s:
        s.unrelate(on_fund)
        s.unrelate(on_bob)
    v2.init()
    with v2.session(write=False) as s:
        assert s.relationship_type("attended")["target"] == "meeting"


def test_narrowing_a_source_in_the_way_of_thousands_names_the_first_twenty_by_id(make_platform):
    v1 = make_platform(Fund("meeting", source="*"))
    with v1.session() as s:
        agm = s.create("meeting", {"topic": "AGM"}).id
        funds = [s.create("fund", {"code": f"F{i}"}).id for i in range(25)]
        s.relate_many("attended", [(f, agm) for f in funds])
        s.relate("attended", s.create("investor", {"name": "Ada"}).id, agm)
        ids = sorted(s.conn.execute(select(db.relationships.c.id, db.relationships.c.source_id)
                                    .where(db.relationships.c.source_id.in_(funds))).all())
    v2 = make_platform(Fund("meeting", source="investor"), init=False)
    before = dump(v2)
    with pytest.raises(Conflict) as e:
        v2.init()
    assert "25 relationship(s) of it link records of other types than 'investor' (the first 20 by id are " \
           "listed;" in e.value.message
    assert e.value.errors[0] == {"pointer": "/source", "message": "25 relationship(s) link fund records"}
    assert listed(e.value.errors) == {rid: f"fund {fid} → meeting {agm}" for rid, fid in ids[:20]}
    assert list(listed(e.value.errors)) == [rid for rid, _ in ids[:20]]
    assert dump(v2) == before


# -- 2. removing a relationship type still in use -----------------------------------------
@pytest.fixture
def known(platform):
    with platform.session() as s:
        a = s.create("person", {"name": "A"}).id
        people = [s.create("person", {"name": f"P{i}"}).id for i in range(23)]
    return platform, a, people


def test_removing_a_type_in_use_says_how_many_names_them_and_how_to_remove_them(known):
    platform, a, people = known
    with platform.session() as s:
        rels = sorted((s.relate("knows", a, p)["id"], p) for p in people[:2])
    before = dump(platform)
    with platform.connection() as conn, pytest.raises(Conflict) as e:
        relationships.remove(conn, "knows")
    assert e.value.message == (
        "relationship type 'knows' is still used by 2 relationship(s): remove them first, then the type "
        "(each is listed; remove one with `xrm unrelate RELATIONSHIP_ID` or DELETE /api/v1/relationships/ID)")
    assert e.value.errors == [{"pointer": f"/relationships/{rid}", "message": f"person {a} → person {p}"}
                              for rid, p in rels]
    assert dump(platform) == before
    with platform.session() as s:
        for rid, _ in rels:
            s.unrelate(rid)
    with platform.connection() as conn:
        relationships.remove(conn, "knows")
        with pytest.raises(NotFound):
            relationships.remove(conn, "knows")


def test_removing_a_type_used_by_many_relationships_names_the_first_twenty(known):
    platform, a, people = known
    with platform.session() as s:
        s.relate_many("knows", [(a, p) for p in people])
        ids = sorted(s.conn.execute(select(db.relationships.c.id).where(db.relationships.c.type == "knows"))
                     .scalars())
    with platform.connection() as conn, pytest.raises(Conflict) as e:
        relationships.remove(conn, "knows")
    assert "is still used by 23 relationship(s)" in e.value.message
    assert "(the first 20 by id are listed;" in e.value.message
    assert [x["pointer"] for x in e.value.errors] == [f"/relationships/{rid}" for rid in ids[:20]]
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.relationship_types)
                            .where(db.relationship_types.c.name == "knows")).scalar() == 1


# -- 3. whose hook set what is refused ----------------------------------------------------
class Router:
    """Routes a person named "route" to a unit that does not exist."""

    __name__ = "router"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_create" and record.type == "person" and record.data.get("name") == "route":
            record.unit = "nowhere"


class Ager:
    """Sets a person's age to -1 (the schema takes 0 and up) when its name is "age me", and
    removes the name of one called "drop"."""

    __name__ = "ager"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event in ("before_create", "before_update") and record.type == "person":
            if record.data.get("name") == "age me":
                record.data["age"] = -1
            if record.data.get("name") == "drop":
                del record.data["name"]


class Tagger:
    """Adds a tag of the wrong type, and normalises a national id, on every person."""

    __name__ = "tagger"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event in ("before_create", "before_update") and record.type == "person":
            if record.data.get("name") == "age me":
                record.data["age"] = -2
                record.data["tags"] = [1]
            if "national_id" in record.data:
                record.data["national_id"] = record.data["national_id"].strip()


class Refuser:
    """Refuses a person named "refuse" after it is created, pointing at its age."""

    __name__ = "refuser"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "after_create" and record.data.get("name") == "refuse":
            raise ValidationError("no", [{"pointer": "/data/age", "message": "refused by the refuser"}])


def test_a_record_routed_to_an_unknown_unit_names_the_plugin_that_routed_it(make_platform):
    p = make_platform(PersonPlugin(), Router())
    before = dump(p)
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("person", {"name": "route"})
    assert e.value.message == ("the person was routed to unknown unit 'nowhere' by the before_create hook of "
                               "plugin 'router'")
    assert e.value.errors == [{"pointer": "/unit",
                               "message": "unknown unit (set by the before_create hook of plugin 'router')"}]
    assert dump(p) == before
    with p.session() as s:  # another record is not routed: created as before
        assert s.create("person", {"name": "stay"}).unit == "root"


def test_a_value_a_before_create_hook_set_is_named_with_its_plugin_and_the_callers_are_not(make_platform):
    p = make_platform(PersonPlugin(), Ager())
    before = dump(p)
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("person", {"name": "age me", "score": "high"})
    assert e.value.message == "person data is invalid after the before_create hook of plugin 'ager' changed it"
    messages = {x["pointer"]: x["message"] for x in e.value.errors}
    assert messages["/data/age"].endswith(" (set by the before_create hook of plugin 'ager')")
    assert messages["/data/score"] == '"high" is not of type "number"'  # the caller's own value
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("person", {"name": "drop"})
    assert e.value.errors == [{"pointer": "/data/name", "message": '"name" is a required property '
                                                                   "(removed by the before_create hook of plugin 'ager')"}]
    assert dump(p) == before


def test_an_error_on_what_the_caller_sent_is_worded_as_before(make_platform):
    p = make_platform(PersonPlugin(), Ager())
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("person", {"name": "plain", "age": -5})
    assert e.value.message == "person data is invalid"
    assert e.value.errors == [{"pointer": "/data/age", "message": "-5 is less than the minimum of 0"}]


def test_a_value_several_plugins_set_names_them_all_on_update_too(make_platform):
    p = make_platform(PersonPlugin(), Ager(), Tagger())
    with p.session() as s:
        rid = s.create("person", {"name": "Ann"}).id
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.update(rid, {"name": "age me"})
    # In the order the hooks ran (pluggy calls the plugin registered last first).
    both = "the before_update hooks of plugins 'tagger' and 'ager'"
    messages = {x["pointer"]: x["message"] for x in e.value.errors}
    assert messages["/data/age"] == f"-1 is less than the minimum of 0 (set by {both})"
    assert messages["/data/tags/0"] == '1 is not of type "string" (set by the before_update hook of plugin \'tagger\')'
    assert e.value.message == f"person data is invalid after {both} changed it"
    with p.session() as s:
        assert s.get(rid).data == {"name": "Ann"} and s.get(rid).version == 1


def test_a_duplicate_a_hook_made_by_normalising_names_the_plugin(make_platform):
    p = make_platform(PersonPlugin(), Tagger())
    with p.session() as s:
        s.create("person", {"name": "Ann", "national_id": "001"})
    with p.session() as s, pytest.raises(Conflict) as e:
        s.create("person", {"name": "Bob", "national_id": " 001 "})
    assert e.value.errors == [{"pointer": "/data/national_id",
                               "message": "already used (set by the before_create hook of plugin 'tagger')"}]


def test_a_plugins_own_refusal_after_the_hooks_is_left_as_it_is(make_platform):
    p = make_platform(PersonPlugin(), Ager(), Refuser())
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("person", {"name": "refuse", "age": 3})
    assert e.value.message == "no"
    assert e.value.errors == [{"pointer": "/data/age", "message": "refused by the refuser"}]
    with p.session() as s:  # nothing is kept from one write to the next
        assert s.create("person", {"name": "fine"}).data == {"name": "fine"}
        assert s.hook_edits == {}


class Zipper:
    """A type whose address takes one member, and a hook that adds a second one to it."""

    __name__ = "zipper"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "site", "schema": {"type": "object", "properties": {
            "address": {"type": "object", "maxProperties": 1}}}}]

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_create" and "address" in record.data:
            record.data["address"]["zip"] = "00000"


def test_an_error_on_a_value_holding_one_a_hook_set_says_the_hook_changed_it(make_platform):
    p = make_platform(Zipper())
    with p.session() as s, pytest.raises(ValidationError) as e:
        s.create("site", {"address": {"city": "Ghent"}})
    assert [x["pointer"] for x in e.value.errors] == ["/data/address"]
    assert e.value.errors[0]["message"].endswith(" (changed by the before_create hook of plugin 'zipper')")


def test_for_types_still_loads_without_sqlalchemy():
    """Plugins import ``for_types`` when they load: what tells whose hook changed what must
    not make that import load the platform."""
    import subprocess
    import sys
    code = "import sys; from xrm_core import for_types; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_an_import_names_the_plugin_that_routed_a_row_or_set_a_refused_value(make_platform, tmp_path,
                                                                              skip_invalid):
    p = make_platform(PersonPlugin(), Router(), Ager())
    path = write(tmp_path, "p.csv", "name,age,score\nroute,1,\nage me,2,\nok,3,x\nfine,4,\n")
    with p.session() as s:
        if skip_invalid:
            report = import_file(s, "person", path, skip_invalid=True)
        else:
            with pytest.raises(ValidationError) as e:
                import_file(s, "person", path)
            report = e.value.extra["report"]
    assert report["invalid"] == [
        {"line": 2, "errors": [{"pointer": "", "message": "routed to unknown unit 'nowhere' by the before_create "
                                                          "hook of plugin 'router'"}]},
        {"line": 3, "errors": [{"pointer": "/age", "message": "-1 is less than the minimum of 0 (set by the "
                                                              "before_create hook of plugin 'ager')"}]},
        {"line": 4, "errors": [{"pointer": "/score", "message": "'x' is not a number"}]}]
    assert report["imported"] == (1 if skip_invalid else 0)


def test_an_import_updating_records_names_the_plugin_that_set_a_refused_value(make_platform, tmp_path):
    p = make_platform(PersonPlugin(), Ager())
    with p.session() as s:
        s.create("person", {"name": "Ann", "national_id": "001"})
    path = write(tmp_path, "p.csv", "national_id,name\n001,age me\n")
    with p.session() as s, pytest.raises(ValidationError) as e:
        import_file(s, "person", path, update_by="national_id")
    assert e.value.extra["report"]["invalid"] == [{"line": 2, "errors": [
        {"pointer": "/age", "message": "-1 is less than the minimum of 0 (set by the before_update hook of "
                                       "plugin 'ager')"}]}]


# -- 4. an import refused partway through -------------------------------------------------
BROKEN = "name,age\nA,1\nB,2\nC,x\nD,4\nE,5\nF,6\n\"G,7\nH,8\n"  # the quote on line 8 never closes


class Noop:
    __name__ = "noop"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        return None


@pytest.mark.parametrize("hooks", [False, True])
def test_an_import_refused_partway_counts_the_rows_found_valid_before(make_platform, tmp_path, monkeypatch, hooks):
    from xrm_core import importer
    monkeypatch.setattr(importer, "BATCH", 2)  # some rows written (then rolled back), some held
    p = make_platform(PersonPlugin(), *([Noop()] if hooks else []))
    before = dump(p)
    with p.session() as s, pytest.raises(ValidationError) as e:
        import_file(s, "person", write(tmp_path, "p.csv", BROKEN))
    report = e.value.extra["report"]
    assert (report["total"], report["valid"], report["imported"]) == (6, 5, 0)
    assert [r["line"] for r in report["invalid"]] == [4, 8]
    assert e.value.message == ("import refused: p.csv is not valid CSV; of the 6 rows before line 8, 5 were valid "
                               "and 1 invalid (nothing imported)")
    assert dump(p) == before


def test_an_import_refused_at_its_header_counts_nothing(make_platform, tmp_path):
    p = make_platform(PersonPlugin())
    with p.session() as s, pytest.raises(ValidationError) as e:
        import_file(s, "person", write(tmp_path, "p.csv", "name,nope\nA,1\n"))
    assert e.value.extra["report"]["valid"] == 0
    assert "rows before" not in e.value.message


def test_rows_update_by_holds_for_their_lookup_are_not_counted_but_told(make_platform, tmp_path):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        s.create("person", {"name": "Ann", "national_id": "001"})
    path = write(tmp_path, "p.csv", "national_id,name\n001,Anna\n002,Bo\n\"003,Cy\n")
    with p.session() as s, pytest.raises(ValidationError) as e:
        import_file(s, "person", path, update_by="national_id")
    assert e.value.extra["report"]["valid"] == 0
    assert "of the 2 rows before line 4, 0 were valid and 0 invalid (2 not checked yet)" in e.value.message


# -- 6. the wording of validation errors in a module of its own ---------------------------
def test_the_error_wording_moved_and_stays_importable_from_validation():
    from xrm_core import error_wording, validation
    for name in ("shorten_values", "SHOWN_VALUE_LIMIT", "SHOWN_VALUE_START", "FORMAT_EXAMPLES"):
        assert getattr(validation, name) is getattr(error_wording, name)
    for name in ("_why_no_option", "_expectation", "_listed", "_json_text", "LISTED_VALUES", "_TYPE_WORDS"):
        assert not hasattr(validation, name)
    assert error_wording.listed(list(range(25))) == ", ".join(map(str, range(20))) + " or 5 more"
