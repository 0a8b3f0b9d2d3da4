"""Which record types an ``xrm_record_event`` implementation is called for.

By default an implementation is called for every record event of every type. Most answer
only a few types and return at once for the rest — which still costs a call per event, two
per imported row. ``@for_types`` says so up front: the platform then never calls the
implementation for other types, and an import of a type no implementation asks for runs
without hooks at all (one validation per row, no per-row savepoints).

And which implementation changed what (:class:`HookEdits`): an error found when a record's
data is checked after its ``before_*`` hooks names the plugin whose hook set the value
refused (:func:`explain`), or routed the record to a unit that does not exist
(:func:`unit_refusal`) — not "a plugin".
"""
from __future__ import annotations

import copy
from typing import Callable

import orjson

from .errors import ValidationError, XrmError

#: The attribute ``for_types`` sets on the implementation.
ATTRIBUTE = "xrm_record_types"


def for_types(*names: str) -> Callable:
    """Decorate an ``xrm_record_event`` implementation to be called only for records of the
    entity types ``names``::

        @hookimpl
        @for_types("ticket", "visit")
        def xrm_record_event(event, record, changes, session): ...
    """
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError("for_types() takes one or more entity type names")

    def mark(function: Callable) -> Callable:
        setattr(function, ATTRIBUTE, frozenset(names))
        return function
    return mark


def types_of(function: Callable) -> frozenset[str] | None:
    """The types ``function`` was marked with, or None (called for every type)."""
    return getattr(function, ATTRIBUTE, None)


# -- who changed what ---------------------------------------------------------------------
class HookEdits:
    """What the ``before_create``/``before_update`` hooks of one record changed, by plugin:
    kept by :meth:`xrm_core.session.Session.fire` while the record's data is checked after
    them, so an error on a value a hook set — not one the caller typed — says which plugin
    set it (:func:`explain`).

    Each implementation's effect is found by comparing the data before and after its call:
    one ``orjson`` serialisation per call (about 1 µs for a row of ten fields). Which fields
    changed is worked out only when an error needs it: a hook that normalises every row of
    an import costs no diff per row.
    """

    def __init__(self, event: str, record):
        self.event = event
        #: the record the hooks ran for (its data and unit as they left them)
        self.record = record
        #: plugins that set ``record.unit`` (routing), in order
        self.unit: list[str] = []
        #: ``(plugin, data before its call, data after it)`` of each call that changed the data
        self._steps: list[tuple[str, object, object]] = []
        self._fields: dict[str, list[str]] | None = None
        self._data, self._unit = _snapshot(record.data), record.unit

    def __bool__(self) -> bool:
        return bool(self._steps or self.unit)

    def after(self, plugin: str, record) -> None:
        """Note what ``plugin``'s implementation, just called, changed in ``record``."""
        if record.unit != self._unit:  # routing a new record, or moving a stored one
            self.unit.append(plugin)
            self._unit = record.unit
        before, now = self._data, _snapshot(record.data)
        self._data = now
        if before is not None and now is not None and not (type(before) is bytes and before == now):
            self._steps.append((plugin, before, now))
            self._fields = None
        # (data that cannot be copied at all, which a hook put in: what changed is not told)

    @property
    def fields(self) -> dict[str, list[str]]:
        """JSON pointer inside the data (``/address/city``) -> the plugins whose calls
        changed it, in the order they ran."""
        if self._fields is None:
            from .history import diff  # here: plugins import this module, history loads SQLAlchemy
            self._fields = {}
            for plugin, before, after in self._steps:
                for ptr in diff(_value(before), _value(after)):
                    names = self._fields.setdefault(ptr, [])
                    if plugin not in names:
                        names.append(plugin)
        return self._fields

    def setters(self, ptr: str, data) -> tuple[str, list[str]] | None:
        """``(verb, plugins)`` of the hooks behind an error at ``ptr`` (inside the data):
        ``set`` or ``removed`` for the value itself or a value it lies in, ``changed`` for a
        value holding one a hook set; None when no hook touched it."""
        exact, inside, around = [], [], []
        for changed, names in self.fields.items():
            if changed == ptr:
                exact += names
            elif ptr.startswith(changed + "/"):
                inside += names
            elif changed.startswith(ptr + "/"):  # ("" is the data: every change lies in it)
                around += names
        if exact:
            return ("set" if _present(data, ptr) else "removed"), list(dict.fromkeys(exact))
        if inside:
            return "set", list(dict.fromkeys(inside))
        if around:
            return "changed", list(dict.fromkeys(around))
        return None


class _Copy:
    """A deep copy of data ``orjson`` cannot write (an integer beyond 64 bits, a set)."""

    def __init__(self, value):
        self.value = value


def _value(snapshot):
    """The data a :func:`_snapshot` holds."""
    return orjson.loads(snapshot) if type(snapshot) is bytes else snapshot.value


def _snapshot(data):
    """``data`` as JSON bytes to compare with later; a deep copy when it is not JSON; None
    when it cannot be copied at all (what changed is then not told)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        try:
            return _Copy(copy.deepcopy(data))
        except Exception:  # noqa: BLE001 — an object a hook put in that refuses copying
            return None


def _present(data, ptr: str) -> bool:
    """Is there a value at JSON pointer ``ptr`` of ``data``?"""
    for key in ptr.split("/")[1:]:
        key = key.replace("~1", "/").replace("~0", "~")
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return False
    return True


def plugins_text(names: list[str], event: str) -> str:
    """``the before_create hook of plugin 'a'`` / ``the before_create hooks of plugins 'a'
    and 'b'``."""
    if len(names) == 1:
        return f"the {event} hook of plugin {names[0]!r}"
    quoted = [repr(n) for n in names]
    return f"the {event} hooks of plugins {', '.join(quoted[:-1])} and {quoted[-1]}"


def explain(error: XrmError, edits: HookEdits | None, prefix: str = "/data") -> XrmError:
    """``error``, raised while a record's data was checked after its ``before_*`` hooks, with
    each of its errors that is about a value those hooks set marked with the plugin(s) that
    set it — ``/data/code: … (set by the before_create hook of plugin 'y')`` — and its message
    saying so. Errors on what the caller sent, and errors without a pointer under ``prefix``,
    are left as they are. Changes ``error`` in place.
    """
    marked = mark(error.errors, edits, prefix)
    if marked:
        error.message += f" after {plugins_text(marked, edits.event)} changed it"
        # The data as the hooks left it — what was checked — for a caller that words the
        # errors again from it (the admin UI, in its language). An attribute, not ``extra``:
        # that goes into the REST API's problem document.
        error.checked_data = edits.record.data
    return error


def mark(errors: list, edits: HookEdits | None, prefix: str = "") -> list[str]:
    """Mark each error of ``errors`` (``{"pointer", "message"}``, pointers under ``prefix``)
    that is about a value the hooks of ``edits`` set, as :func:`explain` does; returns the
    plugins named, in order (none when no error is about such a value)."""
    if not edits or not edits.fields:
        return []
    data = edits.record.data
    marked: list[str] = []
    for item in errors:
        ptr = item.get("pointer") if isinstance(item, dict) else None
        if not isinstance(ptr, str) or not (ptr == prefix or ptr.startswith(prefix + "/")):
            continue
        found = edits.setters(ptr[len(prefix):], data)
        if found is not None:
            verb, names = found
            item["message"] = f"{item.get('message', '')} ({verb} by {plugins_text(names, edits.event)})"
            marked += names
    return list(dict.fromkeys(marked))


def unit_refusal(edits: HookEdits) -> ValidationError:
    """The refusal of a record whose ``before_create`` hooks routed it (or ``before_update``
    hooks moved it: ``record.unit``) to a unit that does not exist, naming the plugin(s)
    that set it."""
    rec, who = edits.record, plugins_text(edits.unit, edits.event)
    verb = "routed" if edits.event == "before_create" else "moved"
    return ValidationError(f"the {rec.type} was {verb} to unknown unit {rec.unit!r} by {who}",
                           [{"pointer": "/unit", "message": f"unknown unit (set by {who})"}])
