"""The wording of validation errors: how values are shown in a message, and the messages
that replace the validator's own where those leave the admin guessing.

:mod:`xrm_core.validation` decides which errors an instance has and where they point; this
module only words them — a long value shown by its start (:func:`shorten_values`), values
listed as JSON (:func:`listed`), what the options of an ``anyOf``/``oneOf`` expect
(:func:`why_no_option`), what a valid value of a ``format`` looks like
(:func:`format_message`). The CLI, the REST API's 422 bodies and import reports print these
messages; the admin UI words the same errors in its own language from the error kinds.
"""
from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import jsonschema_rs
import orjson

_Kind = jsonschema_rs.ValidationErrorKind


#: A value echoed in an error message longer than this many characters is shown by its start
#: (:func:`shorten_values`): a 20,000-character text over ``maxLength`` must not make a
#: 20,000-character message in the CLI, an import report or a 422 body.
SHOWN_VALUE_LIMIT = 120
#: How many characters of such a value are shown.
SHOWN_VALUE_START = 60
#: A JSON string literal (as the validator quotes values), or a quoted name or Python repr
#: (``'name' was unexpected``, ``'abc' is not an integer``): one pattern, matched left to
#: right, so an apostrophe inside a JSON string starts nothing.
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", re.DOTALL)


def shorten_values(message: str, instance=None) -> str:
    """``message`` with each value it repeats that is longer than :data:`SHOWN_VALUE_LIMIT`
    characters cut to its first :data:`SHOWN_VALUE_START` and marked with its length:
    ``"nnnn…" (20,000 characters) is longer than 5000 characters``. Messages without such a
    value are returned unchanged.

    ``instance`` is the value the error is about (its JSON text, an array or object, is cut
    as a whole); quoted texts — JSON string literals, quoted property names — are cut where
    they stand. A cut never splits a character from the marks combined with it, a surrogate
    pair or a JSON escape.
    """
    if len(message) <= SHOWN_VALUE_LIMIT:
        return message
    if isinstance(instance, (list, dict)):
        try:
            text = orjson.dumps(instance).decode()
        except TypeError:  # not JSON orjson writes (an integer beyond 64 bits)
            text = ""
        if len(text) > SHOWN_VALUE_LIMIT and text in message:
            message = message.replace(text, f"{_json_start(text)}… ({len(text):,} characters of JSON)")
    return _QUOTED.sub(_shorter_literal, message)


def _shorter_literal(m) -> str:
    literal = m.group(0)
    if len(literal) <= SHOWN_VALUE_LIMIT or literal[0] == "'":
        return _shorter_quoted(m)
    try:
        value = orjson.loads(literal)
    except orjson.JSONDecodeError:
        return _shorter_quoted(m)
    if not isinstance(value, str):
        return literal
    start = value[:_cut(value, SHOWN_VALUE_START)]
    return f"{orjson.dumps(start).decode()[:-1]}…\" ({len(value):,} characters)"


def _shorter_quoted(m) -> str:
    quoted = m.group(0)
    if len(quoted) <= SHOWN_VALUE_LIMIT:
        return quoted
    inner = quoted[1:-1]
    q = quoted[0]
    return f"{q}{_json_start(inner)}…{q} ({len(inner):,} characters)"


def _json_start(text: str) -> str:
    """The first :data:`SHOWN_VALUE_START` characters of ``text`` (JSON or a repr), not
    ending inside a backslash escape."""
    start = text[:_cut(text, SHOWN_VALUE_START)]
    # a \uXXXX escape cut short, or a lone backslash left of an escape
    start = re.sub(r"\\u[0-9a-fA-F]{0,3}$", "", start)
    trailing = len(start) - len(start.rstrip("\\"))
    return start[:-1] if trailing % 2 else start


def _cut(text: str, at: int) -> int:
    """Where to cut ``text`` at most ``at`` characters in so that what is shown keeps each
    character whole: not before a combining mark, a zero-width joiner or what it joins, a
    variation selector, an emoji modifier, the low half of a surrogate pair, or between the
    two regional indicators of a flag."""
    if len(text) <= at:
        return len(text)
    cut = at
    while cut > 0 and (_joins_left(text[cut]) or text[cut - 1] == "\u200d"
                       or (_regional(text[cut]) and _regional(text[cut - 1])
                           and _regional_run(text, cut) % 2)):
        cut -= 1
    return cut


def _joins_left(ch: str) -> bool:
    """Does ``ch`` belong with the character before it?"""
    o = ord(ch)
    return (unicodedata.combining(ch) != 0 or unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or o == 0x200D or 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF
            or 0x1F3FB <= o <= 0x1F3FF or 0xDC00 <= o <= 0xDFFF or 0xE0020 <= o <= 0xE007F)


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _regional_run(text: str, end: int) -> int:
    """How many regional indicators end just before ``end``."""
    n = 0
    while end - n > 0 and _regional(text[end - n - 1]):
        n += 1
    return n


#: The library's wording of one unexpected property, by the kind of error reporting it.
UNEXPECTED = {"additionalProperties": "Additional properties are not allowed ({name} was unexpected)",
               "unevaluatedProperties": "Unevaluated properties are not allowed ({name} was unexpected)"}


#: What an array failing ``minContains``/``maxContains`` does, for its error message.
CONTAINS_LIMITS = {"minContains": 'has fewer items matching "contains" than "minContains" asks for',
                    "maxContains": 'has more items matching "contains" than "maxContains" allows'}


def contains_message(instance, keyword: str, limit) -> str:
    """The message of an array failing ``keyword`` (``minContains`` or ``maxContains``) with
    the value ``limit``: how many matching items it asks for, or allows (``limit`` None: not
    known, the keyword named alone)."""
    if type(limit) is not int:
        return f"{json_text(instance)} {CONTAINS_LIMITS[keyword]}"
    items = "item" if limit == 1 else "items"
    if keyword == "minContains":
        return f'{json_text(instance)} has fewer than {limit} {items} matching "contains" ("minContains": {limit})'
    return f'{json_text(instance)} has more than {limit} {items} matching "contains" ("maxContains": {limit})'


#: Most values an error message lists (an ``enum``'s, the ``const``s of ``oneOf`` options).
LISTED_VALUES = 20


def json_text(value) -> str:
    """``value`` as JSON text (an integer beyond 64 bits, which orjson refuses, as Python writes it)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def composed_hint(sent: list, allowed: list, shown=repr) -> str:
    """A sentence for a text that differs from a value of ``allowed`` only in how its accents
    are encoded (``E`` + U+0301 for ``É``, Unicode NFD, as macOS and some keyboards write
    them): the refusal's list shows that value looking the same as the one refused. Empty
    when no text of ``sent`` is such. ``shown`` writes a value (``repr``, or :func:`json_text`
    where the message quotes values as JSON). Filters and validation (``enum``, ``const``)
    say it alike; nothing stored is normalised."""
    for v in sent:
        if not isinstance(v, str):
            continue
        for a in allowed:
            if isinstance(a, str) and a != v and unicodedata.normalize("NFC", v) == unicodedata.normalize("NFC", a):
                return (f"; {shown(v)} is written with decomposed accents (Unicode NFD) and differs from {shown(a)} "
                        f"only in that: type {shown(a)} as the schema writes it")
    return ""


def listed(values) -> str:
    """``"a", "b" or "c"``: values as JSON, at most :data:`LISTED_VALUES` of them."""
    shown = [json_text(v) for v in list(values)[:LISTED_VALUES]]
    more = len(values) - len(shown)
    if not shown:  # "enum": [] allows nothing
        return "no value"
    if more:
        return ", ".join(shown) + f" or {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "array": "an array", "object": "an object", "null": "null"}


def why_no_option(options, path: list, value) -> str | None:
    """Why a value fits no ``anyOf``/``oneOf`` option, when every option says it alike, to
    follow the library's summary ("… is not valid under any of the schemas listed in the
    'oneOf' keyword"), which names no option; or None.

    - every option refuses the value itself by its type, ``const``, ``enum``, ``format`` or
      ``pattern``: what they expect (``expected an integer, or one of "urgent" or "low"``;
      ``expected a valid email (e.g. name@example.org), or text matching "^\\+?[0-9]…"``);
    - every option refuses one member by its ``const`` or ``enum`` (a discriminator such as
      ``"via": {"const": "email"}``): the values that member may take (``"via" must be
      "email" or "phone", not "fax"``);
    - every option requires a member the object lacks: that it is missing.
    """
    try:
        expected, members, missing = [], None, None
        for opt in options:
            here = [x.kind for x in opt if list(x.instance_path) == path
                    and isinstance(x.kind, (_Kind.Type, _Kind.Constant, _Kind.Enum, _Kind.Format, _Kind.Pattern))]
            if expected is not None:
                expected = expected + [_expectation(here[0])] if here else None
            keyed = {x.instance_path[-1]: x.kind for x in opt
                     if len(x.instance_path) == len(path) + 1 and list(x.instance_path[:-1]) == path
                     and isinstance(x.kind, (_Kind.Constant, _Kind.Enum))}
            members = [keyed] if members is None else members + [keyed]
            required = {x.kind.property for x in opt if list(x.instance_path) == path
                        and isinstance(x.kind, _Kind.Required) and isinstance(x.kind.property, str)}
            missing = required if missing is None else missing & required
        if expected:
            return "expected " + ", or ".join(dict.fromkeys(expected))
        common = set.intersection(*(set(m) for m in members)) if members else set()
        name = min((n for n in common if isinstance(n, str)), default=None)
        if name is not None and isinstance(value, dict) and name in value:
            allowed: dict[str, object] = {}
            for m in members:
                kind = m[name]
                for v in (kind.options if isinstance(kind, _Kind.Enum) else [kind.expected_value]):
                    allowed.setdefault(json_text(v), v)
            return f"{json_text(name)} must be {listed(list(allowed.values()))}, not {json_text(value[name])}"
        if missing and isinstance(value, dict):
            return f"{json_text(min(missing))} is missing: every option requires it"
    except (AttributeError, TypeError):
        return None
    return None


def _expectation(kind) -> str:
    """What an option whose ``type``, ``const`` or ``enum`` refused a value expects."""
    if isinstance(kind, _Kind.Type):
        types = kind.types if isinstance(kind.types, list) else [kind.types]
        return " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
    if isinstance(kind, _Kind.Enum):
        return f"one of {listed(kind.options)}" if kind.options else "no value (an empty enum)"
    if isinstance(kind, _Kind.Format):
        example = FORMAT_EXAMPLES.get(kind.format)
        return f"a valid {kind.format}" + (f" (e.g. {example})" if example else "")
    if isinstance(kind, _Kind.Pattern):
        return f"text matching {json_text(kind.pattern)}"
    return json_text(kind.expected_value)


#: A valid value of each checked format, for error messages (the UI's too).
FORMAT_EXAMPLES = {"date": "2026-01-31", "date-time": "2026-01-31T09:30:00Z", "time": "09:30:00Z",
                   "email": "name@example.org", "uuid": "123e4567-e89b-12d3-a456-426614174000",
                   "uri": "https://example.org/x"}
#: What else the error message says of a format's values, before the example.
_FORMAT_RULES = {"date": "YYYY-MM-DD, ", "date-time": "RFC 3339, ", "time": "RFC 3339, ", "uri": "absolute, "}


def format_message(value, fmt: str) -> str:
    # The library says '"x" is not a "date"'; say what a valid one looks like.
    shown = orjson.dumps(value).decode() if isinstance(value, str) else repr(value)
    if fmt == "date-time":
        from .instants import why_no_instant  # here: instants imports schema_types, which imports validation
        why = why_no_instant(value)
        if why:  # valid RFC 3339, but no instant to compare or sort by (see instants)
            return f"{shown} {why}"
    example = FORMAT_EXAMPLES.get(fmt)
    return f"{shown} is not a valid {fmt}" + (f" ({_FORMAT_RULES.get(fmt, '')}e.g. {example})" if example else "")


class Fact(NamedTuple):
    """One thing that made a property required (see :func:`required_message`): property
    ``name`` is present (``dependentRequired``), holds ``value`` (an ``if`` that held), or,
    for an ``if`` that failed, holds ``value`` rather than one of ``allowed``, or is
    ``absent``."""

    name: str
    value: object = None
    allowed: list | None = None
    absent: bool = False


#: Where a required property's condition comes from, as a message names it.
_CONDITIONS = {"then": "the schema's if/then", "else": "the schema's if/then/else"}


def required_message(name: str, keyword: str, facts: list[Fact] | None) -> str:
    """The message of a property ``name`` missing where ``keyword`` (``dependentRequired``,
    ``then`` or ``else``) requires it, saying why: ``"withdrawn_on" is required when
    "status" is present``, ``"withdrawn_on" is required here because "status" is
    "withdrawn" (the schema's if/then)``. Without ``facts`` (an ``if`` testing more than
    values of properties), the rule is named alone."""
    missing = json_text(name)
    if keyword == "dependentRequired":
        if not facts:
            return f"{missing} is required when another property is present (the schema's dependentRequired)"
        names = [json_text(f.name) for f in facts]
        shown = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{missing} is required when {shown} {'is' if len(names) == 1 else 'are'} present"
    if not facts:
        rule = "the schema's if/then" if keyword == "then" else "the schema's if/else"
        return f"{missing} is required here because {rule} applies"
    return f"{missing} is required here because {' and '.join(map(_fact, facts))} ({_CONDITIONS[keyword]})"


def _fact(fact: Fact) -> str:
    if fact.absent:
        return f"{json_text(fact.name)} is absent"
    said = f"{json_text(fact.name)} is {json_text(fact.value)}"
    if fact.allowed is None:
        return said
    return f"{said}, not {'' if len(fact.allowed) < 2 else 'one of '}{listed(fact.allowed)}"
