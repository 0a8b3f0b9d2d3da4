"""JSON Schema validation: compiled validators (jsonschema-rs) with the platform's registry.

Why jsonschema-rs: it implements Draft 2020-12 completely (``$dynamicRef``,
``unevaluatedProperties``, ``if/then/else``), asserts ``format`` when asked, and validates
millions of small objects per second — the pure-Python ``jsonschema`` package manages about
33k/s here, which alone would exceed the import budget. It also reports each error's
instance path, so one library serves both the hot path (``is_valid``) and error detail
(``iter_errors``).

This module finds an instance's errors and where they point; how their messages show
values and what replaces the library's wording is :mod:`xrm_core.error_wording`.
"""
from __future__ import annotations

from collections import Counter
from functools import cache
from urllib.parse import quote, unquote, urldefrag

import jsonschema_rs
import orjson
import xrm_schemas

# The names other modules import from here (shorten_values, SHOWN_VALUE_*, FORMAT_EXAMPLES)
# stay importable from here since they moved to error_wording.
from .error_wording import (CONTAINS_LIMITS, FORMAT_EXAMPLES, SHOWN_VALUE_LIMIT, SHOWN_VALUE_START,  # noqa: F401
                            UNEXPECTED, composed_hint, contains_message, format_message, json_text, listed,
                            required_message, shorten_values, why_no_option)
from .errors import DefinitionError, ValidationError

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def pointer(path) -> str:
    """RFC 6901 JSON pointer for a sequence of keys/indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def pointer_keys(ptr: str) -> list[str]:
    """The keys of RFC 6901 JSON pointer ``ptr`` (the inverse of :func:`pointer`)."""
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr.split("/")[1:]]


@cache
def registry() -> jsonschema_rs.Registry:
    """Every schema of ``schemas/`` under its ``$id`` (https://xrm.dev/schemas/NAME)."""
    return jsonschema_rs.Registry(_platform_resources())


def _platform_resources() -> list[tuple[str, dict]]:
    """``(URI, schema)`` of every schema of ``schemas/``."""
    resources = []
    for name in xrm_schemas.names():
        doc = xrm_schemas.load(name)
        resources.append((doc.get("$id", xrm_schemas.BASE_URI + name), doc))
    return resources


def compile_schema(schema: dict, base_uri: str, where: str = "/schema"):
    """Check ``schema`` is valid JSON Schema 2020-12 and return a compiled validator.

    Raises DefinitionError naming the pointer (inside the definition, under ``where``) of
    every problem: a keyword misused, an invalid regex, a ``$ref`` that resolves nowhere.
    """
    if not isinstance(schema, dict):
        raise DefinitionError("schema must be a JSON object", [{"pointer": where, "message": "not an object"}])
    declared = schema.get("$schema", DRAFT_2020_12)
    if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12:
        raise DefinitionError(
            "only JSON Schema 2020-12 is supported",
            [{"pointer": where + "/$schema", "message": f"{declared!r} is not {DRAFT_2020_12!r}"}])
    schema = {"$schema": DRAFT_2020_12, **schema}
    problems = [{"pointer": where + pointer(e.instance_path), "message": _meta_message(e)}
                for e in _draft_2020_12().iter_errors(schema)]
    if problems:
        problems.sort(key=lambda e: e["pointer"])
        raise DefinitionError("schema is not valid JSON Schema 2020-12", problems)
    try:
        return _compile(schema, base_uri)
    except jsonschema_rs.ValidationError as e:
        refs = _unresolvable_refs(schema, base_uri)
        if refs:
            raise DefinitionError("schema has an unresolvable $ref",
                                  [{"pointer": where + pointer(path), "message": msg} for path, msg in refs]) from None
        raise DefinitionError("schema cannot be compiled",
                              [{"pointer": where, "message": str(e).splitlines()[0]}]) from None


def _compile(schema: dict, base_uri: str):
    # offline: a schema never makes the server fetch a URL; only schemas/ is resolvable.
    return jsonschema_rs.validator_for(schema, validate_formats=True, registry=registry(),
                                       base_uri=base_uri, offline=True, formats=_formats())


@cache
def _formats() -> dict:
    """The formats checked beyond the library's own check: a ``date-time`` must also name
    an instant both engines can order (:func:`xrm_core.instants.has_instant`). A value that
    names none (``9999-12-31T23:59:59-05:00`` is in the year 10000 in UTC) would match no
    filter and sort apart from its time: refused where it is written, with the reason
    (:func:`xrm_core.error_wording.format_message`)."""
    from .instants import has_instant  # here: instants imports schema_types, which imports this module
    rfc3339 = jsonschema_rs.validator_for({"format": "date-time"}, validate_formats=True).is_valid

    def date_time(value) -> bool:
        return rfc3339(value) and has_instant(value)
    return {"date-time": date_time}


@cache
def _draft_2020_12():
    """The 2020-12 meta-schema, with ``format`` asserted so a bad ``pattern`` regex is caught."""
    return jsonschema_rs.Draft202012Validator({"$ref": DRAFT_2020_12}, validate_formats=True)


def _meta_message(e) -> str:
    path = list(e.instance_path)
    if path and path[-1] == "type":
        return f"{e.instance!r} is not a JSON type (string, number, integer, boolean, array, object, null)"
    return e.message


#: Keywords whose values are data, not subschemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = {"const", "enum", "examples", "default"}
_REF_KEYWORDS = ("$ref", "$dynamicRef")


def _ref_locations(node, path=()):
    """(path, keyword) of every reference in a schema."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _REF_KEYWORDS and isinstance(v, str):
                yield path + (k,)
            elif k not in _DATA_KEYWORDS:
                yield from _ref_locations(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _ref_locations(v, path + (i,))


def _without_refs(schema, keep):
    """A copy of ``schema`` with every reference removed except the one at path ``keep``."""
    def strip(node, path):
        if isinstance(node, dict):
            return {k: (v if k in _DATA_KEYWORDS else strip(v, path + (k,))) for k, v in node.items()
                    if not (k in _REF_KEYWORDS and isinstance(v, str) and path + (k,) != keep)}
        if isinstance(node, list):
            return [strip(v, path + (i,)) for i, v in enumerate(node)]
        return node
    return strip(schema, ())


def _unresolvable_refs(schema: dict, base_uri: str) -> list[tuple[tuple, str]]:
    """Locate the references that make ``schema`` fail to compile (error path only): each
    reference whose probe (:func:`ref_failure`) still fails is a culprit."""
    found = []
    for path in _ref_locations(schema):
        failure = ref_failure(schema, base_uri, path)
        if failure is not None:
            found.append((path, failure))
    return found


def ref_failure(schema: dict, base_uri: str, path: tuple) -> str | None:
    """Why the reference at ``path`` (keys and indexes, ending with ``$ref`` or
    ``$dynamicRef``) of ``schema`` does not resolve for the validator, or None when it does.

    Compiles a probe: the schema with every other reference removed (which only loosens it)
    and the subschema holding this reference made reachable from the root — the compiler
    skips unreachable ``$defs``. Offline, as every compile: nothing is fetched.
    """
    probe = _without_refs({"$schema": DRAFT_2020_12, **schema}, path)
    holder = "#" + quote(pointer(path[:-1]), safe="/~$")
    probe["allOf"] = [*probe.get("allOf", []), {"$ref": holder}]
    try:
        _compile(probe, base_uri)
    except jsonschema_rs.ValidationError as e:
        ref = schema
        for key in path:
            ref = ref[key]
        return f"cannot resolve {ref!r}: {str(e).splitlines()[0]}" + _common_hint(ref)
    return None


def _common_hint(ref) -> str:
    """A hint for a reference to the platform's common definitions that did not resolve: the
    names it defines, or, for a relative ``common.json#/$defs/phone`` (which resolves against
    the schema's own ``$id`` when it has one), the absolute URI that reaches the file."""
    common = xrm_schemas.BASE_URI + "common.json"
    if not isinstance(ref, str) or "common.json" not in ref:
        return ""
    if ref.startswith(common):
        names = ", ".join(sorted(xrm_schemas.load("common.json").get("$defs", {})))
        return f" (common.json defines {names})"
    return (f" (the platform's common definitions are {common}#/$defs/NAME; a relative reference "
            f"resolves against the schema's $id)")


@cache
def meta_validator(name: str):
    """Compiled validator of one of the platform's own meta-schemas (e.g. ``kpi.schema.json``)."""
    return jsonschema_rs.validator_for(xrm_schemas.load(name), validate_formats=True,
                                       registry=registry(), offline=True)


#: The formats the validator asserts (JSON Schema 2020-12's own). Any other ``format`` is
#: accepted — schemas carry custom ones such as "phone" — but checks nothing.
CHECKED_FORMATS = frozenset({
    "date", "date-time", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
    "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "uuid", "json-pointer",
    "relative-json-pointer", "regex"})
#: Keywords whose value is a map of names to subschemas, a subschema, or a list of them
#: (JSON Schema 2020-12, plus draft 7's ``definitions``/``additionalItems``, which a schema may
#: still carry). Every other keyword's value is data (``const``, ``enum``, ``default``…), even
#: when it holds a key named ``$ref``; and a property may be named ``$id``.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_ONE = ("items", "additionalItems", "additionalProperties", "unevaluatedProperties", "unevaluatedItems",
              "contains", "propertyNames", "not", "if", "then", "else", "contentSchema")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def unchecked_formats(schema, path: tuple = ()) -> list[tuple[str, str]]:
    """``(pointer, format)`` of every ``format`` in ``schema`` that the validator does not
    check (a typo such as "emial" silently checks nothing): for warnings, not refusals."""
    if not isinstance(schema, dict):
        return []
    out = []
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt not in CHECKED_FORMATS:
        out.append((pointer(path + ("format",)), fmt))
    for key in SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                out += unchecked_formats(sub, path + (key, name))
    for key in SCHEMA_ONE:
        out += unchecked_formats(schema.get(key), path + (key,))
    for key in SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                out += unchecked_formats(sub, path + (key, i))
    return out


def errors_of(validator, instance, prefix: str = "", schema: dict | None = None) -> list[dict]:
    """Every error of ``instance`` as ``{"pointer", "message"}``, pointers prefixed.

    An error about a property (missing, additional or unevaluated) points at that property,
    not at the object holding it: one error per property (see :func:`_located`). Given the
    ``schema`` the validator was compiled from, properties and items reported "unevaluated"
    only because another error made the subschema declaring them fail are left out (see
    :mod:`xrm_core.unevaluated`); genuinely unevaluated ones stay.
    """
    out = [{"pointer": ptr, "message": message}
           for ptr, message, _kind in located_errors(validator, instance, prefix, schema)]
    out.sort(key=lambda e: e["pointer"])
    return out


def located_errors(validator, instance, prefix: str = "", schema: dict | None = None) -> list[tuple[str, str, object]]:
    """``(pointer, message, kind)`` of every error of ``instance``, as :func:`errors_of` words
    and places them (leaving out echoes when given the ``schema``); ``kind`` is the
    jsonschema-rs error kind the message is about (its keyword and the keyword's value, for
    wording the error in another language), or None where the message was rewritten from
    several. Duplicates are left out; not sorted."""
    raw = list(_errors(validator, instance))
    echoes: dict[int, set | list] = {}
    if schema is not None and len(raw) > 1:
        # here: unevaluated walks schemas through schema_types, which imports this module
        from .unevaluated import echoes as find_echoes
        echoes = find_echoes(schema, raw, instance)
    out, seen = [], set()
    for e in raw:
        for path, message, kind in _located(e, instance, echoes.get(id(e), ()), schema):
            if len(message) > SHOWN_VALUE_LIMIT:
                message = shorten_values(message, _at(instance, path))
            ptr = prefix + pointer(path)
            if (ptr, message) not in seen:
                seen.add((ptr, message))
                out.append((ptr, message, kind))
    return out


#: Past this many bytes (as JSON), an invalid instance is reported by its first error only.
#: jsonschema-rs builds every error before yielding the first (about 25 µs each): a 2 MB
#: array of two million wrong items kept an API worker busy for minutes, from one request.
ALL_ERRORS_UP_TO = 64 * 1024


def all_errors_listed(instance) -> bool:
    """Whether :func:`errors_of` lists every error of ``instance``: not past
    :data:`ALL_ERRORS_UP_TO` bytes, where it lists the first one only."""
    try:
        size = len(orjson.dumps(instance))
    except TypeError:  # not JSON (an integer beyond 64 bits, nesting past orjson's limit)
        size = 0
    return size <= ALL_ERRORS_UP_TO


def _errors(validator, instance):
    """``validator.iter_errors(instance)``, or just its first error for a large instance."""
    if all_errors_listed(instance):
        return validator.iter_errors(instance)
    try:
        validator.validate(instance)
    except jsonschema_rs.ValidationError as e:
        return [e]
    return []


_Kind = jsonschema_rs.ValidationErrorKind


def _located(e, instance, echoed=(), schema: dict | None = None) -> list[tuple[list, str, object]]:
    """``(path, message, kind)`` of a jsonschema-rs error, at the property it is about
    (:func:`_located_as_reported`); a value or size that a ``dependentSchemas`` entry refuses
    says which present property brought that entry in: '"pledge" was expected' alone left
    the author of a gift with a due date guessing why."""
    located = _with_composed_hint(e, _located_as_reported(e, instance, echoed, schema))
    trigger = _dependent_schema_of(e) if isinstance(getattr(e, "kind", None), _CASE_KINDS) else None
    if trigger is None:
        return located
    suffix = f" (because {json_text(trigger)} is present: the schema's dependentSchemas)"
    return [(path, message + suffix, kind) for path, message, kind in located]


def _with_composed_hint(e, located: list) -> list:
    """``located`` with a sentence added to the messages at ``e``'s value when that value is a
    text refused by an ``enum`` or ``const`` (or options of them) only because its accents are
    decomposed (``E`` + U+0301): the list of allowed values shows one that looks identical
    (:func:`~xrm_core.error_wording.composed_hint`). The value itself is left as sent."""
    try:
        value, path = e.instance, list(e.instance_path)
        if not isinstance(value, str):
            return located
        hint = composed_hint([value], _allowed_values(e.kind, path), json_text)
    except (AttributeError, TypeError):  # a jsonschema-rs without these details
        return located
    if not hint:
        return located
    return [(p, m if p != path or hint in m else m + hint, k) for p, m, k in located]


def _allowed_values(kind, path: list) -> list:
    """The values an ``enum``, a ``const``, or the options of an ``anyOf``/``oneOf`` at
    ``path`` allow (as far as they say)."""
    if isinstance(kind, _Kind.Enum):
        return list(kind.options)
    if isinstance(kind, _Kind.Constant):
        return [kind.expected_value]
    if isinstance(kind, (_Kind.AnyOf, _Kind.OneOfNotValid)):
        return [v for option in kind.context for x in option if list(x.instance_path) == path
                for v in _allowed_values(x.kind, path)]
    return []


#: Errors that say which values or sizes are allowed: under a ``dependentSchemas`` entry
#: they hold only in that case, so the case is said. A wrong format or type is wrong in
#: any case (a missing property is worded by :mod:`xrm_core.required_conditions`).
_CASE_KINDS = (_Kind.Constant, _Kind.Enum, _Kind.Not, _Kind.FalseSchema, _Kind.Minimum, _Kind.Maximum,
               _Kind.ExclusiveMinimum, _Kind.ExclusiveMaximum, _Kind.MinLength, _Kind.MaxLength,
               _Kind.MinItems, _Kind.MaxItems)


def _keyword_value(e, schema: dict | None):
    """The value of the keyword the error ``e`` failed (``"minContains": 3`` gives 3), found
    where the validator found it (its absolute keyword location: in ``schema``, read with
    its base URI, or in a platform schema); None when it cannot be found."""
    from .schema_types import index_of, platform_index  # here: schema_types imports this module
    try:
        url, fragment = urldefrag(e.absolute_keyword_location or "")
    except (AttributeError, TypeError):
        return None
    parent, _, keyword = unquote(fragment).rpartition("/")
    keyword = keyword.replace("~1", "/").replace("~0", "~")
    for index in ([index_of(schema)] if isinstance(schema, dict) else []) + [platform_index()]:
        node = index.find(url, parent) if parent else index.resources.get(url)
        if isinstance(node, dict) and keyword in node:
            return node[keyword]
    return None


def _dependent_schema_of(e) -> str | None:
    """The property whose ``dependentSchemas`` entry the error ``e`` comes from (the last
    such entry on its evaluation path), or None."""
    from .required_conditions import keyword_positions
    try:
        evaluated = list(e.evaluation_path)
    except (AttributeError, TypeError):
        return None
    found = [evaluated[i + 1] for i in keyword_positions(evaluated)
             if evaluated[i] == "dependentSchemas" and i + 1 < len(evaluated)]
    return found[-1] if found and isinstance(found[-1], str) else None


def _located_as_reported(e, instance, echoed=(), schema: dict | None = None) -> list[tuple[list, str, object]]:
    """``(path, message, kind)`` of a jsonschema-rs error, at the property it is about.

    jsonschema-rs reports ``required`` (and ``dependentRequired``), ``additionalProperties``
    and ``unevaluatedProperties`` at the object; its structured ``kind`` names the
    properties: a missing one becomes ``path + [name]`` with the message unchanged, and
    several unexpected ones become one error each, worded as the library words one. Any
    other error, or one whose kind says nothing usable, stays where the library put it.
    ``kind`` is the error kind each message is about (see :func:`located_errors`).
    ``echoed`` holds what an unevaluated-properties or -items error reports only as an echo
    of another error (names, or the library's texts of item values): left out, and the
    error with them when nothing else is left. A property required only in some cases
    (``dependentRequired``, an ``if``/``then``) says which (:mod:`xrm_core.required_conditions`;
    the ``schema`` the validator was compiled from tells the condition).

    Where the library's words leave the admin guessing they are replaced: an ``enum`` of
    more than three values lists them (not "N other candidates"), an ``anyOf``/``oneOf``
    no option fits says what the options expect (:func:`why_no_option`), and ``not``,
    ``propertyNames`` and an item refused by ``"items": false`` say what was refused. A
    property or item refused by an ``unevaluatedProperties``/``unevaluatedItems`` holding a
    schema (not ``false``) gets that schema's own errors: the library says "not allowed". An
    item refused by ``"unevaluatedItems": false`` is placed at its index where its value
    tells which item it is (the library names it by value, at the array).
    """
    path = list(e.instance_path)
    try:
        kind = e.kind
        if isinstance(kind, _Kind.Required) and isinstance(kind.property, str):
            # here: required_conditions walks schemas with this module's helpers
            from .required_conditions import RequiredIf, required_because
            because = required_because(e, kind.property, instance, schema)
            if because is None:
                return [(path + [kind.property], e.message, kind)]
            return [(path + [kind.property], required_message(kind.property, *because), RequiredIf(kind, *because))]
        if isinstance(kind, _Kind.Format) and isinstance(kind.format, str):
            return [(path, format_message(e.instance, kind.format), kind)]
        if isinstance(kind, _Kind.Contains) and e.schema_path and e.schema_path[-1] in CONTAINS_LIMITS:
            # jsonschema-rs words a failed minContains/maxContains as a failed "contains":
            # "None of [1,2] are valid", when 1 is valid but two such items were asked for.
            keyword = e.schema_path[-1]
            return [(path, contains_message(e.instance, keyword, _keyword_value(e, schema)), kind)]
        if isinstance(kind, (_Kind.AnyOf, _Kind.OneOfNotValid)):
            meant = _meant_option(kind.context, path)
            if meant:
                return [located for sub in meant for located in _located(sub, instance, (), schema)]
            why = why_no_option(kind.context, path, e.instance)
            if why:
                return [(path, f"{e.message} ({why})", kind)]
        if isinstance(kind, _Kind.Enum) and e.message.endswith("other candidates"):
            # jsonschema-rs names two values and "N other candidates": say them all.
            return [(path, f"{json_text(e.instance)} is not one of {listed(kind.options)}", kind)]
        if isinstance(kind, _Kind.Not):
            # The library says '{"const":0} is not allowed for 0', the schema first.
            refused = json_text(kind.schema)
            refused = refused if len(refused) <= SHOWN_VALUE_LIMIT else "the schema"
            return [(path, f"{json_text(e.instance)} is not allowed: it must not match {refused} (\"not\")", kind)]
        if isinstance(kind, _Kind.PropertyNames) and isinstance(getattr(kind.error, "instance", None), str):
            # At the object (a pointer reaches a value, not a name), saying it is a name:
            # '"A" does not match "^[a-z]+$"' read as if a value "A" were wrong.
            return [(path, f"the property name {kind.error.message}", kind)]
        if isinstance(kind, _Kind.FalseSchema) and e.schema_path and e.schema_path[-1] == "items" and path:
            # "items": false (after "prefixItems", or alone): "False schema does not allow 3"
            # says neither which item nor why.
            return [(path, f"{json_text(e.instance)} is not allowed: the array takes no item at index {path[-1]} "
                           "(\"items\": false)", kind)]
        keyword = None
        if isinstance(kind, (_Kind.UnevaluatedItems, _Kind.UnevaluatedProperties)):
            keyword = _keyword_value(e, schema)
            if isinstance(keyword, dict):
                # A schema, not false: what no other keyword declares is allowed when it
                # matches it. The library still says "not allowed"; say why it does not match.
                located = _unevaluated_against(e, keyword, instance, echoed, schema)
                if located is not None:
                    return located
        if isinstance(kind, _Kind.UnevaluatedItems) and keyword is False:
            # The library names the items by value, quoted as text ('\'"x"\' was unexpected').
            targets = _unevaluated_targets(e, instance, echoed)
            if targets is not None:
                return [(where, f"{json_text(value)} is not allowed: no keyword declares "
                                + (f"the item at index {where[-1]}" if where != path else "this item of the array")
                                + ' ("unevaluatedItems": false)', kind) for where, value in targets]
        if isinstance(kind, _Kind.UnevaluatedItems) and echoed:
            left = Counter(echoed)  # item texts, once per time the item is an echo
            shown = []
            for u in kind.unexpected:
                if left[u] > 0:
                    left[u] -= 1
                else:
                    shown.append(u)
            if not shown:
                return []
            if len(shown) < len(kind.unexpected):
                quoted = ", ".join(f"'{u}'" for u in shown)
                return [(path, f"Unevaluated items are not allowed ({quoted} "
                               f"{'was' if len(shown) == 1 else 'were'} unexpected)", kind)]
        if isinstance(kind, (_Kind.AdditionalProperties, _Kind.UnevaluatedProperties)):
            names = [n for n in kind.unexpected if isinstance(n, str) and n not in echoed]
            if not names and echoed:
                return []
            if len(names) == 1 and len(kind.unexpected) == 1:
                return [(path + names, e.message, kind)]
            if names:
                wording = UNEXPECTED[kind.name]
                return [(path + [n], wording.format(name=f"'{n}'"), kind) for n in names]
        elif (isinstance(kind, _Kind.FalseSchema) and e.schema_path
              and e.schema_path[-1] == "additionalProperties"):
            # "additionalProperties": false without properties/patternProperties beside it:
            # jsonschema-rs reports "False schema does not allow <first value>" once, at the
            # object, so every property of that object is unexpected.
            node = _at(instance, path)
            if isinstance(node, dict) and node and e.instance != node:
                wording = UNEXPECTED["additionalProperties"]
                return [(path + [n], wording.format(name=f"'{n}'"), _UNEXPECTED_KIND) for n in node]
        return [(path, e.message, kind)]
    except (AttributeError, KeyError, TypeError):  # a jsonschema-rs without these details
        return [(path, e.message, None)]


def _unevaluated_against(e, keyword: dict, instance, echoed, schema: dict | None):
    """The errors of what an ``unevaluatedProperties``/``unevaluatedItems`` error ``e``
    lists (less the ``echoed``), each validated against the keyword's schema ``keyword``
    and placed under the property or item it is about; None when they cannot be found."""
    targets = _unevaluated_targets(e, instance, echoed)
    validator = _keyword_validator(e, schema) if targets else None
    if validator is None:
        return None
    out = []
    for where, value in targets:
        for sub in _errors(validator, value):
            out += [(where + p, message, kind) for p, message, kind in _located(sub, value)]
    return out or None


def _unevaluated_targets(e, instance, echoed) -> list[tuple[list, object]] | None:
    """``(path, value)`` of each property or item an unevaluated-properties or -items error
    ``e`` lists, less the ``echoed``; None when they cannot be found.

    An item is placed at its index only when every item holding its value is listed (the
    library names items by value); else it stays at the array."""
    path = list(e.instance_path)
    node = _at(instance, path)
    if isinstance(node, dict):
        return [(path + [n], node[n]) for n in e.kind.unexpected
                if isinstance(n, str) and n in node and n not in echoed]
    if not isinstance(node, list):
        return None
    left = Counter(echoed)
    texts = []
    for u in e.kind.unexpected:
        if left[u] > 0:
            left[u] -= 1
        else:
            texts.append(u)
    shown = [orjson.dumps(v, option=orjson.OPT_SORT_KEYS) if _is_json(v) else None for v in node]
    targets = []
    for u in dict.fromkeys(texts):
        try:
            key = orjson.dumps(orjson.loads(u), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            return None
        at = [i for i, t in enumerate(shown) if t == key]
        if not at:
            return None
        if len(at) == texts.count(u):
            targets += [(path + [i], node[i]) for i in at]
        else:
            targets += [(path, node[at[0]])] * texts.count(u)
    return targets


def _is_json(value) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


#: ``{(id(schema), keyword location): (schema, validator)}``: an import with many rows
#: failing the same keyword compiles it once (about 0.2 ms each time).
_KEYWORD_VALIDATORS: dict = {}


def _keyword_validator(e, schema: dict | None):
    """A validator of the keyword the error ``e`` failed (found by its absolute location,
    in ``schema`` or a platform schema), or None."""
    location = getattr(e, "absolute_keyword_location", None)
    if not location:
        return None
    hit = _KEYWORD_VALIDATORS.get((id(schema), location))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_KEYWORD_VALIDATORS) >= 256:
        _KEYWORD_VALIDATORS.clear()
    validator = _compile_keyword(location, schema)
    _KEYWORD_VALIDATORS[(id(schema), location)] = (schema, validator)
    return validator


def _compile_keyword(location: str, schema: dict | None):
    from .schema_types import base_of  # here: schema_types imports this module
    resources = _platform_resources()
    if isinstance(schema, dict) and base_of(schema) not in dict(resources):
        resources.append((base_of(schema), {"$schema": DRAFT_2020_12, **schema}))
    try:
        return jsonschema_rs.validator_for({"$ref": location}, validate_formats=True, offline=True,
                                           registry=jsonschema_rs.Registry(resources), formats=_formats())
    except jsonschema_rs.ValidationError:
        return None


class _Unexpected:
    """The kind of an unexpected property found under a ``false`` ``additionalProperties``
    (the library's own kind there says only "false schema")."""

    name = "additionalProperties"

    @staticmethod
    def as_dict() -> dict:
        return {}


_UNEXPECTED_KIND = _Unexpected()


def _meant_option(options, path: list) -> list | None:
    """The errors of the one ``anyOf``/``oneOf`` option the value was evidently meant for,
    or None. An option is ruled out when the value is not even of its type, or a ``const``
    or ``enum`` in it fails (a discriminator such as ``"kind": {"const": "email"}``); when
    exactly one is left, its errors say what to fix (``/contact/phone`` does not match the
    pattern) where the summary says only that no option fits.

    When several are left, an option that requires a property the object lacks is ruled out
    too: options told apart by their keys (``{"count": true}`` or ``{"sum": F}``…, each
    requiring its own) leave the one whose key the object has.
    """
    try:
        left = [opt for opt in options if opt and not any(
            (isinstance(x.kind, _Kind.Type) and list(x.instance_path) == path)
            or isinstance(x.kind, (_Kind.Constant, _Kind.Enum)) for x in opt)]
        if len(left) > 1:
            keyed = [opt for opt in left if not any(
                isinstance(x.kind, _Kind.Required) and list(x.instance_path) == path for x in opt)]
            left = keyed if len(keyed) == 1 else left
    except (AttributeError, TypeError):
        return None
    return left[0] if len(left) == 1 else None


def _at(instance, path):
    """The value of ``instance`` at ``path`` (keys and indexes), or None if there is none."""
    for key in path:
        try:
            instance = instance[key]
        except (KeyError, IndexError, TypeError):
            return None
    return instance


#: How deeply objects and arrays may nest in a definition (entity type, KPI, role…). The
#: validator gives up past about 255 levels ("Recursion limit reached") and Python's own
#: walks (copies, reference lookups) soon after; 200 levels describe records nested far
#: deeper than the 64 levels a record may hold.
MAX_DEFINITION_DEPTH = 200


def nesting_error(value, limit: int = MAX_DEFINITION_DEPTH) -> str | None:
    """The JSON pointer of the first object or array of ``value`` nested more than ``limit``
    levels deep (``value`` itself is level 1), or None. Iterative: any depth is safe."""
    # Depths only (a definition of 3,000 properties is walked in a few milliseconds); the
    # pointer is worked out in a second walk when there is one to tell.
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return _pointer_deeper_than(value, limit)
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return None


def _pointer_deeper_than(value, limit: int) -> str:
    stack = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= limit:
            return pointer(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((v, path + (k,)) for k, v in items if isinstance(v, (dict, list)))
    return ""


def check_nesting(definition, what: str) -> None:
    """Refuse (DefinitionError with the pointer) a definition nested deeper than
    :data:`MAX_DEFINITION_DEPTH`, before anything walks it recursively."""
    deep = nesting_error(definition)
    if deep is not None:
        raise DefinitionError(f"{what} is nested too deeply: objects and arrays nest more than "
                              f"{MAX_DEFINITION_DEPTH} levels deep",
                              [{"pointer": deep, "message": f"more than {MAX_DEFINITION_DEPTH} levels deep"}])


def check_definition(meta: str, definition, what: str) -> None:
    """Validate a definition against meta-schema ``meta``; raise DefinitionError with pointers."""
    if not isinstance(definition, dict):
        raise DefinitionError(f"{what} must be a JSON object", [{"pointer": "", "message": "not an object"}])
    check_nesting(definition, f"{what} {definition['name']!r}" if isinstance(definition.get("name"), str) else what)
    v = meta_validator(meta)
    if not v.is_valid(definition):
        name = definition.get("name")
        label = f"{what} {name!r}" if isinstance(name, str) else what
        raise DefinitionError(f"{label} is invalid", [_readable(e) for e in errors_of(v, definition)])


#: How the meta-schemas' field-name pattern shows in the validator's message (its start).
_FIELD_PATTERN_SHOWN = ' does not match "^[\\p{L}\\p{N}_@#]'


#: How the meta-schemas' definition-name pattern (of a type, relationship type, activity
#: kind, role or KPI) shows in the validator's message, and what it means in words.
_NAME_PATTERN_SHOWN = ' does not match "^[a-z][a-z0-9_]{0,62}$"'
NAME_RULE = ("lower-case ASCII letters a-z, digits and _, starting with a letter, at most 63 "
             "characters (names are typed in CLI commands and REST paths; put other scripts "
             "in the label)")


def _readable(error: dict) -> dict:
    """``error`` with the field-name pattern (300 characters of regular expression), or the
    definition-name pattern, told in words, as :func:`xrm_core.fields.check_field` tells it."""
    shown, found, _ = error["message"].partition(_NAME_PATTERN_SHOWN)
    if found:
        return {**error, "message": f"{shown} is not a name: use {NAME_RULE}"}
    shown, found, _ = error["message"].partition(_FIELD_PATTERN_SHOWN)
    if not found:
        return error
    from .fields import FIELD_RULE  # here: fields is not needed to validate
    return {**error, "message": f"{shown} is not a field name: use {FIELD_RULE}"}


def validate(validator, instance, what: str, prefix: str = "") -> None:
    """Raise ValidationError with every pointer if ``instance`` fails ``validator``."""
    if not validator.is_valid(instance):
        raise ValidationError(f"{what} is invalid", errors_of(validator, instance, prefix))
