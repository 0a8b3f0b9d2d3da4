"""A date-time stored before validation refused it (its UTC instant outside the years
0001–9999) keeps a database usable: ``xrm init`` (which syncs every plugin type, changed
or not) and a change of another field go through; a change that breaks the record in a
new way is still refused, naming only that."""
from __future__ import annotations

import copy

import pytest
from conftest import PersonPlugin
from sqlalchemy import update
from test_leftovers9_instants import EVENT, Events

from xrm_core import ValidationError, db, entity_types

LATE = "9999-12-31T23:59:59-05:00"


@pytest.fixture
def p(make_platform):
    p = make_platform(PersonPlugin(), Events())
    with p.session() as s:
        rec = s.create("event", {"at": "2026-01-01T00:00:00Z"})
    with p.connection() as conn:  # as a release that did not refuse it stored it
        conn.execute(update(db.records).where(db.records.c.id == rec.id).values(data={"at": LATE}))
    p.stored_id = rec.id
    return p


def test_init_and_an_unrelated_type_change_keep_working(p):
    p.init(admin_password="secret-password-1")
    changed = copy.deepcopy(EVENT)
    changed["schema"]["properties"]["place"] = {"type": "string"}
    with p.connection() as conn:
        report = entity_types.update(conn, changed)
    assert (report["applied"], report["invalid"]) == (True, 0)
    with p.session(write=False) as s:
        assert s.get(p.stored_id).data == {"at": LATE}


def test_a_change_breaking_the_record_in_a_new_way_names_only_that(p):
    changed = copy.deepcopy(EVENT)
    changed["schema"]["properties"]["place"] = {"type": "string"}
    changed["schema"]["required"] = ["place"]
    with pytest.raises(ValidationError) as e:
        with p.connection() as conn:
            entity_types.update(conn, changed)
    assert e.value.errors == [{"pointer": f"/records/{p.stored_id}/data/place",
                               "message": '"place" is a required property'}]
