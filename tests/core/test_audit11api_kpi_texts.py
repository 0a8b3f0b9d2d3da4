"""Audit 11 (plugin): a Python KPI's texts.

docs/plugins.md lets a KPI give its ``unit`` (and ``label``) by language, and the REST API
returns it as declared. A Python KPI's texts were never checked: a ``unit = ["shipments"]`` or
``{"en": "shipments", "fa": 3}`` passed ``xrm init`` and reached API clients as a value the
OpenAPI document does not allow. Init now refuses it, naming the plugin, the KPI and the
attribute's pointer; text, and text by language, still work.
"""
from __future__ import annotations

import types

import pytest
from sqlalchemy import func

from xrm_core import KPI, DefinitionError, Platform, hookimpl

PARCEL = {"name": "a11_crate", "title_field": "code",
          "schema": {"type": "object", "properties": {"code": {"type": "string"}}}}


def kpi(**texts) -> KPI:
    class Crates(KPI):
        name = "a11_crates"
        entity = "a11_crate"

        def compute(self, ctx):
            return ctx.measure("a11_crate", func.count(), func.count())
    for attr, value in texts.items():
        setattr(Crates, attr, value)
    return Crates()


def init(db_url, item) -> Platform:
    m = types.ModuleType("a11_crates")
    m.xrm_entity_types = hookimpl(lambda: [PARCEL])
    m.xrm_kpis = hookimpl(lambda: [item])
    p = Platform(db_url, plugins={"crates": m}, load_entry_points=False)
    try:
        p.init(admin_password="secret-pw")
    except Exception:
        p.dispose()
        raise
    return p


@pytest.mark.parametrize("attr, value", [
    ("unit", ["crates"]), ("unit", {"en": "crates", "fa": 3}), ("unit", {}), ("unit", 100),
    ("label", {"EN": "Crates"}), ("label", {"en": ""}), ("description", {"en": "how many"}),
])
def test_a_kpi_text_of_another_shape_fails_init_naming_it(db_url, attr, value):
    with pytest.raises(DefinitionError) as e:
        init(db_url, kpi(**{attr: value}))
    assert e.value.message.startswith(f"plugin 'crates': KPI 'a11_crates': {attr} must be text")
    assert [x["pointer"] for x in e.value.errors] == [f"/{attr}"]


def test_text_and_text_by_language_are_kept_as_declared(db_url):
    p = init(db_url, kpi(label={"en": "Crates", "zh-Hans": "箱"}, unit={"en": "crates", "fa": "جعبه"},
                         description="How many crates"))
    try:
        with p.session("admin", write=False) as s:
            assert s.kpi("a11_crates")["unit"] == {"en": "crates", "fa": "جعبه"}
    finally:
        p.dispose()
