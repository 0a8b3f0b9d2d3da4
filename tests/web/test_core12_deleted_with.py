"""The admin UI's message after a delete names what the delete really removed
(``Session.delete``'s outcome, xrm_core.removals): a note a record event hook related to the
record while it was being deleted — which the cascade then took — is named too. Before, the
message named what a read just before the delete expected, and left that note out."""
from __future__ import annotations

from conftest import PersonPlugin

from xrm_core import hookimpl

from test_ui_support import delete_on_page, flashed, signed_in


class LateNote:
    """While a person is deleted, its hook relates one more note to it (``has_note``
    cascades: the note goes with the person)."""

    __name__ = "core12latenote"

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event == "before_delete" and record.type == "person":
            note = session.create("note", {"text": "Late note"})
            session.relate("has_note", record.id, note.id)


def test_the_message_names_a_record_a_hook_added_to_the_delete(make_platform):
    p = make_platform(PersonPlugin(), LateNote())
    with p.session() as s:
        person = s.create("person", {"name": "Ada"})
        note = s.create("note", {"text": "Early note"})
        s.relate("has_note", person.id, note.id)
    b = signed_in(p, "admin", "secret")
    assert delete_on_page(b, "person", person.id).status_code == 302
    assert flashed(b, "ok") == "Deleted Ada and 2 related records: Early note, Late note."
