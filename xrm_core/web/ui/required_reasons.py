"""Why a field is required, in the UI's language and the fields' labels.

A property only some cases require (``dependentRequired``, the ``required`` of an
``if``/``then``/``else``) comes from the core with the reason as data: the error's kind
carries ``keyword`` and ``facts`` (:class:`xrm_core.required_conditions.RequiredIf`). The
form said only "required" beside such a field, and staff could not tell why a field left
empty on purpose was refused. :func:`reason_for` words the reason with the labels the form
shows: "required when Status is Resolved", "required when Card number is filled in".
"""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import ngettext

from ...error_wording import json_text
from . import listing
from .forms import unescape_token
from .i18n import isolated as _isolated


def reason_for(et, prefix: str = "/data") -> Callable[[str, dict], str | None]:
    """``reason(pointer, kind)``: the field error of a conditionally required property of a
    record of ``et`` missing at ``pointer`` (``prefix`` + the path into its data), from its
    error kind's ``as_dict()``; None when the kind says no condition (required outright)."""
    def reason(pointer: str, kind: dict) -> str | None:
        keyword = kind.get("keyword")
        if keyword not in ("dependentRequired", "then", "else"):
            return None
        if not isinstance(pointer, str) or not pointer.startswith(prefix + "/"):
            return None
        # The facts name properties of the object the missing one belongs to: its siblings.
        parent = [unescape_token(t) for t in pointer[len(prefix) + 1:].split("/")][:-1]
        facts = [f for f in kind.get("facts") or [] if isinstance(f, dict) and isinstance(f.get("name"), str)]
        return said(et, parent, keyword, facts)
    return reason


def said(et, parent: list[str], keyword: str, facts: list[dict]) -> str:
    """The sentence for a property required by ``keyword`` because of ``facts`` (dicts of
    :class:`~xrm_core.error_wording.Fact`) about the members of the object at ``parent``."""
    if keyword == "dependentRequired":
        if not facts:
            return _("required when another field is filled in")
        names = [_label(et, parent, f["name"]) for f in facts]
        return ngettext("required when %(fields)s is filled in", "required when %(fields)s are filled in",
                        len(names), fields=_joined(names))
    if not facts:
        return _("required in this case (a rule of this type)")
    return _("required when %(conditions)s", conditions=_(" and ").join(_condition(et, parent, f) for f in facts))


def _condition(et, parent: list[str], fact: dict) -> str:
    field = _label(et, parent, fact["name"])
    if fact.get("absent"):
        return _("%(field)s is empty", field=field)
    value = value_said(et, parent, fact["name"], fact.get("value"))
    allowed = fact.get("allowed")
    if isinstance(allowed, list) and allowed:
        return _("%(field)s is %(value)s, not %(allowed)s", field=field, value=value,
                 allowed=_(" or ").join(value_said(et, parent, fact["name"], a) for a in allowed))
    return _("%(field)s is %(value)s", field=field, value=value)


def _label(et, parent: list[str], name: str) -> str:
    """The member ``name`` of the object at ``parent`` by its label, as its input shows it."""
    return _isolated(listing.path_labels(et, [*parent, name])[-1])


def value_said(et, parent: list[str], name: str, value) -> str:
    """A value by its label (``value_labels`` of its dotted path), else a text as it is and
    any other value as JSON (``true``, ``3``)."""
    path = ".".join(k for k in [*parent, name] if not k.isdigit())  # a list's items share its labels
    shown = listing.value_label(et, path, value)
    if shown is None:
        shown = value if isinstance(value, str) else json_text(value)
    return _isolated(shown)


def _joined(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` in the UI's language."""
    if len(items) < 2:
        return "".join(items)
    return _("%(first)s and %(last)s", first=_(", ").join(items[:-1]), last=items[-1])

