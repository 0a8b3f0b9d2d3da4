"""Translated enum values (``value_labels``): the meta-schema, the definition check with its
pointers, the UI showing labels in the user's language (list cells, record page, timeline
diffs, select options) while forms, stored data and CSV keep the raw values, and the
built-in plugins labelling every value they declare."""
from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from xrm_core import db, entity_types
from xrm_core.entity_types import EntityType
from xrm_core.errors import DefinitionError
from xrm_core.plugins import hookimpl
from xrm_core.validation import check_definition

from test_ui_support import Browser, text

ROOT = Path(__file__).parents[2]

TICKET = {
    "name": "ticket", "label": {"en": "Ticket", "fa": "تیکت", "zh": "工单"}, "title_field": "title",
    "field_labels": {"status": {"en": "Status", "fa": "وضعیت", "zh": "状态"}},
    "value_labels": {
        "status": {"open": {"en": "Open", "fa": "باز", "zh": "待处理"},
                   "in_progress": {"en": "In progress", "fa": "در حال انجام", "zh": "处理中"},
                   "closed": "Closed"},
        "level": {"1": {"en": "Low", "fa": "کم"}, "3": {"en": "High", "fa": "زیاد"}},
        "urgent": {"true": {"en": "Urgent", "fa": "فوری"}},
    },
    "schema": {"type": "object", "required": ["title"], "properties": {
        "title": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "in_progress", "closed"]},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "urgent": {"type": "boolean"},
    }},
}


class TicketPlugin:
    __name__ = "tickets"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [copy.deepcopy(TICKET)]


@pytest.fixture
def app(make_platform):
    p = make_platform(TicketPlugin())
    b = Browser(p)
    b.login()
    return p, b


def _with(**labels) -> dict:
    d = copy.deepcopy(TICKET)
    d["value_labels"] = labels
    return d


# -- the meta-schema -----------------------------------------------------------------
@pytest.mark.parametrize("labels", [
    {},
    {"status": {}},
    {"status": {"open": "Open"}},
    {"status": {"open": {"en": "Open", "fa": "باز", "zh": "待处理"}}},
    {"level": {"1": {"en": "Low"}}},
])
def test_the_meta_schema_takes_value_labels(labels):
    check_definition("entity-type.schema.json", _with(**labels), "entity type")


@pytest.mark.parametrize("labels, where", [
    ({"status": "Open"}, "/value_labels/status"),
    ({"status": ["open"]}, "/value_labels/status"),
    ({"status": {"open": ""}}, "/value_labels/status/open"),
    ({"status": {"open": {}}}, "/value_labels/status/open"),
    ({"status": {"open": {"en": 1}}}, "/value_labels/status/open"),
    ({"status": {"open": {"EN!": "Open"}}}, "/value_labels/status/open"),
])
def test_the_meta_schema_refuses_malformed_value_labels(labels, where):
    with pytest.raises(DefinitionError) as e:
        check_definition("entity-type.schema.json", _with(**labels), "entity type")
    assert any(err["pointer"].startswith(where) for err in e.value.errors), e.value.errors


def test_value_labels_must_be_an_object():
    d = copy.deepcopy(TICKET)
    d["value_labels"] = ["status"]
    with pytest.raises(DefinitionError) as e:
        check_definition("entity-type.schema.json", d, "entity type")
    assert any(err["pointer"] == "/value_labels" for err in e.value.errors), e.value.errors


# -- the definition check --------------------------------------------------------------
def test_the_check_refuses_values_a_field_cannot_hold_with_their_pointers():
    d = _with(status={"opn": "Open", "closed": "Closed"}, level={"1": "Low", "4": "Too high", "one": "?"},
              nope={"x": "y"})
    with pytest.raises(DefinitionError) as e:
        EntityType(d).check_value_labels()
    assert sorted(err["pointer"] for err in e.value.errors) == [
        "/value_labels/level/4", "/value_labels/level/one", "/value_labels/nope", "/value_labels/status/opn"]
    assert "'opn' is not one of the values of 'status'" in {err["message"] for err in e.value.errors}


def test_the_check_takes_labels_of_fields_without_an_enum_and_of_const_values():
    d = copy.deepcopy(TICKET)
    d["schema"]["properties"]["kind"] = {"const": "bug"}
    d["value_labels"].update(title={"anything": "Anything"}, kind={"bug": {"en": "Bug", "fa": "اشکال"}},
                             urgent={"true": "Urgent", "false": "Not urgent"})
    EntityType(d).check_value_labels()
    d["value_labels"]["kind"] = {"feature": "Feature"}
    with pytest.raises(DefinitionError) as e:
        EntityType(d).check_value_labels()
    assert [err["pointer"] for err in e.value.errors] == ["/value_labels/kind/feature"]


def test_a_pointer_escapes_slashes_and_tildes():
    d = copy.deepcopy(TICKET)
    d["schema"]["properties"]["a/b"] = {"enum": ["x"]}
    d["value_labels"] = {"a/b": {"~y": "Y"}}
    with pytest.raises(DefinitionError) as e:
        EntityType(d).check_value_labels()
    assert [err["pointer"] for err in e.value.errors] == ["/value_labels/a~1b/~0y"]


def test_types_add_and_update_refuse_a_label_for_an_unknown_value(make_platform):
    p = make_platform()
    bad = _with(status={"opn": "Open"})
    with p.connection() as conn:
        with pytest.raises(DefinitionError) as e:
            entity_types.add(conn, bad)
        assert [err["pointer"] for err in e.value.errors] == ["/value_labels/status/opn"]
        entity_types.add(conn, TICKET)
        with pytest.raises(DefinitionError):
            entity_types.update(conn, bad, dry_run=True)
        with pytest.raises(DefinitionError):
            entity_types.update(conn, bad)
        assert entity_types.get(conn, "ticket").definition["value_labels"] == TICKET["value_labels"]


# -- the UI ----------------------------------------------------------------------------
def test_a_persian_page_shows_labels_and_keeps_the_raw_values(app):
    p, b = app
    with p.session() as s:
        rec = s.create("ticket", {"title": "Brakes", "status": "in_progress", "level": 3, "urgent": True})
        s.create("ticket", {"title": "Wipers", "status": "open", "level": 2})
    b.post("/lang", {"lang": "fa", "next": "/"})

    page = text(b.get("/r/ticket"))
    assert "<td>در حال انجام</td>" in page and "<td>باز</td>" in page
    assert "<td>زیاد</td>" in page and "<td>فوری</td>" in page
    # A value without a label is shown as it is, a number in the page's digits (web/ui/i18n.py).
    assert "<td>۲</td>" in page
    assert "in_progress" not in page

    page = text(b.get(f"/r/ticket/{rec.id}"))
    fields = page[page.index('class="fields"'):page.index('class="related"')]
    assert "<dd>در حال انجام</dd>" in fields and "<dd>زیاد</dd>" in fields and "<dd>فوری</dd>" in fields

    page = text(b.get("/r/ticket/new"))
    assert '<option value="in_progress">در حال انجام</option>' in page
    assert '<option value="closed">Closed</option>' in page  # a plain string label
    # An option without a label shows its number in the page's digits; its value stays.
    assert '<option value="3">زیاد</option>' in page and '<option value="2">۲</option>' in page

    r = b.post("/r/ticket/new", {"title": "Horn", "status": "in_progress", "level": "1"})
    assert r.status_code == 302, text(r)
    new_id = r.headers["Location"].rsplit("/", 1)[1]
    with p.session() as s:
        assert s.get(new_id).data == {"title": "Horn", "status": "in_progress", "level": 1}

    page = text(b.get(f"/r/ticket/{new_id}/edit"))
    assert '<option value="in_progress" selected>در حال انجام</option>' in page
    r = b.post(f"/r/ticket/{new_id}/edit", {"version": "1", "title": "Horn", "status": "closed", "level": "1"})
    assert r.status_code == 302, text(r)
    with p.session() as s:
        assert s.get(new_id).data == {"title": "Horn", "status": "closed", "level": 1}

    # The timeline's diff shows the labels of the old and the new value.
    page = text(b.get(f"/r/ticket/{new_id}"))
    timeline = page[page.index('id="timeline"'):]
    assert '<td class="old">در حال انجام</td>' in timeline and '<td class="new">Closed</td>' in timeline


def test_other_languages_and_the_fallbacks(app):
    p, b = app
    with p.session() as s:
        rec = s.create("ticket", {"title": "Brakes", "status": "in_progress", "level": 1})
    page = text(b.get(f"/r/ticket/{rec.id}"))
    assert "<dd>In progress</dd>" in page and "<dd>Low</dd>" in page
    b.post("/lang", {"lang": "zh", "next": "/"})
    page = text(b.get(f"/r/ticket/{rec.id}"))
    assert "<dd>处理中</dd>" in page and "<dd>Low</dd>" in page  # no zh label: the English one


def test_csv_export_and_the_api_keep_raw_values(app):
    p, b = app
    with p.session() as s:
        s.create("ticket", {"title": "Brakes", "status": "in_progress", "level": 3})
    b.post("/lang", {"lang": "fa", "next": "/"})
    r = b.get("/r/ticket/export.csv")
    rows = list(csv.DictReader(io.StringIO(text(r).lstrip("\ufeff"))))
    assert rows[0]["status"] == "in_progress" and rows[0]["level"] == "3"
    assert "در حال انجام" not in text(r)


def test_a_label_is_text_not_markup(make_platform):
    d = copy.deepcopy(TICKET)
    d["value_labels"]["status"]["open"] = "<b>Open</b>"

    class Plugin:
        __name__ = "tickets"

        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [d]
    p = make_platform(Plugin())
    with p.session() as s:
        rec = s.create("ticket", {"title": "Brakes", "status": "open"})
    b = Browser(p)
    b.login()
    for path in ("/r/ticket", f"/r/ticket/{rec.id}", "/r/ticket/new"):
        page = text(b.get(path))
        assert "&lt;b&gt;Open&lt;/b&gt;" in page and "<b>Open" not in page, path


def test_a_filter_still_takes_the_raw_value(app):
    p, b = app
    with p.session() as s:
        s.create("ticket", {"title": "Brakes", "status": "in_progress"})
        s.create("ticket", {"title": "Wipers", "status": "open"})
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get("/r/ticket?ff=status&fo=eq&fv=in_progress"))
    assert ">Brakes<" in page and ">Wipers<" not in page


# -- the built-in plugins ----------------------------------------------------------------
def _plugin_types():
    return sorted(ROOT.glob("plugins/*/types/*.json"))


@pytest.mark.parametrize("path", _plugin_types(), ids=lambda p: p.stem)
def test_every_enum_value_of_a_built_in_type_has_en_fa_zh_labels(path):
    d = json.loads(path.read_text())
    et = EntityType(d)
    et.check_value_labels()
    missing = []
    for name, sub in et.properties().items():
        if not isinstance(sub, dict) or not (isinstance(sub.get("enum"), list) or "const" in sub):
            continue
        values = sub["enum"] if isinstance(sub.get("enum"), list) else [sub["const"]]
        labels = d.get("value_labels", {}).get(name, {})
        for v in values:
            key = v if isinstance(v, str) else json.dumps(v)
            label = labels.get(key)
            if not (isinstance(label, dict) and all(isinstance(label.get(lang), str) and label[lang].strip()
                                                    for lang in ("en", "fa", "zh"))):
                missing.append(f"{name}={key}")
    assert not missing, f"{d['name']}: values without en/fa/zh labels: {missing}"


def test_init_upgrades_a_database_whose_built_in_types_have_no_value_labels(make_platform):
    """A database made before value_labels: `xrm init` applies the plugins' labelled types
    (an impact check over the stored records), once."""
    import xrm_crm
    import xrm_prm_dealers
    import xrm_voc
    import xrm_vrm_suppliers
    plugins = (xrm_crm, xrm_prm_dealers, xrm_vrm_suppliers, xrm_voc)
    p = make_platform(*plugins)
    with p.session() as s:
        case = s.create("case", {"kind": "complaint", "subject": "brake noise", "channel": "phone"})
    labelled = []
    with p.connection() as conn:
        # As an older release stored them: the same types, every version without labels.
        for name, et in sorted(entity_types.load_all(conn).items()):
            if "value_labels" in et.definition:
                old = {k: v for k, v in et.definition.items() if k != "value_labels"}
                for table in (db.entity_types, db.entity_type_versions):
                    conn.execute(update(table).where(table.c.name == name).values(definition=old))
                labelled.append(name)
    assert len(labelled) == 20
    report = make_platform(*plugins, init=False).init()
    assert sorted(report["types_updated"]) == labelled and report["types_kept"] == []
    with p.connection() as conn:
        assert all("value_labels" in entity_types.get(conn, n).definition for n in labelled)
    assert make_platform(*plugins, init=False).init()["types_updated"] == []
    with p.session() as s:
        assert s.get(case.id).data["kind"] == "complaint"
