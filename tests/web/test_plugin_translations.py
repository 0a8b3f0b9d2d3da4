"""Plugins' own translations: the text a plugin declares (labels, a KPI's description and
unit, JSON Schema titles and descriptions of fields) is shown by the admin UI in the user's
language from the declaring plugin's gettext catalogue, and as declared where there is none.

- the built-in plugins' pages in Persian and Chinese (dashboard cards with units, type lists
  and forms, relationship and activity-kind labels, roles), English staying English;
- a third-party plugin built here (extracted with its babel.cfg, compiled with Babel's API)
  translated on every page, its text unchanged in the REST API; the same plugin without
  catalogues falling back to its strings; a broken catalogue ignored;
- every text the built-in plugins declare has a fa and a zh translation (fails when a plugin
  adds an untranslated label), their babel.cfg extracts exactly that, and the compiled
  catalogues are package data;
- catalogues are read once per process and language.
"""
from __future__ import annotations

import importlib
import json
import sys
import textwrap
import tomllib
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from xrm_core import accounts
from xrm_core.web.ui import plugin_catalogues
from xrm_core.web.ui.plugin_texts import catalogue_id, plugin_texts

from test_ui_support import Browser, text

ROOT = Path(__file__).parents[2]
BUILT_IN = {"crm": "xrm_crm", "prm_dealers": "xrm_prm_dealers", "vrm_suppliers": "xrm_vrm_suppliers",
            "voc": "xrm_voc"}


@pytest.fixture(autouse=True)
def fresh_catalogues():
    """Catalogues are cached per process: each test starts (and leaves) with none read."""
    plugin_catalogues.catalogue.cache_clear()
    yield
    plugin_catalogues.catalogue.cache_clear()


def _browser(platform, lang: str) -> Browser:
    b = Browser(platform)
    b.login()
    b.post("/lang", {"lang": lang, "next": "/"})
    return b


# -- the built-in plugins -------------------------------------------------------------------
@pytest.fixture
def automotive(make_platform):
    """The four built-in plugins, with a customer owning a vehicle and a logged call."""
    p = make_platform(entry_points=True)
    with p.session() as s:
        customer = s.create("customer", {"name": "Sara Ahmadi"})
        vehicle = s.create("vehicle", {"vin": "NAAM11CA9JK000123", "model": "Dena"})
        s.relate("customer_owns_vehicle", customer.id, vehicle.id)
        s.log(customer.id, "call", "asked about the next service")
    return p, customer.id


def test_builtin_dashboard_says_kpi_descriptions_and_units_in_the_users_language(automotive):
    p, _ = automotive
    pages = {lang: text(_browser(p, lang).get("/")) for lang in ("fa", "zh", "en")}
    # A Python KPI's unit and description (crm), a kpis.json description (voc).
    assert "به ازای هر ۱۰۰ پذیرش" in pages["fa"] and "每百次接待" in pages["zh"]
    assert "per 100 receptions" not in pages["fa"] and "per 100 receptions" not in pages["zh"]
    assert "شکایات خدمات پس از فروش به ازای هر ۱۰۰ پذیرش خدمات" in pages["fa"]
    assert "每百次维修接待的售后投诉数" in pages["zh"]
    assert "روی پاسخ‌های NPS داده‌شده در دوره" in pages["fa"] and "基于统计期内的 NPS 答卷" in pages["zh"]
    assert "Average hours from opening to closing a complaint" not in pages["fa"] + pages["zh"]
    # English stays as the plugins declare it.
    assert "per 100 receptions" in pages["en"] and "Average hours from opening to closing a complaint" in pages["en"]
    assert "به ازای هر" not in pages["en"] and "每百次" not in pages["en"]


def test_builtin_lists_forms_relationships_kinds_and_roles_in_fa_and_zh(automotive):
    p, customer = automotive
    fa, zh, en = (_browser(p, lang) for lang in ("fa", "zh", "en"))
    assert "شماره شاسی (VIN)" in text(fa.get("/r/vehicle")) and "车架号(VIN)" in text(zh.get("/r/vehicle"))
    form = text(fa.get("/r/case/new"))
    assert "شماره پرونده" in form and "اولویت" in form and "فوری" in form  # field and value labels
    # A description of the platform's common schemas (customer_id is a record_ref): the core's catalogue.
    assert "شناسه یک رکورد دیگر." in form and "Id of another record." not in form
    assert "另一条记录的 ID。" in text(zh.get("/r/case/new"))
    record = {lang: text(b.get(f"/r/customer/{customer}")) for lang, b in (("fa", fa), ("zh", zh), ("en", en))}
    assert "مالک است" in record["fa"] and "تماس تلفنی" in record["fa"]  # relationship, activity kind
    assert "拥有" in record["zh"] and "电话" in record["zh"]
    assert "owns" in record["en"] and "Phone call" in record["en"]
    roles = {lang: text(b.get("/admin/roles")) for lang, b in (("fa", fa), ("zh", zh), ("en", en))}
    assert "تحلیلگر ستاد" in roles["fa"] and "总部分析师" in roles["zh"] and "HQ analyst" in roles["en"]
    # The core's own role, declared like a plugin's (source "core"): the UI's catalogue.
    assert "Administrator" not in roles["fa"] + roles["zh"] and "Administrator" in roles["en"]
    assert "کارشناس مرکز تماس" in text(fa.get("/admin/users"))


# -- every declared text of the built-in plugins is translated ----------------------------
def _entries(catalog) -> dict:
    return {m.id: m.string for m in catalog if m.id}


@pytest.mark.parametrize("plugin", sorted(BUILT_IN))
def test_every_text_a_builtin_plugin_declares_has_a_fa_and_a_zh_translation(plugin):
    """What the plugin's hooks return is what the UI shows: a label added untranslated (a
    plain string, or a dict without fa or zh) is missing from the catalogues and fails here."""
    module = importlib.import_module(BUILT_IN[plugin])
    wanted = {msgid: f"{hook} {name}{pointer}" for hook, name, pointer, msgid in plugin_texts(module)}
    assert wanted, plugin  # every built-in plugin declares KPI descriptions at least
    folder = ROOT / "plugins" / plugin / "translations"
    for lang in ("fa", "zh"):
        with open(folder / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            po = _entries(read_po(f))
        with open(folder / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
            mo = _entries(read_mo(f))
        untranslated = {where: msgid for msgid, where in wanted.items() if not po.get(msgid)}
        assert not untranslated, \
            f"{plugin} {lang}: translate these in {folder}/{lang} (docs/plugins.md): {untranslated}"
        assert mo == po, f"{plugin} {lang}: run pybabel compile -d plugins/{plugin}/translations"


def test_a_label_added_without_a_translation_is_found():
    """What the completeness test above sees of a plugin that adds a plain label and a dict
    without zh: both are message ids, as is a role's description (shown beside the role); a
    complete dict is not."""
    added = SimpleNamespace(xrm_kpis=lambda: [
        {"name": "new", "label": "Brand-new KPI", "unit": {"en": "widgets", "fa": "ویجت"},
         "description": {"en": "Said", "fa": "گفته", "zh": "说"}, "entity": "case", "measure": {"count": True}}],
        xrm_roles=lambda: [{"name": "r", "label": "Reviewer", "description": "not shown", "grants": []}])
    assert sorted(plugin_texts(added)) == [("xrm_kpis", "new", "/label", "Brand-new KPI"),
                                           ("xrm_kpis", "new", "/unit", "widgets"),
                                           ("xrm_roles", "r", "/description", "not shown"),
                                           ("xrm_roles", "r", "/label", "Reviewer")]


@pytest.mark.parametrize("plugin", sorted(BUILT_IN))
def test_a_builtin_plugins_babel_cfg_extracts_what_it_declares(plugin):
    folder = ROOT / "plugins" / plugin
    with open(folder / "translations" / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = {m[2] for m in extract_from_dir(str(folder), method_map, options_map)}
    declared = {msgid for *_, msgid in plugin_texts(importlib.import_module(BUILT_IN[plugin]))}
    assert extracted == declared


def test_the_catalogues_are_package_data():
    """A non-editable install ships every .po and .mo (and babel.cfg) of the plugins: each
    file matches a package-data pattern of the plugin's package (relative to its folder) or
    of a data package under it (``xrm_crm.translations.fa.LC_MESSAGES``), as setuptools reads them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {package: ROOT / path for package, path in config["package-dir"].items()}
    for plugin, package in BUILT_IN.items():
        root = folders[package]
        assert root == ROOT / "plugins" / plugin
        shipped = set()
        for key, patterns in config["package-data"].items():
            if key == package or key.startswith(package + "."):
                base = root.joinpath(*key.split(".")[1:])
                shipped |= {f.relative_to(root).as_posix() for p in patterns for f in base.glob(p)}
        files = {f.relative_to(root).as_posix() for f in (root / "translations").rglob("*") if f.is_file()}
        assert {f.rsplit("/", 1)[-1] for f in files} >= {"messages.po", "messages.mo", "babel.cfg"}
        assert files <= shipped, (package, sorted(files - shipped))


@pytest.mark.parametrize("text_, expected", [
    ("Open", "Open"),
    ({"en": "Open", "fa": "باز"}, "Open"),  # zh is missing: the catalogue says it
    ({"en": "Open", "fa": "باز", "zh": "待处理"}, None),  # complete as it is
    ({"fa": "باز"}, None),  # no English to look up
    ("  ", None),
    (7, None),
])
def test_which_texts_a_catalogue_translates(text_, expected):
    assert catalogue_id(text_) == expected


# -- a third-party plugin -------------------------------------------------------------------
PLUGIN = '''
"""A third-party plugin declaring its text in English, as plain strings."""
from xrm_core import hookimpl


@hookimpl
def xrm_entity_types():
    return [{"name": "ticket", "label": "Ticket", "plural_label": "Tickets", "title_field": "subject",
             "field_labels": {"subject": "Subject", "priority": "Priority"},
             "value_labels": {"priority": {"high": "High", "low": "Low",
                                           "urgent": {"en": "Urgent", "fa": "فوری"}}},
             "schema": {"type": "object", "required": ["subject"], "properties": {
                 "subject": {"type": "string"},
                 "priority": {"type": "string", "enum": ["low", "high", "urgent"]},
                 "due": {"type": "string", "format": "date", "title": "Due date",
                         "description": "When the customer expects an answer."}}}}]


@hookimpl
def xrm_relationship_types():
    return [{"name": "ticket_follows", "source": "ticket", "target": "ticket", "cardinality": "many-to-many",
             "label": "follows up", "inverse_label": "followed up by", "description": "A ticket that follows up an earlier one."}]


@hookimpl
def xrm_activity_kinds():
    return [{"name": "callback", "label": "Call back"}]


@hookimpl
def xrm_roles():
    return [{"name": "ticket_agent", "label": "Ticket agent",
             "grants": [{"type": "ticket", "actions": ["read"], "depth": "all"}]}]


@hookimpl
def xrm_kpis():
    return [{"name": "open_tickets", "label": "Open tickets", "description": "Tickets not yet answered.",
             "unit": "tickets", "entity": "ticket", "measure": {"count": True}}]
'''

BABEL_CFG = """\
[extractors]
xrm_plugin = xrm_core.web.ui.plugin_texts:extract_plugin

[xrm_plugin: __init__.py]
"""

#: msgid -> (fa, zh); "Urgent" has its Persian inline, so only zh translates it.
TRANSLATIONS = {
    "Ticket": ("تیکت", "工单"), "Tickets": ("تیکت‌ها", "工单列表"), "Subject": ("موضوع تیکت", "工单主题"),
    "Priority": ("اولویت تیکت", "工单优先级"), "High": ("بالا", "高"), "Low": ("پایین", "低"),
    "Urgent": ("", "特急"), "Due date": ("موعد پاسخ", "答复期限"),
    "When the customer expects an answer.": ("زمانی که مشتری انتظار پاسخ دارد.", "客户期望得到答复的时间。"),
    "follows up": ("پیگیری می‌کند", "跟进"), "followed up by": ("پیگیری‌شده با", "被跟进"),
    "Call back": ("تماس مجدد", "回电"), "Ticket agent": ("کارشناس تیکت", "工单专员"),
    "Open tickets": ("تیکت‌های باز", "未结工单"),
    "Tickets not yet answered.": ("تیکت‌هایی که هنوز پاسخ نگرفته‌اند.", "尚未答复的工单。"),
    "tickets": ("تیکت", "张工单"),
    "A ticket that follows up an earlier one.": ("تیکتی که تیکت پیشین را پیگیری می‌کند.", "跟进先前工单的工单。"),
}


def _plugin_package(tmp_path, monkeypatch, translated: bool):
    """A plugin package in ``tmp_path`` (a fresh name: its module and catalogues are per
    process), its catalogues extracted with its babel.cfg and compiled with Babel's API."""
    name = f"acme_tickets_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    if translated:
        folder = package / "translations"
        folder.mkdir()
        (folder / "babel.cfg").write_text(BABEL_CFG)
        with open(folder / "babel.cfg") as f:
            method_map, options_map = parse_mapping_cfg(f)
        extracted = list(extract_from_dir(str(package), method_map, options_map))
        assert {m[2] for m in extracted} == set(TRANSLATIONS)
        for i, lang in enumerate(("fa", "zh")):
            catalog = Catalog(locale=lang, domain="messages", project=name)
            for _file, _line, msgid, comments, _context in extracted:
                catalog.add(msgid, TRANSLATIONS[msgid][i], auto_comments=comments)
            messages = folder / lang / "LC_MESSAGES"
            messages.mkdir(parents=True)
            with open(messages / "messages.po", "wb") as f:
                write_po(f, catalog)
            with open(messages / "messages.mo", "wb") as f:
                write_mo(f, catalog)
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


@pytest.fixture
def acme(tmp_path, monkeypatch):
    yield from _plugin_package(tmp_path, monkeypatch, translated=True)


@pytest.fixture
def acme_untranslated(tmp_path, monkeypatch):
    yield from _plugin_package(tmp_path, monkeypatch, translated=False)


def _tickets(make_platform, module):
    p = make_platform(module)
    with p.session() as s:
        first = s.create("ticket", {"subject": "Brake noise", "priority": "high", "due": "2026-01-05"})
        second = s.create("ticket", {"subject": "Brake noise again", "priority": "urgent"})
        s.relate("ticket_follows", second.id, first.id)
        s.log(first.id, "callback", "promised a call")
        accounts.create_user(s.conn, "agent", accounts.ROOT_UNIT, ["ticket_agent"], "pw")
    return p, first.id


def _pages(p, lang: str, ticket: str) -> dict:
    b = _browser(p, lang)
    return {path: text(b.get(path)) for path in ("/", "/r/ticket", "/r/ticket/new", f"/r/ticket/{ticket}",
                                                  "/admin/roles", "/admin/users")}


def test_a_third_party_plugins_catalogue_translates_its_text_on_every_page(acme, make_platform):
    p, ticket = _tickets(make_platform, acme)
    fa = _pages(p, "fa", ticket)
    assert "تیکت‌ها" in fa["/r/ticket"] and "موضوع تیکت" in fa["/r/ticket"] and "بالا" in fa["/r/ticket"]
    assert "فوری" in fa["/r/ticket"]  # the dict's own Persian
    form = fa["/r/ticket/new"]
    assert "موعد پاسخ" in form and "زمانی که مشتری انتظار پاسخ دارد." in form  # schema title and description
    assert "اولویت تیکت" in form and ">بالا<" in form and ">پایین<" in form  # select options
    record = fa[f"/r/ticket/{ticket}"]
    assert "پیگیری‌شده با" in record and "تماس مجدد" in record  # inverse label, the logged kind
    assert "تیکت‌های باز" in fa["/"] and "تیکت‌هایی که هنوز پاسخ نگرفته‌اند." in fa["/"] and "تیکت" in fa["/"]
    assert "کارشناس تیکت" in fa["/admin/roles"] and "کارشناس تیکت" in fa["/admin/users"]
    english = ("Tickets", "Subject", "Due date", "When the customer expects", "followed up by", "Call back",
               "Open tickets", "Tickets not yet answered", "Ticket agent")
    for path, page in fa.items():
        assert not [w for w in english if w in page], path

    zh = _pages(p, "zh", ticket)
    assert "工单列表" in zh["/r/ticket"] and "特急" in zh["/r/ticket"]  # a dict without zh: the catalogue
    assert "答复期限" in zh["/r/ticket/new"] and "回电" in zh[f"/r/ticket/{ticket}"]
    assert "未结工单" in zh["/"] and "张工单" in zh["/"] and "工单专员" in zh["/admin/roles"]

    en = _pages(p, "en", ticket)
    assert "Tickets" in en["/r/ticket"] and "Urgent" in en["/r/ticket"] and "Due date" in en["/r/ticket/new"]
    assert "followed up by" in en[f"/r/ticket/{ticket}"] and "Open tickets" in en["/"]
    assert "Ticket agent" in en["/admin/roles"]
    assert not any("تیکت" in page or "工单" in page for page in en.values())


def test_the_rest_api_keeps_the_declared_text(acme, make_platform):
    p, _ = _tickets(make_platform, acme)
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    b = Browser(p)
    r = b.client.get("/api/v1/types/ticket", headers={"Authorization": f"Bearer {token}", "Accept-Language": "fa"})
    body = json.loads(r.get_data(as_text=True))
    assert r.status_code == 200 and body["label"] == "Ticket" and body["field_labels"]["subject"] == "Subject"


def test_a_plugin_without_catalogues_shows_its_own_text(acme_untranslated, make_platform):
    p, ticket = _tickets(make_platform, acme_untranslated)
    fa = _pages(p, "fa", ticket)
    assert "Tickets" in fa["/r/ticket"] and "Subject" in fa["/r/ticket"] and "High" in fa["/r/ticket"]
    assert "Due date" in fa["/r/ticket/new"] and "When the customer expects an answer." in fa["/r/ticket/new"]
    assert "followed up by" in fa[f"/r/ticket/{ticket}"] and "Call back" in fa[f"/r/ticket/{ticket}"]
    assert "Open tickets" in fa["/"] and "Ticket agent" in fa["/admin/roles"]
    assert "داشبورد" in fa["/"]  # the UI's own text is still Persian
    zh = _pages(p, "zh", ticket)
    assert "Urgent" in zh["/r/ticket"]  # a dict without zh: its English


def test_a_broken_catalogue_is_logged_and_the_text_shown_as_declared(acme, make_platform, caplog):
    mo = Path(acme.__file__).parent / "translations" / "fa" / "LC_MESSAGES" / "messages.mo"
    mo.write_bytes(b"not a catalogue")
    p, _ = _tickets(make_platform, acme)
    r = _browser(p, "fa").get("/r/ticket")
    assert r.status_code == 200 and "Tickets" in text(r) and "موضوع" not in text(r)
    assert any("cannot read the fa catalogue" in rec.getMessage() and acme.__name__ in rec.getMessage()
               for rec in caplog.records)


def test_catalogues_are_read_once_per_process_and_language(acme, make_platform):
    p, ticket = _tickets(make_platform, acme)
    b = _browser(p, "fa")
    assert "تیکت‌ها" in text(b.get("/r/ticket"))
    # Each miss looks for one catalogue on disk (English, on the login's pages, and Persian).
    read = plugin_catalogues.catalogue.cache_info().misses
    assert 1 <= read <= 2
    for path in ("/r/ticket", "/", f"/r/ticket/{ticket}", "/r/ticket/new"):
        b.get(path)
    assert plugin_catalogues.catalogue.cache_info().misses == read
    b.post("/lang", {"lang": "zh", "next": "/"})
    b.get("/r/ticket")
    b.get("/r/ticket")
    assert plugin_catalogues.catalogue.cache_info().misses == read + 1


def test_a_plugin_object_finds_the_catalogues_of_the_package_its_class_is_in(acme):
    class Plugin:
        pass
    Plugin.__module__ = acme.__name__
    assert plugin_catalogues.package_of(Plugin()) == acme.__name__
    assert plugin_catalogues.package_of(acme) == acme.__name__
    assert plugin_catalogues.catalogue(acme.__name__, "fa").gettext("Ticket") == "تیکت"
    assert plugin_catalogues.catalogue(acme.__name__, "en").gettext("Ticket") == "Ticket"  # none shipped
    assert plugin_catalogues.catalogue("no_such_package_here", "fa").gettext("Ticket") == "Ticket"
