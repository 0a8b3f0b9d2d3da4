"""Append-only activity history: what happened to a record, who did it and when.

The core writes ``created`` (the baseline data), ``updated`` (a field-level diff),
``deleted``, ``related`` and ``unrelated``; users log interactions of plugin-declared kinds.
Database triggers refuse any UPDATE or DELETE of an activity (see the migrations).
"""
from __future__ import annotations

from dataclasses import dataclass

from .validation import pointer

CORE_KINDS = ("created", "updated", "deleted", "related", "unrelated")


@dataclass
class Activity:
    """One history entry (contract: ``{"id", "record", "kind", "at", "actor", "summary", "payload"}``)."""

    id: int
    record: str
    kind: str
    at: str
    actor: str
    summary: str | None
    payload: dict | None
    record_type: str | None = None

    def to_dict(self) -> dict:
        out = {"id": self.id, "record": self.record, "kind": self.kind, "at": self.at,
               "actor": self.actor, "summary": self.summary, "payload": self.payload}
        if self.record_type is not None:
            out["record_type"] = self.record_type
        return out


_MISSING = object()


def diff(old, new, path=()) -> dict[str, tuple]:
    """Field-level differences ``{json_pointer: (old, new)}``; absent values are None.

    Objects are compared key by key; arrays and scalars as whole values.
    """
    out: dict[str, tuple] = {}
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old.keys()) + [k for k in new if k not in old]:
            a, b = old.get(k, _MISSING), new.get(k, _MISSING)
            if a is _MISSING or b is _MISSING or not (isinstance(a, dict) and isinstance(b, dict)):
                if a != b or type(a) is not type(b):
                    out[pointer(path + (k,))] = (None if a is _MISSING else a, None if b is _MISSING else b)
            else:
                out.update(diff(a, b, path + (k,)))
        return out
    if old != new or type(old) is not type(new):
        out[pointer(path)] = (old, new)
    return out


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch: returns the patched copy (``target`` is not modified)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def changes_payload(changes: dict[str, tuple]) -> list[dict]:
    return [{"pointer": p, "old": o, "new": n} for p, (o, n) in changes.items()]


#: Kinds whose payload names another record in ``other``.
LINK_KINDS = ("related", "unrelated")


def others(activities: list[dict]) -> set[str]:
    """Ids of the other records named by ``related``/``unrelated`` activities."""
    return {a["payload"]["other"] for a in activities
            if a["kind"] in LINK_KINDS and isinstance(a["payload"], dict) and a["payload"].get("other")}


def hide_others(activities: list[dict], readable: set[str]) -> list[dict]:
    """Blank the other record's id in link activities when the reader may not read it.

    A record outside the reader's scope does not exist for them, not even as an id in the
    timeline of a record they can see.
    """
    for a in activities:
        other = a["payload"].get("other") if a["kind"] in LINK_KINDS and isinstance(a["payload"], dict) else None
        if other and other not in readable:
            a["payload"] = {**a["payload"], "other": None}
            a["summary"] = (a["summary"] or "").replace(other, "(a record you cannot see)")
    return activities
