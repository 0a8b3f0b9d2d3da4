"""What made a missing property required, when it is required only in some cases.

jsonschema-rs reports a property that ``dependentRequired`` or the ``required`` of a
``then``/``else`` asks for as it reports any missing property: '"withdrawn_on" is a
required property'. The error's evaluation path says which keyword asked for it; the
schema and the value say why — which present properties require it, which values the
``if`` tested — so the message can say it (:func:`xrm_core.error_wording.required_message`):
'"withdrawn_on" is required here because "status" is "withdrawn" (the schema's if/then)'.
"""
from __future__ import annotations

from .error_wording import Fact
from .validation import SCHEMA_LISTS, SCHEMA_MAPS, _at

#: Keywords whose value maps names, or lists indexes, to subschemas: in a schema path the
#: segment after one is a name or an index, never a keyword.
_NAMED = frozenset(SCHEMA_MAPS) | {"dependencies"}
_INDEXED = frozenset(SCHEMA_LISTS)
#: Keywords a path may pass through between a ``then``/``else`` and the ``required`` it
#: holds: they apply to the same value (``properties`` moves to a member: counted apart).
_IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "dependentSchemas"})


def keyword_positions(path: list) -> list[int]:
    """The indexes of ``path`` (a schema or evaluation path) that are keywords, not the
    names or indexes after a keyword such as ``properties`` or ``allOf``."""
    out, i = [], 0
    while i < len(path):
        out.append(i)
        i += 2 if path[i] in _NAMED or path[i] in _INDEXED else 1
    return out


def required_because(e, name: str, instance, schema: dict | None) -> tuple[str, list[Fact] | None] | None:
    """What made property ``name``, missing, required — ``(keyword, facts)`` for
    :func:`~xrm_core.error_wording.required_message` — or None when it is required outright.
    ``dependentRequired`` (or a ``dependentSchemas`` entry's ``required``): the properties
    whose presence requires it; an ``if``/``then``/``else``: the values its ``if`` tested (from
    the ``schema`` and the value; no facts when the ``if`` says more than values of
    properties, or without the schema)."""
    try:
        evaluated = list(e.evaluation_path)
        located = list(e.schema_path)
    except (AttributeError, TypeError):
        return None
    keywords = keyword_positions(evaluated)
    if evaluated and evaluated[-1] == "dependentRequired":
        holder = _schema_at(schema, e, located[:-1]) if schema is not None else None
        triggers = _triggers(holder, name, _at(instance, list(e.instance_path)))
        return "dependentRequired", [Fact(t) for t in triggers]
    if evaluated[-1:] == ["required"] and len(evaluated) - 3 in keywords and evaluated[-3] == "dependentSchemas":
        return "dependentRequired", [Fact(evaluated[-2])]
    branch = next((i for i in reversed(keywords) if evaluated[i] in ("then", "else")), None)
    if branch is None:
        return None
    kind = evaluated[branch]
    after = evaluated[branch + 1:]
    if schema is None or "$ref" in after or "$dynamicRef" in after or located[-len(after):] != after:
        return kind, None
    holder = _schema_at(schema, e, located[:len(located) - len(after) - 1])
    members = _members_stepped(after)
    if not isinstance(holder, dict) or "if" not in holder or members is None:
        return kind, None
    path = list(e.instance_path)
    tested = _at(instance, path[:len(path) - members])
    return kind, _if_facts(holder["if"], kind, tested)


def _schema_at(schema: dict, e, path: list):
    """The subschema at ``path`` (keys and indexes) of the schema resource the keyword of
    error ``e`` is in: ``schema`` itself, one it embeds (``$id``) or a platform schema."""
    resource = schema
    location = getattr(e, "absolute_keyword_location", None)
    if location:
        from .schema_types import lookup_ref  # here: schema_types imports this module
        resource = lookup_ref(schema, schema, location.partition("#")[0]) or schema
    return _at(resource, path)


def _members_stepped(after: list) -> int | None:
    """How many object members the schema path ``after`` (from a ``then``/``else`` to its
    ``required``) steps into, or None when it goes anywhere else (items, patterns…)."""
    steps, i = 0, 0
    while i < len(after) - 1:
        if after[i] == "properties":
            steps += 1
        elif after[i] not in _IN_PLACE:
            return None
        i += 2 if after[i] in _NAMED or after[i] in _INDEXED else 1
    return steps if after[-1:] == ["required"] else None


def _triggers(holder, name: str, value) -> list[str]:
    """The properties of object ``value`` whose presence requires ``name`` by the
    ``dependentRequired`` of ``holder`` (empty when that cannot be told)."""
    rules = holder.get("dependentRequired") if isinstance(holder, dict) else None
    if not isinstance(rules, dict) or not isinstance(value, dict):
        return []
    return [k for k, needed in rules.items() if k in value and isinstance(needed, list) and name in needed]


#: What an ``if`` may hold for the condition to be told in words: values of properties.
_IF_KEYS = frozenset({"properties", "required", "type"})


def _if_facts(test, branch: str, value) -> list[Fact] | None:
    """Why ``test`` (an ``if``) held (``then``) or failed (``else``) for the object ``value``,
    as facts about its properties; None when the ``if`` tests more than ``const``/``enum``
    values of properties, or the facts do not show it."""
    if not isinstance(test, dict) or not isinstance(value, dict) or not set(test) <= _IF_KEYS:
        return None
    props, required = test.get("properties"), test.get("required", [])
    if (not isinstance(props, dict) or not props or not isinstance(required, list)
            or test.get("type", "object") != "object"):
        return None
    facts = []
    for prop, sub in props.items():
        if not isinstance(sub, dict) or not set(sub) <= {"const", "enum", "type"} or not ({"const", "enum"} & set(sub)):
            return None
        allowed = [sub["const"]] if "const" in sub else sub["enum"]
        if not isinstance(allowed, list):
            return None
        if prop not in value:
            if branch == "then":
                return None  # held only because the property is absent: not worth a sentence
            if prop in required:
                facts.append(Fact(prop, absent=True))
        elif branch == "then":
            facts.append(Fact(prop, value[prop]))
        elif not any(_same_json(value[prop], a) for a in allowed):
            facts.append(Fact(prop, value[prop], allowed))
    return facts or None


def _same_json(a, b) -> bool:
    """Are ``a`` and ``b`` equal as JSON values (``1`` is not ``true``; ``1`` is ``1.0``)?"""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class RequiredIf:
    """The kind of a property required only in some cases: the library's ``required`` kind,
    with what required it in ``as_dict()`` (``keyword``: dependentRequired, then or else;
    ``facts``: each :class:`~xrm_core.error_wording.Fact` as a dict, or None) for wording it in
    another language."""

    name = "required"

    def __init__(self, kind, keyword: str, facts: list[Fact] | None):
        self.kind, self.keyword, self.facts = kind, keyword, facts

    def as_dict(self) -> dict:
        return {**self.kind.as_dict(), "keyword": self.keyword,
                "facts": None if self.facts is None else [f._asdict() for f in self.facts]}
