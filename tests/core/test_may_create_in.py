"""``Session.may_create_in``: the rule of ``choose_unit`` (a new record's unit) as a yes/no,
for plugins that route a new record by its data (the shipped crm and prm_dealers plugins refuse
a lead or case naming a dealer outside the user's create scope with it)."""
from __future__ import annotations


def test_the_own_unit_and_units_in_scope_only(org):
    with org.session("manager_a", write=False) as s:
        assert s.may_create_in("person", "dealer_a") is True
        assert s.may_create_in("person", "dealer_b") is False
        assert s.may_create_in("person", "north") is False


def test_an_unknown_unit_is_a_no_for_a_scoped_user_as_a_unit_outside_scope(org):
    with org.session("manager_a", write=False) as s:
        assert s.may_create_in("person", "no_such_unit") is False


def test_one_who_may_create_everywhere_may_route_anywhere(org):
    with org.session(write=False) as s:  # the admin
        assert s.may_create_in("person", "dealer_b") is True
        assert s.may_create_in("person", "no_such_unit") is True  # the record stays where it is


def test_no_create_grant_is_a_no_everywhere(org):
    with org.session("analyst", write=False) as s:
        assert s.may_create_in("person", "hq") is False
