"""Relationship types as the record pages say them: labels, inverse labels, descriptions
and headings in the UI's language, each translated by the catalogue of the plugin that
declared the type (the core's definitions carry the English words alone)."""
from __future__ import annotations

from sqlalchemy import select

from ... import db
from .i18n import RTL, lang, tr


def relationship_sources(s) -> dict[str, str]:
    """Who declared each relationship type (a plugin's name, or "admin"): its labels are
    translated by that plugin's catalogue (the core's ``relationships.load_all`` returns the
    definitions alone)."""
    return {name: source for name, source in
            s.conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.source))}


def relationship_label(rt: dict, outgoing: bool, sources: dict) -> str:
    """A relationship type's label as read from the record at its ``outgoing`` (source)
    end, or its inverse label from the target's, in the UI's language."""
    return tr(rt.get("label") if outgoing else rt.get("inverse_label"), rt["name"], sources.get(rt["name"]))


def relationship_description(rt: dict, sources: dict) -> str:
    """A relationship type's ``description`` in the UI's language (the declaring plugin's
    catalogue, as its labels), "" when it has none."""
    text = rt.get("description")
    return tr(text, "", sources.get(rt["name"])) if text else ""


def relationship_heading(rt: dict, outgoing: bool, sources: dict, other_label: str) -> str:
    """A relationship as the record at one end reads it, with the other end's type:
    ``owns → Asset`` from the source, ``owned by ← Person`` from the target. On a
    right-to-left page the arrows turn round: they point along the reading order (an arrow
    is not mirrored with the text, so "مالک است → دارایی" pointed back at the label)."""
    arrow = "→" if outgoing else "←"
    if lang() in RTL:
        arrow = {"→": "←", "←": "→"}[arrow]
    return f"{relationship_label(rt, outgoing, sources)} {arrow} {other_label}"


def relationship_help(related: list[dict], links: list[dict]) -> list[tuple[str, str]]:
    """``(heading, description)`` of each relationship the record page names (its links, and
    the choices of its link form) that has a description, once each, as read from this
    record (:func:`relationship_heading`): the list under the related records, which the
    link picker points to."""
    seen, out = set(), []
    for item in [*related, *links]:
        key = (item["heading"], item.get("description", ""))
        if key[1] and key not in seen:
            seen.add(key)
            out.append(key)
    return out
