"""Records named by their titles, as the pages show them: a record's opaque id is what
staff cannot read, so lists, record pages, timelines and pickers name records by title
wherever the user may see them (an id stays where no title can be shown)."""
from __future__ import annotations

import orjson

from ... import records
from ...fields import value_at


def _title_of(et, rec) -> str:
    """The title of ``rec`` (a record of ``et``): its title field's value, or its id when it has none."""
    value = value_at(rec.data, et.title_field) if et.title_field else None  # it may be dotted
    if value in (None, ""):
        return rec.id
    # Not Python's spelling of a value (True, ['a']): the JSON one, as the fields show it.
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _title(s, rec) -> str:
    """:func:`_title_of` ``rec``, its type read through the session ``s``."""
    return _title_of(s.entity_type(rec.type), rec)


#: Distinct records a timeline page names by title (read in one query); past this, by id.
TITLED_RECORDS = 60


def _titles_of(s, ids) -> dict[str, str]:
    """``{id: title}`` of the records among ``ids`` the user may see: a timeline named its
    related records and the other ends of its links by their opaque ids ("Visit
    01a21b4f…"), which staff cannot read. A record outside the user's scope, or deleted,
    keeps its id (what the history already says), never its title."""
    wanted = sorted(i for i in ids if isinstance(i, str))[:TITLED_RECORDS]
    return {record_id: _title(s, rec) for record_id, rec in records.get_many(s, wanted).items()}
