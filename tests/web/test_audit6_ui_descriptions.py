"""Descriptions and plugin names on the admin UI (audit 6).

- The ``description`` of a role (roles list, the users' role pickers, tied to each box with
  aria-describedby), of an entity type (types list, type page, the type's list) and of an
  activity kind (the picker that logs one, tied with aria-describedby; the timeline entry's
  title) is shown, translated through the declaring plugin's catalogue: the built-in
  plugins' catalogues in fa and zh, a third-party plugin's built here with its babel.cfg.
- Dashboard chips and headings name a plugin by the title its docstring gives
  (``NAME — title: …``), translated by its catalogue, with the entry-point name beside it
  (``XRM_DISABLE_PLUGINS`` takes that); a plugin without such a docstring keeps its
  entry-point name.
- A role several plugins declare (stored with the source "a,b") is translated by whichever
  of their catalogues has the text (it was never translated).
"""
from __future__ import annotations

import importlib
import re
import sys
import types
import uuid
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from xrm_core import accounts, hookimpl
from xrm_core.web.ui import plugin_catalogues
from xrm_core.web.ui.plugin_texts import plugin_summary, plugin_texts

from test_ui_support import Browser, text


@pytest.fixture(autouse=True)
def fresh_catalogues():
    plugin_catalogues.catalogue.cache_clear()
    yield
    plugin_catalogues.catalogue.cache_clear()


def _browser(platform, lang: str, user: str = "admin", password: str = "secret") -> Browser:
    b = Browser(platform)
    b.login(user, password)
    b.post("/lang", {"lang": lang, "next": "/"})
    return b


def _described(page: str, control: str) -> str:
    """The text of the elements ``control``'s aria-describedby names (``control``: a regular
    expression matching the control's opening tag up to its attributes)."""
    tag = re.search(control + r'[^>]*>', page)
    assert tag, control
    ids = re.search(r'aria-describedby="([^"]+)"', tag.group(0))
    assert ids, tag.group(0)
    out = []
    for i in ids.group(1).split():
        element = re.search(r'<(\w+)[^>]* id="%s"[^>]*>(.*?)</\1>' % re.escape(i), page, re.S)
        assert element, i
        out.append(re.sub(r"<[^>]+>", " ", element.group(2)))
    return " ".join(" ".join(out).split())


# -- the built-in plugins ----------------------------------------------------------------
@pytest.fixture
def automotive(make_platform):
    p = make_platform(entry_points=True)
    with p.session() as s:
        customer = s.create("customer", {"name": "Sara Ahmadi"})
        s.log(customer.id, "notification", "service reminder sent")
    return p, customer.id


HQ = {"en": "Manufacturer headquarters: reads every record of every unit",
      "fa": "ستاد خودروساز: همه رکوردهای همه واحدها", "zh": "主机厂总部：可读取所有单位的全部记录"}
CUSTOMER = {"en": "An end customer (person or organisation) across every channel",
            "fa": "مشتری نهایی (شخص یا سازمان) در همه کانال‌ها", "zh": "跨所有渠道的终端客户"}
NOTIFICATION = {"en": "A message the platform sent to the customer",
                "fa": "پیامی که سامانه از صندوق ارسال خود برای مشتری فرستاده است",
                "zh": "平台通过发件箱发送给客户的消息"}
CRM = {"en": "The end customer", "fa": "مشتری نهایی", "zh": "终端客户"}


@pytest.mark.parametrize("lang", ["en", "fa", "zh"])
def test_builtin_descriptions_are_shown_where_they_are_chosen_and_read(automotive, lang):
    p, customer = automotive
    b = _browser(p, lang)
    others = [v for k, v in HQ.items() if k != lang]

    roles = text(b.get("/admin/roles"))
    assert HQ[lang] in roles and not any(o in roles for o in others)
    # The role pickers: each box is described by its role's description.
    for path in ("/admin/users", "/admin/users/admin"):
        page = text(b.get(path))
        assert HQ[lang] in _described(page, r'<input type="checkbox" name="roles" value="hq_analyst"'), path
        # A role without a description (the core's admin) has no empty description tied to it.
        assert "aria-describedby" not in re.search(r'<input type="checkbox" name="roles" value="admin"[^>]*>',
                                                   page).group(0)

    for path in ("/types/", "/types/customer", "/r/customer"):
        # (The type page's definition editor holds the definition as declared, in English.)
        page = text(b.get(path)).split('id="definition-label"')[0]
        assert CUSTOMER[lang] in page, path
        assert not [o for k, o in CUSTOMER.items() if k != lang and o in page], path

    record = text(b.get(f"/r/customer/{customer}"))
    help_ = _described(record, r'<select name="kind"')
    assert NOTIFICATION[lang] in help_
    # The timeline's entry of that kind carries it too (as its title).
    assert re.search(r'<strong title="%s[^"]*">' % re.escape(NOTIFICATION[lang]), record)


@pytest.mark.parametrize("lang", ["en", "fa", "zh"])
def test_dashboard_chips_name_plugins_and_keep_the_entry_point_name(automotive, lang):
    p, _ = automotive
    page = text(_browser(p, lang).get("/"))
    chips = page[page.index('<nav class="chips"'):page.index("</nav>", page.index('<nav class="chips"'))]
    chip = re.search(r'<a href="/\?plugin=crm">(.*?)</a>', chips).group(1)
    assert chip.startswith(CRM[lang]) and '<bdi class="ep" dir="ltr">crm</bdi>' in chip
    # Every built-in plugin is named, none by its entry-point name alone.
    for name in ("crm", "prm_dealers", "vrm_suppliers", "voc"):
        shown = re.search(r'<a href="/\?plugin=%s"[^>]*>(.*?)</a>' % name, chips).group(1)
        assert not shown.startswith(name) and f">{name}</bdi>" in shown, (name, shown)
    # The section heading of the crm KPIs too.
    assert re.search(r'<h2>%s <bdi class="ep" dir="ltr">crm</bdi></h2>' % re.escape(CRM[lang]), page)


# -- plugin_summary ---------------------------------------------------------------------
def _module(doc):
    m = types.ModuleType("some_plugin")
    m.__doc__ = doc
    return m


@pytest.mark.parametrize("doc, expected", [
    ("crm — the end customer: customers, vehicles, leads,\nopportunities and cases.", "The end customer"),
    ("trials - clinical trials. Sites, participants.", "Clinical trials"),
    ("my.plugin – Field service (FSM)\n\nMore text: here.", "Field service (FSM)"),
    ("tickets -- Help desk", "Help desk"),
    # A docstring that starts with a sentence describes the plugin; it gives no name.
    ("A third-party plugin declaring its text in English, as plain strings.", None),
    ("Hooks: the entity types of the help desk.", None),
    ("x — " + "a" * 81, None),  # a paragraph, not a name
    ("x — : nothing before the colon", None),
    ("", None),
    (None, None),
])
def test_a_plugin_is_named_by_the_title_its_docstring_gives(doc, expected):
    assert plugin_summary(_module(doc)) == expected


def test_a_plugin_objects_name_is_its_own_classes_docstring():
    class Plugin:
        """helpdesk — the help desk: tickets and agents."""
    assert plugin_summary(Plugin()) == "The help desk"
    # A standard-library object stands for no plugin: its class's docstring is no name.
    assert plugin_summary(SimpleNamespace(__doc__="x — not this")) is None


class Untitled:
    """A plugin whose docstring is a sentence: its KPI's section keeps the entry-point name."""

    __name__ = "untitled_kpis"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "gadget", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "gadgets", "label": "Gadgets", "entity": "gadget", "measure": {"count": True}}]


def test_a_plugin_without_a_title_keeps_its_entry_point_name(make_platform):
    p = make_platform(Untitled())
    page = text(_browser(p, "fa").get("/"))
    assert '<a href="/?plugin=untitled_kpis">untitled_kpis</a>' in page
    assert "<h2>untitled_kpis</h2>" in page


# -- a third-party plugin's catalogue -------------------------------------------------------
PACKAGE = '''
"""field_service — field service: work orders and technicians."""
from xrm_core import hookimpl


@hookimpl
def xrm_entity_types():
    return [{"name": "work_order", "label": "Work order", "title_field": "ref",
             "description": "A job a technician does at the client's site.",
             "schema": {"type": "object", "properties": {"ref": {"type": "string"}}}}]


@hookimpl
def xrm_activity_kinds():
    return [{"name": "site_visit", "label": "Site visit", "description": "The technician went on site."}]


@hookimpl
def xrm_roles():
    return [{"name": "dispatcher", "label": "Dispatcher", "description": "Plans the technicians' day.",
             "grants": [{"type": "work_order", "actions": ["read", "create"], "depth": "unit"}]}]
'''

BABEL_CFG = "[extractors]\nxrm_plugin = xrm_core.web.ui.plugin_texts:extract_plugin\n\n[xrm_plugin: __init__.py]\n"

FA = {"Field service": "خدمات میدانی", "Work order": "دستور کار",
      "A job a technician does at the client's site.": "کاری که تکنسین در محل مشتری انجام می‌دهد.",
      "Site visit": "بازدید از محل", "The technician went on site.": "تکنسین به محل رفت.",
      "Dispatcher": "توزیع‌کننده کار", "Plans the technicians' day.": "روز کاری تکنسین‌ها را برنامه‌ریزی می‌کند."}


class SharedRole:
    """Called first, it declares the dispatcher role without a catalogue of its own: the
    role is stored with the source "shared_role,<package>" and its label is this plugin's."""

    __name__ = "shared_role"

    @staticmethod
    @hookimpl
    def xrm_roles():
        return [{"name": "dispatcher", "label": "Dispatcher",
                 "grants": [{"type": "work_order", "actions": ["update"], "depth": "own"}]}]


@pytest.fixture
def field_service(tmp_path, monkeypatch):
    """The plugin package above, its fa catalogue extracted with its babel.cfg and compiled."""
    name = f"field_service_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    (package / "translations" / "fa" / "LC_MESSAGES").mkdir(parents=True)
    (package / "__init__.py").write_text(PACKAGE, encoding="utf-8")
    (package / "translations" / "babel.cfg").write_text(BABEL_CFG)
    monkeypatch.syspath_prepend(str(tmp_path))
    with open(package / "translations" / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = list(extract_from_dir(str(package), method_map, options_map))
    # The descriptions and the docstring's title are extracted with the labels.
    assert {m[2] for m in extracted} == set(FA)
    catalog = Catalog(locale="fa", domain="messages", project=name)
    for _file, _line, msgid, comments, _context in extracted:
        catalog.add(msgid, FA[msgid], auto_comments=comments)
    with open(package / "translations" / "fa" / "LC_MESSAGES" / "messages.po", "wb") as f:
        write_po(f, catalog)
    with open(package / "translations" / "fa" / "LC_MESSAGES" / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def test_a_third_party_plugins_descriptions_and_name_come_from_its_catalogue(field_service, make_platform):
    texts = {(hook, pointer): msgid for hook, _name, pointer, msgid in plugin_texts(field_service)}
    assert texts[("plugin", "/__doc__")] == "Field service"
    assert texts[("xrm_roles", "/description")] == "Plans the technicians' day."
    p = make_platform(field_service, SharedRole())
    with p.connection() as conn:
        # The plugin without a catalogue is asked first: its label is the one stored.
        assert accounts.role_source(conn, "dispatcher") == f"shared_role,{field_service.__name__}"
        accounts.create_user(conn, "dana", accounts.ROOT_UNIT, ["dispatcher"], "pw")
    with p.session("dana") as s:
        order = s.create("work_order", {"ref": "WO-1"})
    b = _browser(p, "fa")
    roles = text(b.get("/admin/roles"))
    # The label of a role two plugins declare: translated by the one whose catalogue has it.
    assert "توزیع‌کننده کار" in roles and ">Dispatcher<" not in roles
    assert "روز کاری تکنسین‌ها را برنامه‌ریزی می‌کند." in roles
    users = text(b.get("/admin/users"))
    assert "روز کاری تکنسین‌ها" in _described(users, r'<input type="checkbox" name="roles" value="dispatcher"')
    for path in ("/types/", "/types/work_order", "/r/work_order"):
        assert "کاری که تکنسین در محل مشتری انجام می‌دهد." in text(b.get(path)), path
    record = text(b.get(f"/r/work_order/{order.id}"))
    assert _described(record, r'<select name="kind"') == "بازدید از محل تکنسین به محل رفت."
    # No KPI, no dashboard section; English stays as declared.
    en = _browser(p, "en")
    assert "Plans the technicians&#39; day." in text(en.get("/admin/roles"))  # escaped
    assert "The technician went on site." in text(en.get(f"/r/work_order/{order.id}"))


def test_a_description_left_untranslated_is_shown_as_declared(make_platform):
    """A plugin without catalogues: its descriptions in every language as written, and a
    kind without a description adds no empty help to the picker."""
    from audit6_trials import TrialsPlugin, two_sites
    p = make_platform(TrialsPlugin())
    ids = two_sites(p)
    b = _browser(p, "zh", "coord_tehran", "pw-coord-1")
    record = text(b.get(f"/r/visit/{ids['v_tehran']}"))
    assert _described(record, r'<select name="kind"') == \
        "不良事件 Any untoward medical occurrence, reported within 24 hours."  # the label is inline
    assert '<option value="phone_follow_up">' in record  # no title for a kind without one
    assert "A hospital that enrols participants." in text(b.get("/r/trial_site"))
    # The participant type has no description: no empty paragraph.
    assert 'class="description"' not in text(b.get("/r/participant"))
