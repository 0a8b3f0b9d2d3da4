"""Acceptance audit 6 of the plugin API: a membership-organisation plugin (members, chapters,
dues payments, events) written from docs/plugins.md alone, its record events run inside
the caller's transaction on every path (create, update, cascaded delete, import with
``--skip-invalid`` and ``--dry-run``), its upgrades, and the definition errors a third-party
integrator meets — each naming the plugin and where, and changing nothing."""
from __future__ import annotations

import json
import types

import pytest
from sqlalchemy import func, inspect, select

from xrm_core import (KPI, Conflict, DefinitionError, PluginError, ValidationError, db, for_types, hookimpl,
                      json_definitions)
from xrm_core.plugins import make_plugin_manager

DATE = {"$ref": "https://xrm.dev/schemas/common.json#/$defs/date"}
MEMBER = {"name": "member", "title_field": "name", "indexes": ["status"], "unique": ["member_no"],
          "schema": {"type": "object", "additionalProperties": False,
                     "properties": {"member_no": {"type": "string"}, "name": {"type": "string"},
                                    "status": {"enum": ["active", "lapsed"]},
                                    "dues_paid_total": {"type": "number"}, "joined": DATE},
                     "required": ["member_no", "name"]}}
CHAPTER = {"name": "chapter", "title_field": "name", "unique": ["code"],
           "schema": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
                      "required": ["code", "name"]}}
DUES = {"name": "dues_payment", "title_field": "reference",
        "schema": {"type": "object", "properties": {"reference": {"type": "string"}, "member_no": {"type": "string"},
                                                    "amount": {"type": "number", "exclusiveMinimum": 0},
                                                    "paid_on": DATE},
                   "required": ["reference", "member_no", "amount", "paid_on"]}}
EVENT = {"name": "event", "title_field": "title",
         "schema": {"type": "object", "properties": {"title": {"type": "string"}, "date": DATE,
                                                     "attendees": {"type": "integer"}},
                    "required": ["title", "date"]}}


class AverageAttendance(KPI):
    name = "average_attendance"
    unit = "people"
    entity = "event"
    time_field = "date"

    def compute(self, ctx):
        n = ctx.field("event", "attendees")
        value, count = ctx.execute(select(func.avg(n), func.count(n)).where(ctx.base("event", time_field="date"))).one()
        return {"value": None if value is None else float(value), "n": count, "groups": []}


class Members:
    """members — membership organisations: members, chapters, dues and events.

    ``member`` is the type as released; a later release passes another one."""

    __name__ = "members"

    def __init__(self, member: dict = MEMBER):
        self.member = member

    @hookimpl
    def xrm_entity_types(self):
        return [self.member, CHAPTER, DUES, EVENT]

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "member_of", "source": "chapter", "target": "member", "cardinality": "one-to-many",
                 "on_delete": "restrict"},
                {"name": "paid", "source": "member", "target": "dues_payment", "cardinality": "one-to-many",
                 "on_delete": "cascade"},
                {"name": "attended_event", "source": "member", "target": "event", "cardinality": "many-to-many"}]

    @hookimpl
    def xrm_activity_kinds(self):
        return [{"name": "renewal_call", "label": "Renewal call",
                 "payload": {"type": "object", "properties": {"outcome": {"enum": ["renewed", "declined"]}},
                             "required": ["outcome"]}}]

    @hookimpl
    def xrm_roles(self):
        return [{"name": "chapter_secretary", "label": "Chapter secretary",
                 "grants": [{"type": "member", "actions": ["read", "create", "update"], "depth": "unit"}]}]

    @hookimpl
    def xrm_kpis(self):
        return [{"name": "active_members", "entity": "member", "where": {"status": "active"},
                 "measure": {"count": True}, "unit": "members"},
                {"name": "dues_collected", "entity": "dues_payment", "time_field": "paid_on",
                 "measure": {"sum": "amount"}, "unit": "EUR"},
                AverageAttendance()]

    @hookimpl
    @for_types("member", "dues_payment")
    def xrm_record_event(self, event, record, changes, session):
        data = record.data
        if record.type == "member" and event in ("before_create", "before_update"):
            data["name"] = " ".join(data["name"].split())          # normalise
            data.setdefault("status", "active")                      # a derived default
            if data["member_no"].startswith("X"):
                raise ValidationError("member numbers never start with X",
                                      [{"pointer": "/data/member_no", "message": "starts with X"}])
        elif record.type == "dues_payment" and event == "after_create":
            found = session.list("member", {"member_no": data["member_no"]})
            if not found:
                raise ValidationError("no such member", [{"pointer": "/data/member_no", "message": "unknown member"}])
            member = found[0]
            session.update(member.id, {"dues_paid_total": member.data.get("dues_paid_total", 0) + data["amount"]})
            session.relate("paid", member.id, record.id)
            if data["reference"] == "CRASH":
                raise KeyError("ledger")
        elif record.type == "dues_payment" and event == "before_delete":
            for member in session.list("member", {"member_no": data["member_no"]}):
                session.update(member.id, {"dues_paid_total": member.data["dues_paid_total"] - data["amount"]})
        elif record.type == "dues_payment" and event == "after_delete" and data["reference"] == "LAST":
            raise RuntimeError("archive offline")


def _rows(platform) -> dict:
    """Every row the plugin's writes can touch, to compare before and after a refusal."""
    with platform.session(write=False) as s:
        return {t.name: sorted(map(repr, s.conn.execute(select(t)).all()))
                for t in (db.records, db.relationships, db.activities, db.entity_types)}


def _member(platform, no):
    with platform.session(write=False) as s:
        return s.list("member", {"member_no": no})[0]


@pytest.fixture
def make_platform(db_url):
    """Like conftest's, but plugins are given as ``{entry-point name: plugin}``, the way the
    guide's tests register them (so that messages name ``members``, as once installed)."""
    from xrm_core import Platform
    made = []

    def make(plugins: dict, init=True):
        p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False, plugins=plugins))
        made.append(p)
        if init:
            p.init(admin_password="secret")
        return p

    yield make
    for p in made:
        p.dispose()


@pytest.fixture
def members(make_platform):
    return make_platform({"members": Members()})


# -- record events --------------------------------------------------------------------------
def test_hooks_normalise_refuse_and_write_other_records_in_the_same_transaction(members):
    with members.session() as s:
        ada = s.create("member", {"member_no": "M1", "name": "  Ada   Lovelace "})
        assert ada.data == {"member_no": "M1", "name": "Ada Lovelace", "status": "active"}
        pay = s.create("dues_payment", {"reference": "R1", "member_no": "M1", "amount": 25, "paid_on": "2025-01-02"})
        assert s.get(ada.id).data["dues_paid_total"] == 25
        assert [r["record"].id for r in s.related(ada.id, rel="paid")] == [pay.id]
        assert s.kpi("dues_collected")["value"] == 25
    before = _rows(members)
    with pytest.raises(ValidationError) as e:
        with members.session() as s:
            s.create("member", {"member_no": "X1", "name": "Eve"})
    assert (e.value.message, e.value.errors) == (
        "member numbers never start with X", [{"pointer": "/data/member_no", "message": "starts with X"}])
    # An after_create that refuses once it wrote the member and related it: all undone.
    with pytest.raises(ValidationError, match="no such member"):
        with members.session() as s:
            s.create("dues_payment", {"reference": "R2", "member_no": "M9", "amount": 5, "paid_on": "2025-01-03"})
    with pytest.raises(PluginError) as crash:
        with members.session() as s:
            s.create("dues_payment", {"reference": "CRASH", "member_no": "M1", "amount": 5, "paid_on": "2025-01-03"})
    assert crash.value.message == "plugin 'members' failed in xrm_record_event(after_create): KeyError: 'ledger'"
    assert _rows(members) == before


def test_a_cascaded_delete_rolls_back_what_the_cascaded_hooks_wrote_when_a_later_hook_fails(members):
    with members.session() as s:
        ada = s.create("member", {"member_no": "M1", "name": "Ada"}).id
        for ref, amount in (("R1", 10), ("LAST", 5)):
            s.create("dues_payment", {"reference": ref, "member_no": "M1", "amount": amount, "paid_on": "2025-01-02"})
    before = _rows(members)
    # The payments go with the member (cascade); the second one's after_delete fails after
    # the first one's before_delete lowered the member's total.
    with pytest.raises(PluginError, match=r"^plugin 'members' failed in xrm_record_event\(after_delete\): "
                                          r"RuntimeError: archive offline$"):
        with members.session() as s:
            s.delete(ada)
    assert _rows(members) == before
    assert _member(members, "M1").data["dues_paid_total"] == 15


def _csv(tmp_path, text):
    path = tmp_path / "dues.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


DUES_CSV = ("reference,member_no,amount,paid_on\n"
            "R1,M1,5,2025-02-01\n"
            "R2,M9,5,2025-02-01\n"      # refused by after_create: its before/after writes go too
            "R3,M1,7,2025-02-01\n")


@pytest.mark.parametrize("flags", [["--dry-run"], ["--skip-invalid", "--dry-run"], []])
def test_an_import_that_imports_nothing_leaves_nothing_the_hooks_wrote(members, cli, tmp_path, flags):
    with members.session() as s:
        s.create("member", {"member_no": "M1", "name": "Ada"})
    before = _rows(members)
    result = cli("import", "dues_payment", _csv(tmp_path, DUES_CSV), "--json", *flags, plugins={"members": Members()})
    report = json.loads(result.stdout)
    assert report["invalid"] == [{"line": 3, "errors": [{"pointer": "/member_no", "message": "unknown member"}]}]
    assert report["imported"] == 0
    assert _rows(members) == before


def test_skip_invalid_keeps_the_valid_rows_and_what_their_hooks_wrote_only(members, cli, tmp_path):
    with members.session() as s:
        s.create("member", {"member_no": "M1", "name": "Ada"})
    result = cli("import", "dues_payment", _csv(tmp_path, DUES_CSV), "--skip-invalid", "--json",
                 plugins={"members": Members()})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2
    member = _member(members, "M1")
    # Each row's hook saw the total the previous row left.
    assert (member.data["dues_paid_total"], member.version) == (12, 3)
    with members.session(write=False) as s:
        assert sorted(r["record"].data["reference"] for r in s.related(member.id, rel="paid")) == ["R1", "R3"]


def test_the_order_of_several_plugins_hooks_is_set_by_tryfirst_and_trylast(make_platform):
    calls = []

    def listener(name, **marks):
        class Listener:
            __name__ = name

            @staticmethod
            @hookimpl(**marks)
            @for_types("member")
            def xrm_record_event(event, record):
                if event == "before_create":
                    calls.append(name)
        return Listener()

    # Registered a, z, m: pluggy calls the last registered first unless marked.
    platform = make_platform({"members": Members(), "a_last": listener("a_last", trylast=True),
                              "z_first": listener("z_first", tryfirst=True), "m_plain": listener("m_plain")})
    with platform.session() as s:
        s.create("member", {"member_no": "M1", "name": "Ada"})
    assert calls == ["z_first", "m_plain", "a_last"]


# -- lifecycle -------------------------------------------------------------------------------
def test_an_incompatible_release_is_refused_with_ids_and_pointers_and_changes_nothing(members, make_platform):
    with members.session() as s:
        ada = s.create("member", {"member_no": "M1", "name": "Ada"}).id
    before = _rows(members)
    v2 = {**MEMBER, "schema": {**MEMBER["schema"], "required": ["member_no", "name", "joined"]}}
    upgraded = make_platform({"members": Members(v2)}, init=False)
    with pytest.raises(ValidationError) as e:
        upgraded.init()
    assert e.value.message.startswith("plugin 'members', entity type #0 (member): type change refused: "
                                      "1 of 1 stored member records would become invalid")
    assert e.value.errors[0]["pointer"] == f"/records/{ada}/data/joined"
    assert _rows(members) == before
    # A unique key over values stored twice is refused the same way.
    with members.session() as s:
        s.create("chapter", {"code": "N", "name": "North"})
        s.create("chapter", {"code": "S", "name": "North"})
    before = _rows(members)
    chapters = {**CHAPTER, "unique": ["code", "name"]}

    class V3(Members):
        def xrm_entity_types(self):
            return [MEMBER, chapters, DUES, EVENT]
    V3.xrm_entity_types = hookimpl(V3.xrm_entity_types)
    with pytest.raises(Conflict, match=r"^plugin 'members', entity type #1 \(chapter\): cannot make name "
                                       r"unique"):
        make_platform({"members": V3()}, init=False).init()
    assert _rows(members) == before


# -- definition errors -----------------------------------------------------------------------
@pytest.mark.parametrize("rel, text, expected", [
    ("types/member.json", '{"name": "member",\n "schema": {"type": "object",}\n}',
     "types/member.json: invalid JSON at line 2, column 30"),
    ("roles.json", '{"name": "secretary"}', "roles.json: must hold an array"),
])
def test_a_bad_definition_file_names_the_plugin_the_file_and_the_line(make_package, make_platform, rel, text,
                                                                      expected):
    pkg = make_package({"types/chapter.json": CHAPTER, rel: text})
    module = types.ModuleType(f"{pkg}.plugin")
    vars(module).update(json_definitions(pkg))
    platform = make_platform({"members": module}, init=False)
    with pytest.raises(DefinitionError) as e:
        platform.init(admin_password="secret")
    # Was "testpkg_…: types/member.json: …": the package, not the plugin users know and
    # XRM_DISABLE_PLUGINS takes.
    assert e.value.message.startswith(f"plugin 'members': {pkg}: {expected}")
    assert [t for t in inspect(platform.engine).get_table_names() if t.startswith("xrm_")] == []


class Bad:
    """A plugin whose hooks return what the test gives."""

    __name__ = "bad"

    def __init__(self, **results):
        for hook, result in results.items():
            setattr(self, hook, hookimpl(lambda result=result: result))

    @hookimpl
    def xrm_entity_types(self):
        return [MEMBER]


@pytest.mark.parametrize("results, message, pointer", [
    # A single role returned bare was read as its keys: "role must be a JSON object".
    ({"xrm_roles": {"name": "secretary", "grants": []}},
     "plugin 'bad': xrm_roles() must return a list of definitions, not dict", ""),
    # A generator was taken for roles but refused for every other definition hook.
    ({"xrm_roles": (r for r in [])}, "plugin 'bad': xrm_roles() must return a list of definitions, not generator",
     ""),
    # Which kind's payload: the error named none.
    ({"xrm_activity_kinds": [{"name": "call", "label": "Call"},
                             {"name": "visit", "label": "Visit", "payload": {"type": "objekt"}}]},
     "plugin 'bad', activity kind #1 (visit): schema is not valid JSON Schema 2020-12", "/payload/type"),
    ({"xrm_activity_kinds": ["call"]}, "plugin 'bad', activity kind #0: activity kind must be a JSON object", ""),
    # Was '/name: {"enum":["created",…]} is not allowed for "created"'.
    ({"xrm_activity_kinds": [{"name": "imported", "label": "Imported"}]},
     "plugin 'bad', activity kind #0 (imported): activity kind 'imported' is the core's own: choose another name",
     "/name"),
    # Which of the plugin's relationship types: one without a name said nothing.
    ({"xrm_relationship_types": [{"name": "knows", "source": "member", "target": "member",
                                  "cardinality": "many-to-many"}, "member_of"]},
     "plugin 'bad', relationship type #1: relationship type must be a JSON object", ""),
    ({"xrm_roles": [{"name": "desk", "grants": [{"type": "member", "actions": ["read"], "depth": "region"}]}]},
     "plugin 'bad', role #0 (desk): ", "/grants/0/depth"),
    ({"xrm_roles": [{"name": "desk", "grants": [{"type": "membr", "actions": ["read"], "depth": "all"}]}]},
     "plugin 'bad': role 'desk' grants on unknown entity type", "/grants/0/type"),
    ({"xrm_kpis": [{"name": "dues", "entity": "member", "measure": {"sum": "amount"}}]},
     "plugin 'bad': KPI 'dues' names a field member does not have", "/measure/sum"),
])
def test_a_malformed_definition_names_the_plugin_and_where_and_changes_nothing(make_platform, results, message,
                                                                               pointer):
    platform = make_platform({"bad": Bad(**results)}, init=False)
    with pytest.raises(DefinitionError) as e:
        platform.init(admin_password="secret")
    assert e.value.message.startswith(message)
    assert e.value.errors[0]["pointer"] == pointer
    assert [t for t in inspect(platform.engine).get_table_names() if t.startswith("xrm_")] == []


def test_the_definition_errors_reach_cli_users_without_a_traceback(cli):
    result = cli("init", plugins={"bad": Bad(xrm_roles={"name": "secretary", "grants": []})})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: plugin 'bad': xrm_roles() must return a list of definitions, not dict")
    assert "Traceback" not in result.stderr


class Reassigning:
    """Sets record.owner in every event and record.unit in every event but before_create:
    neither is stored (docs/plugins.md), so neither may show in what callers and later hooks
    get."""

    __name__ = "reassigning"

    def __init__(self):
        self.seen = []

    @hookimpl
    def xrm_entity_types(self):
        return [MEMBER]

    @hookimpl(trylast=True)
    def xrm_record_event(self, event, record):
        self.seen.append((event, record.owner, record.unit))
        record.owner = "intruder"
        if event not in ("before_create", "before_update"):  # those two may move the record
            record.unit = "north"


def test_a_change_of_owner_or_unit_that_is_not_stored_is_not_returned_either(make_platform):
    plugin = Reassigning()
    platform = make_platform({"reassigning": plugin})
    with platform.session() as s:
        s.create_unit("north")
        created = s.create("member", {"member_no": "M1", "name": "Ada"})
        # Was owner "intruder": the record returned is the one stored.
        assert (created.owner, created.unit) == ("admin", "root")
        updated = s.update(created.id, {"name": "Ada L"})
        assert (updated.owner, updated.unit) == ("admin", "root")
        assert (s.get(created.id).owner, s.get(created.id).unit) == ("admin", "root")
        s.delete(created.id)
    assert plugin.seen == [(event, "admin", "root") for event in
                           ("before_create", "after_create", "before_update", "after_update", "before_delete",
                            "after_delete")]


def test_a_plugin_kpi_hiding_an_admins_kpi_of_the_same_name_is_warned_about(make_platform, db_url):
    from xrm_core import kpis
    admin_only = make_platform({})
    with admin_only.connection() as conn:
        from xrm_core import entity_types
        entity_types.add(conn, MEMBER)
        kpis.add(admin_only, conn, {"name": "active_members", "entity": "member", "measure": {"count": True}})
    # The plugin installed later declares the name: its KPI is the one computed from now on.
    report = make_platform({"members": Members()}, init=False).init()
    assert [w for w in report["warnings"] if "active_members" in w] == [
        "KPI 'active_members' of plugin 'members' hides the one added by admin under the same name (its "
        "definition is kept: `xrm kpi remove active_members` drops it, then add it again under another name)"]
    assert not [w for w in report["warnings"] if "dues_collected" in w]


def test_create_many_names_the_row_a_hook_failed_on(members):
    with members.session() as s:
        s.create("member", {"member_no": "M1", "name": "Ada"})
    before = _rows(members)
    rows = [{"reference": f"R{i}", "member_no": "M1", "amount": 1, "paid_on": "2025-01-02"} for i in range(3)]
    rows[2]["reference"] = "CRASH"
    with pytest.raises(PluginError) as e:
        with members.session() as s:
            s.create_many("dues_payment", rows)
    # Was "… after_create) on line 2 of : KeyError": create_many reads no file.
    assert e.value.message == "plugin 'members' failed in xrm_record_event(after_create) on row 2: KeyError: 'ledger'"
    rows[2] = {**rows[2], "reference": "R2", "member_no": "X"}
    with pytest.raises(ValidationError) as refused:
        with members.session() as s:
            s.create_many("dues_payment", rows)
    assert (refused.value.message, refused.value.errors) == (
        "1 dues_payment row is invalid (nothing created)",      # was "1 dues_payment rows are"
        [{"pointer": "/rows/2/member_no", "message": "unknown member"}])
    assert _rows(members) == before


def test_installed_plugins_hooks_run_last_registered_first_as_the_guide_says(monkeypatch):
    """Entry points load in name order; pluggy calls the last registered first."""
    from xrm_core import plugins as plugin_module

    class EntryPoint:
        def __init__(self, name):
            self.name, self.value, self.dist = name, f"audit6_{name}", None

        def load(self):
            return types.SimpleNamespace(__name__=self.value, xrm_record_event=hookimpl(lambda event: None))

    monkeypatch.setattr(plugin_module, "entry_points",
                        lambda group: [EntryPoint("voc"), EntryPoint("crm"), EntryPoint("members")])
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    from xrm_core import Platform
    platform = Platform("sqlite://", pm=make_plugin_manager(load_entry_points=True))
    try:
        assert [name for name, _ in platform.record_event_impls("member")] == ["voc", "members", "crm"]
    finally:
        platform.dispose()


class Renamed(Members):
    """A release that renames ``event`` to ``gathering`` and drops its Python KPI."""

    @hookimpl
    def xrm_entity_types(self):
        return [MEMBER, CHAPTER, DUES, {**EVENT, "name": "gathering"}]

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "attended_event", "source": "member", "target": "gathering", "cardinality": "many-to-many"}]

    @hookimpl
    def xrm_kpis(self):
        return [k for k in super().xrm_kpis() if isinstance(k, dict)]


def test_a_rename_keeps_the_old_type_and_its_records_and_uninstalling_keeps_everything(members, make_platform):
    from xrm_core import NotFound
    with members.session() as s:
        gala = s.create("event", {"title": "Gala", "date": "2025-03-01", "attendees": 40}).id
        ada = s.create("member", {"member_no": "M1", "name": "Ada"}).id
        s.relate("attended_event", ada, gala)
        assert s.kpi("average_attendance")["value"] == 40
    # A stored relationship links an event, which the new target refuses: init fails.
    with pytest.raises(Conflict, match=r"^plugin 'members': .*attended_event"):
        make_platform({"members": Renamed()}, init=False).init()
    with members.session() as s:
        s.unrelate(s.related(ada, rel="attended_event")[0]["relationship"]["id"])
    report = make_platform({"members": Renamed()}, init=False).init()
    assert report["types_added"] == ["gathering"]
    renamed = make_platform({"members": Renamed()}, init=False)
    with renamed.session() as s:
        assert s.get(gala).type == "event"                  # never dropped nor moved
        with pytest.raises(NotFound, match="unknown KPI 'average_attendance'"):
            s.kpi("average_attendance")
    # Uninstalled: types and records stay, the hooks no longer run.
    gone = make_platform({}, init=False)
    gone.init()
    with gone.session() as s:
        assert s.get(ada).data["name"] == "Ada"
        assert s.create("member", {"member_no": "X1", "name": "  Eve "}).data == {"member_no": "X1", "name": "  Eve "}
        with pytest.raises(NotFound, match="unknown KPI 'active_members'"):
            s.kpi("active_members")


class Refusing:
    """Refuses every member with the ValidationError its ``errors`` argument makes."""

    __name__ = "refusing"

    def __init__(self, errors):
        self.errors = errors

    @hookimpl
    def xrm_entity_types(self):
        return [MEMBER]

    @hookimpl
    @for_types("member")
    def xrm_record_event(self, event):
        if event == "before_create":
            raise ValidationError("members are closed", self.errors)


@pytest.mark.parametrize("errors, why", [
    ("oops", "errors[0] is str 'o', not a {\"pointer\", \"message\"} object"),   # a string read as its letters
    ([{"pointer": 5, "message": "x"}], "errors[0]['pointer'] is int 5, not a string"),
    ([{"pointer": "name", "message": "x"}], "errors[0]['pointer'] 'name' is no JSON pointer (one starts with '/')"),
])
def test_a_refusal_with_malformed_errors_is_the_plugins_failure_not_a_traceback(make_platform, cli, tmp_path, errors,
                                                                                why):
    platform = make_platform({"refusing": Refusing(errors)})
    expected = (f"plugin 'refusing' failed in xrm_record_event(before_create): TypeError: "
                f"ValidationError('members are closed') raised with malformed errors: {why}")
    with pytest.raises(PluginError) as e:
        with platform.session() as s:
            s.create("member", {"member_no": "M1", "name": "Ada"})
    assert e.value.message == expected
    # Was an AttributeError traceback (records create) or "error: AttributeError: 'str'
    # object has no attribute 'get'" naming nobody (import).
    result = cli("records", "create", "member", "--data", '{"member_no": "M1", "name": "Ada"}',
                 plugins={"refusing": Refusing(errors)})
    assert (result.exit_code, result.stderr) == (1, f"error: {expected}\n")
    path = tmp_path / "members.csv"
    path.write_text("member_no,name\nM1,Ada\n", encoding="utf-8")
    result = cli("import", "member", str(path), plugins={"refusing": Refusing(errors)})
    assert result.exit_code == 1
    on_line = expected.replace("(before_create)", "(before_create) on line 2 of members.csv")
    assert result.stderr == f"error: {on_line}\n"


def test_a_refusal_without_pointer_or_message_is_completed_not_refused(make_platform):
    platform = make_platform({"refusing": Refusing([{"pointer": "/data/name"}, {"message": "closed today"}])})
    with pytest.raises(ValidationError) as e:
        with platform.session() as s:
            s.create("member", {"member_no": "M1", "name": "Ada"})
    assert e.value.errors == [{"pointer": "/data/name", "message": "members are closed"},
                              {"pointer": "", "message": "closed today"}]
