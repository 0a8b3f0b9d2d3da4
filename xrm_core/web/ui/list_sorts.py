"""Which columns a record list offers to sort by, and the refusal of a sort too slow to answer.

Ordering a list by a field without an index makes the database read and sort every record
the list holds before it can show the first 50: 17 s on SQLite and 1.4 s on PostgreSQL for
1M records (docs/benchmarks.md §8), for one click on a column heading. A field in the
type's ``indexes`` is read in order from its index at any size (a page costs what it costs
at 1,000 records). So the list page, as a CRM's list view does, makes what is slow visible
instead of letting a click hang:

- a column whose field is in the type's ``indexes`` always has its sort link;
- any other column has one only while the list it would order — filter, search and the
  user's scope applied — holds at most :data:`SORT_ANY_UP_TO` records (sorting that many
  costs a fraction of a second): a small type, or a large one narrowed by a filter;
- a column that cannot be sorted at all (an array, an object, values of several JSON
  types: the core refuses it) has none;
- a sort by a field without an index asked for by URL (a bookmark, a link shared before the
  list grew) over more records than that is refused with a message naming the field and
  saying how to get it: narrow the list, or have an administrator add the field to the
  type's ``indexes``. Refused, not silently answered in another order, so nobody reads an
  unsorted list as sorted.

Only the admin UI judges: the REST API's ``sort`` and ``xrm list --sort`` answer every
sort they answered before (the public contract). Their callers are programs and scripts
that choose their query and wait for it; a person clicking a heading cannot know which
click costs 17 s.
"""
from __future__ import annotations

from flask_babel import gettext as _

from ... import listing as core_listing
from ...errors import ValidationError
from ...filters import order_by
from .core_messages import Explained
from .i18n import isolated, number

#: The most records a list may hold for a sort by a field without an index to be answered
#: (and offered). Sorting costs ~17 µs a record on SQLite (benchmarks §8: 17 s for 1M), so
#: 10,000 records take ~0.2 s; asking whether there are more reads at most 10,001 entries of
#: the type's index (``listing.count_up_to``), a few milliseconds.
SORT_ANY_UP_TO = 10_000


def indexed_fields(et) -> set[str]:
    """The fields a list of ``et`` is sorted by from an index (its ``indexes``)."""
    return set(et.definition.get("indexes", []))


def _sortable(dialect: str, et, field: str) -> bool:
    try:
        order_by(dialect, et, [field])
    except ValidationError:
        return False
    return True


def sortable_columns(s, et, columns: list[str], where: dict | None, search: str | None,
                     small: bool = False) -> set[str]:
    """The ``columns`` whose heading links to the list sorted by it (see the module).

    ``small``: the caller knows the list holds at most :data:`SORT_ANY_UP_TO` records (its
    first page is all of it), so nothing needs counting. ``where`` None: the list was
    refused (a bad filter), so nothing is counted and only indexed fields are offered.
    """
    able = [c for c in columns if _sortable(s.dialect, et, c)]
    fast = indexed_fields(et)
    if all(c in fast for c in able) or small or (where is not None and _small(s, et, where, search)):
        return set(able)
    return {c for c in able if c in fast}


def _small(s, et, where: dict, search: str | None) -> bool:
    return core_listing.count_up_to(s, et.name, where, SORT_ANY_UP_TO, search) <= SORT_ANY_UP_TO


class SlowSort(ValidationError):
    """A sort by a field without an index over more than :data:`SORT_ANY_UP_TO` records."""

    def __init__(self, et, field: str, label: str):
        super().__init__(
            f"the list holds more than {SORT_ANY_UP_TO:,} records and {field!r} has no index: sorting by it "
            f"would read every one of them; narrow the list with a filter, or add {field!r} to the "
            f"indexes of {et.name}",
            [{"pointer": "/sort/0", "message": "not indexed"}])
        self.label = label

    def explained(self) -> Explained:
        """The refusal as the list page says it, in its language."""
        text = _("This list holds more than %(count)s records, and %(field)s has no index: sorting by it "
                 "would read every one of them. Narrow the list with a filter, or ask an administrator to "
                 "add %(field)s to the indexes of this record type.",
                 count=number(SORT_ANY_UP_TO), field=isolated(self.label))
        return Explained(text, None, [{"pointer": "/sort/0", "message": _("not indexed"), "lang": None}])


def refuse_slow_sort(s, et, sort: list[str], where: dict, search: str | None, label) -> bool:
    """Raise :class:`SlowSort` when ``sort`` orders by a field without an index a list of
    more than :data:`SORT_ANY_UP_TO` records; ``label(field)`` names the field on the page.
    A sort the core refuses anyway (no such field, an array) is left to it. True when it
    counted the list and found it small (the caller need not count it again)."""
    if not sort:
        return False
    field = sort[0][1:] if sort[0].startswith("-") else sort[0]
    if field in indexed_fields(et) or not _sortable(s.dialect, et, field):
        return False
    if not _small(s, et, where, search):
        raise SlowSort(et, field, label(field))
    return True
