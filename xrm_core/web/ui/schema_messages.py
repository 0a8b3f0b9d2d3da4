"""Schema error messages in the UI's language.

The core words a schema error as the validator does, in English, and the REST API and CLI
answer that text. A form in Persian or Chinese shows the same errors in its own language:
the page validates the data it submitted once more (:func:`localized`), words each error
from its keyword and the keyword's value (the limit, the options, the format), and puts that
text in place of the English one at the same pointer. Keywords without a wording here keep
the English text, as do messages a plugin raised: nothing is dropped.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import ngettext

from ... import error_wording, validation
from .core_messages import split_hook_note, with_hook_note
from .i18n import RTL, digits, lang

#: Keywords whose core (validator) English speaks of schemas rather than of the value ("is
#: not valid under any of the schemas listed in the 'oneOf' keyword"): worded here in English
#: too, for staff who never saw a JSON Schema. The API and CLI keep the validator's text.
#: ``pattern`` is one of them: its core text quotes the regular expression alone ('"no!" does
#: not match "^[0-9A-Za-z]{5,20}$"'). ``required`` too: its core text names the field by its
#: key ('"resolved_on" is a required property', under ``if/then`` or in a group) where the
#: form's own check of a required input says "required" beside the field's label.
JARGON = frozenset({"oneOf", "anyOf", "not", "contains", "falseSchema", "pattern", "required"})


def localized(validator, data, prefix: str = "/data", hint=None, schema=None,
              reason=None) -> dict[tuple[str, str], str]:
    """``{(pointer, english message): message in the UI's language}`` for every schema error
    of ``data`` that has a wording here. In English only the :data:`JARGON` keywords (the
    core's text is English). ``hint(pointer, pattern)``: what the schema says in words of
    the form a ``pattern`` asks for at that pointer, or None (see :func:`worded`). ``schema``:
    the one ``validator`` was compiled from, as the core was given it (``EntityType.errors``):
    the core words some errors from it (a property required only under an ``if``), and a
    message worded without it would not be found among the core's. ``reason(pointer, kind)``:
    why a property only some cases require is required, in words of the form
    (:func:`.required_reasons.reason_for`), or None (see :func:`worded`)."""
    english = lang() == "en"
    out = {}
    for ptr, message, kind in validation.located_errors(validator, data, prefix, schema):
        if kind is None or (english and kind.name not in JARGON):
            continue
        said = hint(ptr, kind.as_dict().get("pattern")) if hint and kind.name == "pattern" else None
        text = _contains_limit(kind, message) or worded(kind, ptr, said, reason)
        if text:
            out[(ptr, message)] = text
    return out


def translate(errors: list[dict], validator, data, prefix: str = "/data", hint=None, schema=None,
              reason=None) -> list[dict]:
    """``errors`` (``{"pointer", "message"}``) with each schema error's message in the UI's
    language; any other error (a plugin's, a uniqueness conflict) unchanged. ``hint``,
    ``schema`` and ``reason``: as :func:`localized`'s."""
    words = localized(validator, data, prefix, hint, schema, reason)
    if not words:
        return errors
    out = []
    for e in errors:
        # A value a plugin's hook set carries the core's note of it: worded without, kept after.
        message, note = split_hook_note(e.get("message", ""))
        word = words.get((e.get("pointer", ""), message))
        out.append({**e, "message": e.get("message", "") if word is None else with_hook_note(word, note)})
    return out


def worded(kind, pointer: str = "", hint: str | None = None, reason=None) -> str | None:
    """One error of jsonschema-rs kind ``kind`` in the UI's language, or None.

    A ``pattern`` is said by ``hint`` when the schema gives one in words (the property's
    ``description``: "Telephone number, digits with optional +…"), else by the regular
    expression, introduced as one: staff cannot read "does not match ^[0-9]{5}$" as a rule.
    A ``required`` that only some cases ask for (``dependentRequired``, an ``if``/``then``)
    says why when ``reason(pointer, kind)`` words it ("required when Status is Resolved")."""
    name, v = kind.name, kind.as_dict()
    limit = v.get("limit")
    n = digits(limit) if limit is not None else ""
    if name == "required":
        return (reason(pointer, v) if reason else None) or _("required")
    if name == "type":
        return _("must be %(types)s", types=_(" or ").join(_type_word(t) for t in v.get("types", [])))
    if name == "minLength":
        return ngettext("must be at least %(n)s character long", "must be at least %(n)s characters long",
                        limit, n=n)
    if name == "maxLength":
        return ngettext("must be at most %(n)s character long", "must be at most %(n)s characters long",
                        limit, n=n)
    if name == "minimum":
        return _("must be at least %(n)s", n=n)
    if name == "maximum":
        return _("must be at most %(n)s", n=n)
    if name == "exclusiveMinimum":
        return _("must be more than %(n)s", n=n)
    if name == "exclusiveMaximum":
        return _("must be less than %(n)s", n=n)
    if name == "multipleOf":
        return _("must be a multiple of %(n)s", n=digits(v.get("multiple_of")))
    if name == "pattern":
        if hint:
            return _("is not in the required form: %(hint)s", hint=hint)
        pattern = v.get("pattern")
        if lang() in RTL:  # kept left to right inside the right-to-left sentence (LRI … PDI)
            pattern = f"\u2066{pattern}\u2069"
        return _("is not in the required form (the pattern it must match: %(pattern)s)", pattern=pattern)
    if name == "format":
        fmt = v.get("format")
        example = validation.FORMAT_EXAMPLES.get(fmt)  # data, not translated
        if example is None:
            return _("is not a valid %(format)s", format=fmt)
        return _("is not a valid %(format)s (e.g. %(example)s)", format=_format_word(fmt), example=example)
    if name == "enum":
        # The values, as the English core lists them: an import's cell must hold one of them.
        options = v.get("options") or []
        return _("is not one of the allowed values: %(values)s", values=_values(options)) if options \
            else _("is not allowed here")
    if name == "const":
        return _("must be %(value)s", value=_values([v.get("expected_value")]))
    if name == "minItems":
        return ngettext("needs at least %(n)s item", "needs at least %(n)s items", limit, n=n)
    if name == "maxItems":
        return ngettext("may have at most %(n)s item", "may have at most %(n)s items", limit, n=n)
    if name == "uniqueItems":
        return _("has the same item more than once")
    if name == "minProperties":
        return ngettext("needs at least %(n)s key", "needs at least %(n)s keys", limit, n=n)
    if name == "maxProperties":
        return ngettext("may have at most %(n)s key", "may have at most %(n)s keys", limit, n=n)
    if name in ("additionalProperties", "unevaluatedProperties") and pointer:
        return _("is not a field of this type")
    if name in ("oneOf", "anyOf"):
        # oneOf lists each alternative's errors: none empty, none matched; else several did.
        context = v.get("context") or []
        if name == "oneOf" and context and not all(context):
            return _("fits more than one of the allowed forms; it must fit exactly one")
        return _("fits none of the allowed forms")
    if name in ("not", "falseSchema"):
        return _("is not allowed here")
    if name == "contains":
        return _("has no item of the required kind")
    return None


#: The limit the core's message of a failed ``minContains``/``maxContains`` ends with
#: (:func:`error_wording.contains_message`): the validator words both as a failed
#: ``contains`` and its kind carries no limit.
_CONTAINS_LIMIT = re.compile(r'\("(minContains|maxContains)": (\d+)\)$')


def _contains_limit(kind, message: str) -> str | None:
    """A failed ``minContains``/``maxContains`` in the UI's language, with its limit (the
    generic "has no item of the required kind" dropped the number), or None."""
    m = _CONTAINS_LIMIT.search(message) if kind.name == "contains" else None
    if not m:
        return None
    limit = int(m.group(2))
    if m.group(1) == "minContains":
        return ngettext("needs at least %(n)s item of the required kind",
                        "needs at least %(n)s items of the required kind", limit, n=digits(limit))
    return ngettext("may have at most %(n)s item of the required kind",
                    "may have at most %(n)s items of the required kind", limit, n=digits(limit))


def _values(values: list) -> str:
    """Values as JSON text in a list of the UI's language, at most
    :data:`error_wording.LISTED_VALUES` of them, kept left to right on a right-to-left page."""
    shown = _(", ").join(error_wording.json_text(x) for x in values[:error_wording.LISTED_VALUES])
    if lang() in RTL:  # LRI … PDI: "a", "b" inside a right-to-left sentence
        shown = f"\u2066{shown}\u2069"
    more = len(values) - error_wording.LISTED_VALUES
    return _("%(values)s and %(n)s more", values=shown, n=digits(more)) if more > 0 else shown


def _type_word(t: str) -> str:
    return {"string": _("text"), "integer": _("a whole number"), "number": _("a number"),
            "boolean": _("true or false"), "array": _("a list"), "object": _("an object"),
            "null": _("empty")}.get(t, t)


def _format_word(fmt: str) -> str:
    return {"date": _("date"), "date-time": _("date and time"), "time": _("time"), "email": _("e-mail address"),
            "uri": _("web address"), "uuid": _("UUID")}.get(fmt, fmt)
