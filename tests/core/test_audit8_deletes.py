"""Acceptance audit 8 (a blood-donation service): deleting a donation site cascades to its
appointments, and one appointment's ``restrict`` relationship refuses the delete. The
refusal should say how the delete got there, as a cascade refused for scope does."""
from __future__ import annotations

import pytest
from conftest import PersonPlugin
from sqlalchemy import select

from xrm_core import Conflict, db, for_types, hookimpl


class _Sites(PersonPlugin):
    """person —has_note→ note (cascade, from the person plugin) and note —about→ person
    (restrict): a note that names a person keeps its author from being deleted."""

    __name__ = "sites"

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [*PersonPlugin.xrm_relationship_types(),
                {"name": "about", "source": "note", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]


class _HookedSites(_Sites):
    """The same with a record hook on notes: deletes go one record at a time (deletes.py)."""

    __name__ = "hookedsites"

    @staticmethod
    @hookimpl
    @for_types("note")
    def xrm_record_event(event, record):
        pass


def _state(p) -> tuple:
    with p.session(write=False) as s:
        return (s.conn.execute(select(db.records.c.id, db.records.c.version).order_by(db.records.c.id)).all(),
                s.conn.execute(select(db.relationships.c.id).order_by(db.relationships.c.id)).all())


@pytest.mark.parametrize("plugin", [_Sites, _HookedSites])
def test_a_restrict_reached_through_a_cascade_says_the_way_there(make_platform, plugin):
    p = make_platform(plugin())
    with p.session() as s:
        author = s.create("person", {"name": "Site TEH1"}).id
        other = s.create("person", {"name": "Donor"}).id
        note = s.create("note", {"text": "appointment A1"}).id
        s.relate("has_note", author, note)
        s.relate("about", note, other)
    before = _state(p)
    with pytest.raises(Conflict) as e:
        with p.session() as s:
            s.delete(author)
    # Was "cannot delete <note>: its relationship type(s) about restrict deleting the source":
    # an id the caller never typed, and nothing about the has_note cascade that reached it.
    assert e.value.message.startswith(f"cannot delete {author}: its 'has_note' relationships cascade to {note}")
    assert "about restrict deleting the source" in e.value.message
    assert e.value.errors == [{"pointer": "/relationships", "message": f"about → {other}"}]
    assert _state(p) == before
