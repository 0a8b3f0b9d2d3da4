"""An activity kind's ``payload`` schema gets the URI checks an entity type's schema gets
(``schema_uris.check_uris``): one anchor declared twice, or a ``$ref`` reaching nothing,
was accepted at ``xrm init`` and left to the validator's undefined choice at every
``xrm log`` of the kind."""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import DefinitionError, db, hookimpl
from sqlalchemy import select

TWICE = {"type": "object", "$defs": {"a": {"$anchor": "n", "type": "string"},
                                     "b": {"$anchor": "n", "type": "integer"}},
         "properties": {"minutes": {"$ref": "#n"}}}
DANGLING = {"type": "object", "$defs": {"unused": {"$ref": "#/$defs/nowhere"}},
            "properties": {"minutes": {"type": "integer"}}}
GOOD = {"type": "object", "properties": {"minutes": {"type": "integer"}}}


class Kinds:
    __name__ = "calls"

    def __init__(self, payload):
        self.payload = payload

    @hookimpl
    def xrm_activity_kinds(self):
        return [{"name": "phone_chat", "label": "Phone chat", "payload": self.payload}]


@pytest.mark.parametrize("payload, pointer", [(TWICE, "/payload/$defs/b/$anchor"),
                                              (DANGLING, "/payload/$defs/unused/$ref")])
def test_an_ambiguous_or_dangling_payload_schema_fails_init_naming_the_plugin(make_platform, payload, pointer):
    p = make_platform(PersonPlugin())  # then the plugin is installed
    p.pm.register(Kinds(payload), "calls")
    with pytest.raises(DefinitionError) as e:
        p.init(admin_password="secret")
    assert e.value.message.startswith("plugin 'calls', activity kind #0 (phone_chat): ")
    assert [err["pointer"] for err in e.value.errors] == [pointer]
    with p.connection() as conn:  # nothing stored
        assert "phone_chat" not in conn.execute(select(db.activity_kinds.c.name)).scalars().all()


def test_a_good_payload_schema_is_stored_and_a_stored_one_is_not_checked_again(make_platform):
    p = make_platform(PersonPlugin(), init=False)
    p.pm.register(Kinds(GOOD), "calls")
    p.init(admin_password="secret")
    with p.connection() as conn:
        assert "phone_chat" in conn.execute(select(db.activity_kinds.c.name)).scalars().all()
        # As if stored by a release before the check: an unchanged kind keeps loading.
        conn.execute(db.activity_kinds.update().where(db.activity_kinds.c.name == "phone_chat").values(definition={"name": "phone_chat", "label": "Phone chat",
                                                                   "payload": TWICE}))
    p.pm.unregister(name="calls")
    p.pm.register(Kinds(TWICE), "calls")
    p.init(admin_password="secret")
