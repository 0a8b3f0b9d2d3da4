"""The record page's timeline: each activity with its kind's label, a summary in the
user's language, the records it names by title, and the labels of the values its diffs
show."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ... import db, relationships
from . import forms, listing
from .i18n import tr
from .record_titles import _titles_of
from .relationship_labels import relationship_label, relationship_sources


def _activity_kinds(s) -> list[tuple[str, str, str]]:
    """``(name, label, description)`` of every declared activity kind, in the UI's language
    (the declaring plugin's catalogue); the description is "" when the kind has none."""
    rows = s.conn.execute(select(db.activity_kinds.c.name, db.activity_kinds.c.definition,
                                 db.activity_kinds.c.source).order_by(db.activity_kinds.c.name))
    return [(name, tr(d.get("label"), name, source),
             tr(d.get("description"), "", source) if d.get("description") else "") for name, d, source in rows]


def _diff_label(types: dict):
    """``label(record_type, pointer, value)``: the label of a value a timeline diff shows at a
    top-level field (``/status``) of a type with ``value_labels``, else a date or time as the
    page writes it (:func:`.listing.date_text`), else None."""
    def label(record_type, ptr, value):
        et = types.get(record_type)
        if et is None or not isinstance(ptr, str) or not ptr.startswith("/"):
            return None
        keys = [forms.unescape_token(k) for k in ptr[1:].split("/")]
        top = listing.value_label(et, keys[0], value) if len(keys) == 1 else None
        return top or listing.date_text(et, keys, value)
    return label


def _core_kind_labels() -> dict:
    # Lower case in English, as the kinds' own names read (the timeline showed the names).
    return {"created": _("created"), "updated": _("updated"), "deleted": _("deleted"),
            "related": _("link added"), "unrelated": _("link removed")}


def _timeline_entries(s, timeline, kind_labels: dict, kind_help: dict | None = None) -> list[dict]:
    """Each activity with its kind's label (and description, ``kind_help``) in the user's
    language and the summary to show.

    The core writes English summaries for its own kinds (``created person``, ``updated
    name, age``, ``knows → person ID``); they are replaced here by what the rest of the entry
    already shows in the user's language — the diff table, or the relationship's label and a
    link to the other record. A summary given by a plugin or an import is shown as written.
    """
    labels = {**kind_labels, **_core_kind_labels()}
    rel_types = relationships.load_all(s.conn)
    sources = relationship_sources(s) if rel_types else {}
    types = s.entity_types_map()
    out = []
    for a in timeline:
        record_type = a.get("record_type") or ""
        entry = {"a": a, "kind": labels.get(a["kind"], a["kind"]), "summary": a["summary"] or "", "link": None,
                 "kind_help": (kind_help or {}).get(a["kind"], ""),
                 # A related record's entry names its type by label (the name read as English).
                 "record_label": listing.type_label(s.entity_type(record_type)) if record_type in types else record_type}
        payload = a["payload"] if isinstance(a["payload"], dict) else {}
        summary, rtype = entry["summary"], a.get("record_type") or ""
        if a["kind"] in ("created", "deleted") and summary == f"{a['kind']} {rtype}":
            entry["summary"] = ""
        elif a["kind"] == "updated" and isinstance(payload.get("changes"), list) and summary == _updated_summary(payload["changes"]):
            entry["summary"] = ""
        elif a["kind"] in ("related", "unrelated") and isinstance(payload.get("type"), str):
            rt = rel_types.get(payload["type"])
            other_type = _core_link_summary(a["kind"], summary, payload, rt)
            if other_type is not None:
                outgoing = summary.split(" ")[1] == "→"
                entry["summary"] = relationship_label(rt, outgoing, sources)
                entry["link"] = {"type": other_type, "id": payload["other"],
                                 "label": listing.type_label(s.entity_type(other_type)) if other_type in types else other_type}
        out.append(entry)
    titles = _titles_of(s, {e["a"]["record"] for e in out} | {e["link"]["id"] for e in out if e["link"]})
    for e in out:
        e["record_title"] = titles.get(e["a"]["record"], e["a"]["record"])
        if e["link"]:
            e["link"]["title"] = titles.get(e["link"]["id"], e["link"]["id"])
    return out


def _core_link_summary(kind: str, summary: str, payload: dict, rt) -> str | None:
    """The type of the other record when ``summary`` is the one the core writes for a link
    added (``knows → person ID``) or removed (``knows → ID removed``: no type in it, so the
    relationship type's end), else None (a summary of a plugin's own, shown as written). A
    removed link's entry showed the core's English sentence with the other record's id."""
    parts = summary.split(" ")
    if not rt or len(parts) != 4 or parts[0] != payload.get("type") or parts[1] not in ("→", "←"):
        return None
    other = payload.get("other")
    if kind == "related" and parts[3] == other:
        return parts[2]
    if kind == "unrelated" and parts[2] == other and parts[3] == "removed":
        end = rt.get("target" if parts[1] == "→" else "source")
        return end if isinstance(end, str) and end != "*" else None  # "*": the summary says no type
    return None


def _updated_summary(changes) -> str:
    """The summary the core writes for an update with these changes (``records._summarise``)."""
    fields = [c.get("pointer", "").lstrip("/") for c in changes if isinstance(c, dict)]
    return "updated " + ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
