"""A list filter value no record can hold, said in the page's language by the labels.

The core refuses such a value as a typo (:func:`xrm_core.filters.refuse_values_never_held`:
an empty page would read as "none") and words the refusal in English with the stored
values: ``'orgs' is not among the values of kind (person, org)``. The list shows labels
(``value_labels``, ``field_labels``) and a filter takes them, so the page says the same
with those, in its language: ``«orgs» جزو مقدارهای نوع (شخص، سازمان) نیست``. The core stays
the judge of what is refused; only its words are the page's.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from ... import filters
from ...errors import ValidationError
from . import listing
from .core_messages import Explained
from .i18n import isolated
from .required_reasons import value_said


class NeverHeld(ValidationError):
    """The core's refusal (its message and items kept, for the API's words and the error
    page's detail), with ``said_items``: its items worded for the page."""

    def __init__(self, e: ValidationError, said_items: list[dict]):
        super().__init__(e.message, e.errors, **e.extra)
        self.said_items = said_items

    def explained(self) -> Explained:
        """The refusal as the list page shows it: what happened, then each item at its filter."""
        return Explained(_("No record can match this filter."), None, self.said_items)


def refuse(dialect: str, et, where: dict) -> None:
    """Refuse as the core does (:func:`~xrm_core.filters.refuse_values_never_held`), raising
    :class:`NeverHeld` with each item said by labels in the page's language."""
    try:
        filters.refuse_values_never_held(dialect, et, where)
    except ValidationError as e:
        terms = {ptr: (field, sent, allowed)
                 for field, _op, ptr, sent, allowed in filters.enum_terms(dialect, et, where)}
        items = [{**item, "message": said(et, *terms[item.get("pointer")]), "lang": None}
                 if item.get("pointer") in terms else item for item in e.errors]
        raise NeverHeld(e, items) from None


def said(et, field: str, sent: list, allowed: list) -> str:
    """``sent`` (the values a filter asked for, none of them ``allowed``) refused at
    ``field``, by the field's and the values' labels (a value with none as it is)."""
    values = _(", ").join(_("“%(value)s”", value=value_said(et, [], field, v)) for v in sent)
    choices = _(", ").join(value_said(et, [], field, a) for a in allowed)
    return ngettext("%(values)s is not among the values of %(field)s (%(choices)s): no record can match",
                    "%(values)s are not among the values of %(field)s (%(choices)s): no record can match",
                    len(sent), values=values, field=isolated(listing.field_label(et, field)), choices=choices)
