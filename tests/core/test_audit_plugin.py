"""A third-party plugin written from docs/plugins.md alone: definitions that clash with
another plugin's, KPIs given the wrong way, Python KPI groups on both engines, long
relationship-type names, and the hooks of §4 working together."""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from conftest import PersonPlugin
from xrm_core import KPI, DefinitionError, PluginError, ValidationError, call_all, db, hookimpl, hookspec, kpis
from xrm_core import relationships

THING = {"name": "thing", "title_field": "name",
         "schema": {"type": "object", "properties": {
             "name": {"type": "string"}, "grade": {"type": "integer"}, "tag": {"type": "string"},
             "ok": {"type": "boolean"}, "when": {"type": "string", "format": "date"}}}}


class Plugin:
    """A plugin object from keyword hook implementations."""

    def __init__(self, name, **hooks):
        self.__name__ = name
        for hook, fn in hooks.items():
            setattr(self, hook, hookimpl(fn))


def tables(platform) -> list[str]:
    return inspect(platform.engine).get_table_names()


# -- definitions that clash --------------------------------------------------------------
@pytest.mark.parametrize("hook, definition, what", [
    ("xrm_entity_types", {"name": "person", "schema": {"type": "object"}}, "entity type 'person'"),
    ("xrm_relationship_types", {"name": "knows", "source": "person", "target": "person",
                                "cardinality": "one-to-one"}, "relationship type 'knows'"),
    ("xrm_activity_kinds", {"name": "call", "label": "Call"}, "activity kind 'call'"),
])
def test_a_name_another_plugin_declares_fails_init_naming_both(make_platform, hook, definition, what):
    # Before: the second plugin's definition silently replaced the first one's.
    p = make_platform(PersonPlugin(), Plugin("intruder", **{hook: lambda: [definition]}), init=False)
    with pytest.raises(DefinitionError, match=f"{what} is declared by plugins "
                                               "('testperson' and 'intruder'|'intruder' and 'testperson')"):
        p.init(admin_password="x")
    assert not [t for t in tables(p) if t.startswith("xrm_")]  # nothing applied


def test_a_name_declared_twice_by_one_plugin_is_refused(make_platform):
    twice = Plugin("twice", xrm_entity_types=lambda: [THING, {**THING, "label": "again"}])
    p = make_platform(twice, init=False)
    with pytest.raises(DefinitionError, match="entity type 'thing' is declared by plugin 'twice' twice") as e:
        p.init()
    assert e.value.errors[0]["pointer"] == "/1/name"


def test_the_same_definition_declared_twice_is_no_conflict(make_platform):
    """Two plugins may share an identical definition: neither replaces anything, and init
    reports it once (it said `reltypes: 2`, `reltypes_added: [links, links]`)."""
    shared = {"xrm_entity_types": lambda: [THING],
              "xrm_relationship_types": lambda: [{"name": "links", "source": "thing", "target": "thing",
                                                  "cardinality": "many-to-many"}],
              "xrm_activity_kinds": lambda: [{"name": "memo", "label": "Memo"}]}
    p = make_platform(Plugin("one", **shared), Plugin("two", **shared), init=False)
    report = p.init()
    assert (report["types_added"], report["reltypes_added"]) == (["thing"], ["links"])
    assert (report["reltypes"], report["activity_kinds"]) == (1, 1)
    with p.session() as s:
        assert s.entity_type("thing").name == "thing"


def test_a_definition_hook_returning_one_dict_is_refused_naming_the_plugin(make_platform):
    p = make_platform(Plugin("single", xrm_entity_types=lambda: THING), init=False)
    with pytest.raises(DefinitionError, match=r"plugin 'single': xrm_entity_types\(\) must return a list"):
        p.init()


# -- KPIs given the wrong way -------------------------------------------------------------
class MaxGrade(KPI):
    name = "max_grade"
    entity = "thing"

    def compute(self, ctx):
        g = ctx.field("thing", "grade")
        v, n = ctx.execute(select(func.max(g), func.count(g)).where(ctx.base("thing"))).one()
        return {"value": v, "n": n, "groups": []}


def test_a_kpi_class_instead_of_an_object_names_the_plugin(make_platform):
    # Before: TypeError: KPI.check() missing 1 required positional argument (no plugin named).
    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [MaxGrade]), init=False)
    with pytest.raises(DefinitionError, match="plugin 'things': KPI #0 is the class MaxGrade") as e:
        p.init()
    assert e.value.errors == [{"pointer": "/0", "message": "not a KPI dict or KPI object"}]
    assert not [t for t in tables(p) if t.startswith("xrm_")]


def test_a_python_kpi_that_crashes_names_its_plugin(make_platform):
    class Crashing(MaxGrade):
        name = "crashing"

        def check(self, known_types):
            raise KeyError("oops")

    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [Crashing()]), init=False)
    with pytest.raises(PluginError, match=r"plugin 'things' failed in KPI 'crashing' check\(\): KeyError"):
        p.init()

    class Failing(MaxGrade):
        name = "failing"

        def compute(self, ctx):
            return 1 / 0

    class Answering(MaxGrade):
        name = "answering"

        def compute(self, ctx):
            return 42

    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [Failing(), Answering()]))
    with p.session() as s:
        with pytest.raises(PluginError, match=r"plugin 'things' failed in KPI 'failing' compute\(\): ZeroDivision"):
            kpis.compute(s, "failing")
        with pytest.raises(PluginError, match=r"KPI 'answering' compute\(\): TypeError: returned int, not a dict"):
            kpis.compute(s, "answering")



@pytest.mark.parametrize("answer, said", [
    ({"value": "high", "n": 3}, "value must be a number or null, not 'high'"),
    ({"value": 1}, "n must be a whole number ≥ 0 (the records measured), not None"),
    ({"value": 1, "n": -2}, "n must be a whole number ≥ 0"),
    ({"value": 1, "n": True}, "n must be a whole number ≥ 0"),
    ({"value": float("nan"), "n": 1}, "value must be a number or null, not nan"),
    ({"value": True, "n": 1}, "value must be a number or null, not True"),
    ({"value": 1, "n": 1, "groups": {"a": 1}}, "groups must be a list, not dict"),
    ({"value": 1, "n": 1, "groups": [{"key": "a", "value": "x", "n": 1}]}, "groups[0] must be"),
    ({"value": 1, "n": 1, "groups": [{"value": 1, "n": 1}]}, "groups[0] must be"),
])
def test_a_python_kpi_answering_the_wrong_shape_names_its_plugin(make_platform, answer, said):
    """Its answer went into the contract's result as it was: "high" reached every client,
    and a value without n read as "no records" without a word."""
    class Shaped(MaxGrade):
        name = "shaped"

        def compute(self, ctx):
            return answer

    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [Shaped()]))
    with p.session() as s, pytest.raises(PluginError) as refused:
        kpis.compute(s, "shaped")
    assert "plugin 'things' failed in KPI 'shaped' compute(): TypeError: returned a result of the wrong shape" \
        in str(refused.value) and said in str(refused.value)


def test_a_python_kpi_may_leave_groups_out_and_count_in_sql_numbers(make_platform):
    from decimal import Decimal

    class Plain(MaxGrade):
        name = "plain"

        def compute(self, ctx):
            return {"value": Decimal("2.5"), "n": Decimal(4)}  # what SQL sums give on PostgreSQL

    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [Plain()]))
    with p.session() as s:
        result = kpis.compute(s, "plain")
    assert (result["value"], result["n"], result["groups"]) == (2.5, 4, [])

# -- Python KPI groups: one order on both engines ------------------------------------------
class OkShare(KPI):
    name = "ok_share"
    entity = "thing"

    def compute(self, ctx):
        ok = ctx.field("thing", "ok")
        return ctx.share("thing", ok.isnot(None), ok == True)  # noqa: E712


class GradeRatio(KPI):
    name = "grade_ratio"

    def compute(self, ctx):
        return ctx.ratio(("thing", func.count(), {"ok": True}), ("thing", func.count()))


def test_python_kpi_groups_come_in_the_same_order_on_both_engines(make_platform):
    # Before: ctx.aggregate ordered in SQL, so the missing key came first on SQLite and last on
    # PostgreSQL (and strings followed the database's collation); ratio() sorted numbers as text.
    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING], xrm_kpis=lambda: [OkShare(), GradeRatio()]))
    with p.session() as s:
        for tag, grade, ok in (("b", 9, True), ("B", 10, False), (None, None, True), ("a", 9, False), ("a", 10, True)):
            s.create("thing", {k: v for k, v in (("tag", tag), ("grade", grade), ("ok", ok)) if v is not None})
        by_tag = kpis.compute(s, "ok_share", by="tag")["groups"]
        assert [g["key"] for g in by_tag] == ["B", "a", "b", None]
        assert [g["value"] for g in by_tag] == [0, 50, 100, 100]
        by_grade = kpis.compute(s, "grade_ratio", by="grade")["groups"]
        assert [(g["key"], g["value"], g["n"]) for g in by_grade] == [(9, 50, 2), (10, 50, 2), (None, 100, 1)]


# -- long relationship-type names ------------------------------------------------------------
LONG = "r" + "x" * 60  # 61 characters: "xrm_rel_tgt_" + it exceeds PostgreSQL's 63


def second_source_accepted(p, rel: str, a: str, b: str, c: str) -> bool:
    """Whether the database (not the check in relate) lets ``a`` and ``b`` both be the source
    of ``c`` by ``rel``; nothing is kept either way."""
    with p.engine.connect() as conn, conn.begin() as tx:
        for i, src in enumerate((a, b)):
            try:
                conn.execute(insert(db.relationships).values(id=f"probe{i}", type=rel, source_id=src, target_id=c,
                                                             created_by=0, created_at=db.utcnow()))
            except IntegrityError:
                assert i == 1, "the first relationship must be accepted"
                tx.rollback()
                return False
        tx.rollback()
        return True


def test_long_relationship_type_names_get_their_own_cardinality_indexes(make_platform):
    # Before: PostgreSQL cut both index names to the same 63 bytes (the second type got no
    # index, and changing the first dropped it); SQLite never dropped the uncut name, so a
    # type made many-to-many kept refusing a second source.
    p = make_platform(Plugin("things", xrm_entity_types=lambda: [THING]))
    with p.connection() as conn:
        for suffix in ("a", "b"):
            relationships.save(conn, {"name": LONG + suffix, "source": "thing", "target": "thing",
                                      "cardinality": "one-to-many"}, {"thing"})
    with p.session() as s:
        a, b, c = (s.create("thing", {"name": n}).id for n in "abc")
    for suffix in ("a", "b"):  # the database itself refuses a second source
        assert not second_source_accepted(p, LONG + suffix, a, b, c)
    with p.connection() as conn:
        relationships.save(conn, {"name": LONG + "a", "source": "thing", "target": "thing",
                                  "cardinality": "many-to-many"}, {"thing"}, replace=True)
    with p.session() as s:
        s.relate(LONG + "a", a, c)
        s.relate(LONG + "a", b, c)
    assert not second_source_accepted(p, LONG + "b", a, b, c)
    with p.connection() as conn:
        relationships.remove(conn, LONG + "b")
        assert not [i for i in inspect(conn).get_indexes("xrm_relationships") if "rxxxxx" in i["name"]]


# -- the hooks together -------------------------------------------------------------------
class Announcer:
    """Declares xrm_thing_made, announces it after a create, and writes through the session."""

    __name__ = "announcer"

    class Specs:
        @staticmethod
        @hookspec
        def xrm_thing_made(thing, session):
            """A thing was created."""

    @hookimpl
    def xrm_addhooks(self, pm):
        pm.add_hookspecs(self.Specs)

    @hookimpl
    def xrm_entity_types(self):
        return [THING]

    @hookimpl
    def xrm_activity_kinds(self):
        return [{"name": "welcome", "label": "Welcome"}]

    @hookimpl
    def xrm_record_event(self, event, record, session):  # fewer arguments than the spec
        if record.type != "thing":
            return
        if event == "before_create":
            record.data["name"] = record.data.get("name", "").strip().title()
            if record.data["name"] == "Refused":
                raise ValidationError("refused", [{"pointer": "/data/name", "message": "no"}])
        if event == "after_create":
            call_all(session.platform.pm, "xrm_thing_made", thing=record, session=session)


class Listener:
    __name__ = "listener"

    @hookimpl(optionalhook=True)
    def xrm_thing_made(self, thing, session):
        if thing.data["name"] == "Crash":
            raise LookupError("listener broke")
        session.log(thing.id, "welcome", "welcomed")


@pytest.mark.parametrize("order", ["listener first", "announcer first"])
def test_a_plugin_hook_answered_by_another_plugin_in_the_same_transaction(make_platform, order):
    plugins = [Listener(), Announcer()] if order == "listener first" else [Announcer(), Listener()]
    p = make_platform(*plugins)
    with p.session() as s:
        t = s.create("thing", {"name": "  ada "})
        assert t.data["name"] == "Ada"
        assert [a["kind"] for a in s.history(t.id)] == ["created", "welcome"]
    with pytest.raises(ValidationError, match="refused"), p.session() as s:
        s.create("thing", {"name": "refused"})
    with pytest.raises(PluginError, match="plugin 'listener' failed in xrm_thing_made: LookupError"), \
            p.session() as s:
        s.create("thing", {"name": "crash"})
    with p.session() as s:
        assert s.count("thing") == 1


def test_an_error_with_malformed_errors_still_prints():
    """A plugin command or KPI raising XrmError with errors of the wrong shape: the CLI
    prints str(e), which crashed (a traceback) on an entry without a message or no dict."""
    e = ValidationError("refused", ["oops", {"pointer": 3}, {"pointer": "/a", "message": "bad"}])
    assert str(e).splitlines() == ["refused", "  /: 'oops'", "  3: ", "  /a: bad"]
