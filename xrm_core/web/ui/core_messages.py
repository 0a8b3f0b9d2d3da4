"""The core's errors in the UI's language.

The core words its errors in English (``no record 'x'``, ``a person with national_id="X"
already exists``), and the REST API and the CLI answer exactly that text. A Persian or
Chinese page says what happened in its own language instead, from what an error carries
as data — never by parsing its English sentence:

- its **class** (NotFound, PermissionDenied, Conflict, PreconditionFailed, …), which says
  what kind of refusal it is;
- the **pointers** of its ``errors`` (``/data/national_id`` "already used" is a unique
  value taken, ``/relationships`` is a delete held back by links, ``/target`` "already
  related" a link that exists or is one too many);
- the short fixed words the core puts at a pointer (``empty``, ``already used``, and the
  two with a value in them, ``12,345 characters`` and ``expected a record of type person``), worded
  here one by one; any other pointer message (a plugin's, a schema's) stays as written.

The English message is kept as the **detail** of what is shown (marked ``lang="en"`` so a
screen reader reads it with an English voice, and isolated so it keeps its reading order on
a right-to-left page): nothing the core said is dropped. An English page shows the core's
message as it always did. A plugin's or an unknown error class falls back to its nearest
core class, so it still gets a sentence in the user's language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

from ...db import DatabaseUnavailable
from ...errors import (AuthenticationError, Conflict, DatabaseBusy, DefinitionError, NotFound, PermissionDenied,
                       PluginError, PreconditionFailed, ValidationError, XrmError)
from .forms import unescape_token
from .i18n import digits, lang


@dataclass
class Explained:
    """An error as a page shows it.

    ``text`` is what happened in the UI's language; ``detail`` the core's own message when
    ``text`` is not it (always English); ``items`` the error's pointers, each
    ``{"pointer", "message", "lang"}`` where ``lang`` is ``"en"`` for a message left in
    English on a page in another language (else None)."""

    text: str
    detail: str | None = None
    items: list[dict] = field(default_factory=list)

    def said(self, wrap=None) -> dict:
        """What a flash message or a form shows: ``{"text", "detail"}`` (the ``said`` macro
        renders it); ``wrap(text)`` puts the text in a sentence of its own
        (``lambda m: _("Not deleted: %(msg)s", msg=m)``)."""
        return {"text": wrap(self.text) if wrap else self.text, "detail": self.detail}


def explain(e: XrmError, label=None) -> Explained:
    """``e`` as the current page should say it. ``label(field_name)`` names a record field
    in the UI's language (for a unique value taken); without it the field's name is shown."""
    items = translated_items(e.errors)
    if lang() == "en":
        return Explained(e.message, None, items)
    text = sentence(e, label)
    return Explained(text, e.message if e.message and e.message != text else None, items)


def sentence(e: XrmError, label=None) -> str:
    """What kind of refusal ``e`` is, in the UI's language, from its class and pointers."""
    pointers = [err.get("pointer", "") for err in e.errors if isinstance(err, dict)]
    words = {err.get("message") for err in e.errors if isinstance(err, dict)}
    if isinstance(e, DatabaseUnavailable):  # a kind of DatabaseBusy, with other words
        return _("The database cannot be reached right now. Try again shortly; a change sent as the "
                 "connection was lost may or may not have been saved: check before sending it again.")
    if isinstance(e, DatabaseBusy):
        return _("The database was busy saving another change at the same time: nothing was saved. Try again.")
    if isinstance(e, PluginError):
        return _("Plugin %(plugin)s failed, and nothing was changed.", plugin=e.plugin)
    if isinstance(e, NotFound):
        return _("It does not exist, or it is outside what you may see.")
    if isinstance(e, PermissionDenied):
        return _("Your roles do not allow this.")
    if isinstance(e, PreconditionFailed):
        return _("It was changed by someone else meanwhile. Reload it and try again.")
    if isinstance(e, AuthenticationError):
        return _("You are not logged in, or your login has ended.")
    if isinstance(e, Conflict):
        if "/relationships" in pointers:
            return _("Its links to other records do not allow this: remove those links first.")
        fields = [_field(p) for p in pointers if p.startswith("/data/")]
        if fields and words == {"already used"}:
            shown = _(", ").join(dict.fromkeys((label(f) if label else f) for f in fields))
            return _("Another record already has the same %(fields)s.", fields=shown)
        if pointers and set(pointers) <= {"/source", "/target"} and words == {"already related"}:
            return _("These records are already linked, or the relationship allows no further link here.")
        return _("This conflicts with what is already stored.")
    if isinstance(e, DefinitionError):
        return _("The definition is not valid.")
    if isinstance(e, ValidationError):
        if pointers and all(p.startswith(("/where", "/sort", "/search")) for p in pointers):
            return _("The filter or search cannot be used.")
        return _("What was entered is not valid.")
    return _("This could not be done.")


def _field(pointer: str) -> str:
    """The top-level field a ``/data/...`` pointer names."""
    return unescape_token(pointer.split("/")[2])


def translated_items(errors) -> list[dict]:
    """``errors`` (``{"pointer", "message"}``) with each message the core words in a fixed
    form in the UI's language; any other keeps its text and is marked ``lang: "en"`` on a
    page in another language."""
    out = []
    for err in errors or []:
        if not isinstance(err, dict):
            continue
        message = err.get("message", "")
        text = pointer_word(message)
        out.append({**err, "message": text if text is not None else message,
                    "lang": "en" if text is None and lang() != "en" and message else None})
    return out


#: ``N characters`` (a summary or label over its limit), as the core writes the count.
_COUNT = re.compile(r"(\d[\d,]*) characters")
_EXPECTED = re.compile(r"expected a record of type (\S+)")
#: The password policy's and the token lifetime's limits (accounts.check_password, token_expiry).
_AT_LEAST_CHARS = re.compile(r"at least (\d+) characters")
_AT_MOST_CHARS = re.compile(r"at most (\d+) characters")
_AT_MOST_DAYS = re.compile(r"at most (\d+) days")


#: The note the core adds to an error on a value a plugin's ``before_*`` hook set
#: (:func:`xrm_core.record_events.mark`): `` (set by the before_create hook of plugin 'x')``.
_HOOK_NOTE = re.compile(r" \((set|removed|changed) by the before_(?:create|update) hooks? of plugins? (.+)\)")


def split_hook_note(message: str) -> tuple[str, str | None]:
    """``(message without the core's hook note, the note in the UI's language or None)``,
    so that the message itself can be looked up and worded as without it."""
    m = _HOOK_NOTE.search(message) if isinstance(message, str) else None
    if m is None or m.end() != len(message):
        return message, None
    plugins = m.group(2).replace(" and ", ", ")
    note = {"set": _("(set by a plugin: %(plugins)s)", plugins=plugins),
            "removed": _("(removed by a plugin: %(plugins)s)", plugins=plugins),
            "changed": _("(changed by a plugin: %(plugins)s)", plugins=plugins)}[m.group(1)]
    return message[:m.start()], note


def with_hook_note(word, note: str | None):
    """``word`` with the hook ``note`` of :func:`split_hook_note` after it (None stays None)."""
    return word if word is None or note is None else f"{word} {note}"


def pointer_word(message) -> str | None:
    """A message the core puts at a pointer, in the UI's language, or None when it is not
    one of the core's fixed words (a plugin's or a schema's own text). English: as is. A
    hook's note after it (:func:`split_hook_note`) is kept, worded too."""
    if not isinstance(message, str):
        return None
    if lang() == "en":
        return message
    message, note = split_hook_note(message)
    if note is not None:
        return with_hook_note(pointer_word(message), note)
    fixed = {"already used": _("already used"), "already related": _("already related"),
             "same as source": _("the same record at both ends"), "empty": _("is empty"),
             "not an object": _("not an object"), "not an integer": _("not a whole number"),
             "not a declared activity kind": _("not a declared kind of interaction"),
             "not a relationship of this type": _("not a relationship of this type"),
             "unknown entity type": _("unknown entity type"), "unknown unit": _("unknown unit"),
             "repeated": _("repeated"), "conflict": _("conflict"), "in the past": _("in the past"),
             "at least 1 day": _("at least 1 day")}
    if message in fixed:
        return fixed[message]
    if m := _COUNT.fullmatch(message):
        return _("%(n)s characters", n=digits(m.group(1).replace(",", "")))
    if m := _EXPECTED.fullmatch(message):
        return _("must be a %(type)s record", type=m.group(1))
    if m := _AT_LEAST_CHARS.fullmatch(message):
        return _("at least %(n)s characters", n=digits(m.group(1)))
    if m := _AT_MOST_CHARS.fullmatch(message):
        return _("at most %(n)s characters", n=digits(m.group(1)))
    if m := _AT_MOST_DAYS.fullmatch(message):
        return _("at most %(n)s days", n=digits(m.group(1)))
    return None
