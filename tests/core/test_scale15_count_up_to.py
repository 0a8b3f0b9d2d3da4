"""``listing.count_up_to``: how many records a list holds, counted no further than a cap
(the admin UI asks it whether a sort by a field without an index is small enough)."""
from __future__ import annotations

import pytest

from xrm_core import listing
from xrm_core.errors import PermissionDenied, ValidationError


@pytest.fixture
def people(org):
    with org.session("manager_a") as s:
        for i in range(6):
            s.create("person", {"name": f"Ann {i}", "age": i})
    with org.session("manager_b") as s:
        for i in range(3):
            s.create("person", {"name": f"Bob {i}", "age": i})
    return org


def test_counts_up_to_the_cap_and_one_more(people):
    with people.session() as s:
        assert listing.count_up_to(s, "person", cap=100) == 9
        assert listing.count_up_to(s, "person", cap=4) == 5  # "more than 4"
        assert listing.count_up_to(s, "person", cap=9) == 9
        assert listing.count_up_to(s, "person", {"age": {"gte": 4}}, cap=100) == 2
        assert listing.count_up_to(s, "person", cap=100, search="bob") == 3
        assert listing.count_up_to(s, "person", {"age": 1}, cap=100, search="ann") == 1


def test_counts_what_the_list_shows_the_user(people):
    with people.session("manager_b") as s:
        assert listing.count_up_to(s, "person", cap=100) == len(s.list("person", limit=100)) == 3
    with people.session("nobody") as s, pytest.raises(PermissionDenied):
        listing.count_up_to(s, "person")


def test_refuses_what_the_list_refuses(people):
    with people.session() as s:
        with pytest.raises(ValidationError) as e:
            listing.count_up_to(s, "person", {"nope": 1})
        assert e.value.errors[0]["pointer"].startswith("/where/nope")
        with pytest.raises(ValidationError):
            listing.count_up_to(s, "person", search="a\x00b")
