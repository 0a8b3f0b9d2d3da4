"""A railway integrator's first plugin: definition names in Chinese are refused in words.

A plugin written for Chinese staff naturally names an activity kind ``回访`` or a role
``货运员``. The refusal used to show only the meta-schema's regular expression
(``"回访" does not match "^[a-z][a-z0-9_]{0,62}$"``); it now says what a name may hold,
and where the Chinese text belongs (the label).
"""
import types

import pytest

from xrm_core import DefinitionError, hookimpl


def _plugin(**hooks):
    module = types.ModuleType("rail_names")
    for name, value in hooks.items():
        setattr(module, name, hookimpl(lambda value=value: value, specname=name))
    return module


@pytest.mark.parametrize("hook, definition", [
    ("xrm_activity_kinds", [{"name": "回访", "label": {"en": "Follow-up", "zh": "回访"}}]),
    ("xrm_roles", [{"name": "货运员", "label": "Freight agent", "grants": []}]),
    ("xrm_entity_types", [{"name": "货主", "schema": {"type": "object"}}]),
])
def test_a_chinese_definition_name_is_refused_in_words(make_platform, hook, definition):
    with pytest.raises(DefinitionError) as caught:
        make_platform(_plugin(**{hook: definition}))
    name_errors = [e for e in caught.value.errors if e["pointer"] == "/name"]
    assert name_errors, caught.value.errors
    message = name_errors[0]["message"]
    assert "^[a-z]" not in message, message
    assert "lower-case ASCII letters" in message and "label" in message, message
