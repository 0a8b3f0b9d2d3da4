"""The edit form whose change a plugin would move out of the user's scope (the core refuses
the move, docs/security.md) says so on the form, with what was typed kept — it was a 403
error page, and the input was lost."""
from __future__ import annotations


from conftest import PersonPlugin
from sec12_moves import Mover, make_org
from test_ui_support import Browser, text


def test_a_refused_move_is_said_on_the_form_with_the_input_kept(make_platform):
    p = make_platform(PersonPlugin(), Mover())
    make_org(p)
    with p.session("seller_a") as s:
        rec = s.create("person", {"name": "Ada"})
    b = Browser(p)
    b.login("seller_a", "pw")
    b.get(f"/r/person/{rec.id}/edit")
    r = b.post(f"/r/person/{rec.id}/edit", {"version": "1", "name": "Ada Lovelace", "national_id": "dealer_b"})
    page = text(r)
    assert r.status_code == 403, page
    assert "sec12mover" in page and "dealer_b" in page and "nothing was changed" in page
    assert 'value="Ada Lovelace"' in page  # the form again, with what was typed
    with p.session("seller_a") as s:
        again = s.get(rec.id)
    assert (again.unit, again.version, again.data) == ("dealer_a", 1, {"name": "Ada"})
