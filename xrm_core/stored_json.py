"""What JSON the platform can store and read back alike on both engines, and reading JSON text exactly.

Record data, relationship data and activity payloads pass these checks before they are
written: nesting no deeper than :data:`MAX_DEPTH`, no NUL characters, integers within signed
64 bits, valid Unicode (:func:`storage_errors`). :func:`loads_exact` reads JSON text for the
import and the REST API without orjson's silent float for a long integer, and refuses an
object that names a key twice (:class:`RepeatedKey`) and a number a double cannot keep
(:class:`InexactNumber`, :func:`read_float`). The cheap byte tests
(:func:`maybe_unstorable`, :func:`has_long_digits`) keep the common row free of any walk.
"""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal

import orjson

from .validation import pointer


#: How deeply objects and arrays may nest in stored JSON (record data, payloads). JSON itself
#: sets no limit, but orjson writes at most 254 levels, and every read wraps the data in a few
#: more (a record, a page of records, a history entry with its diff): a record nested past
#: that would be stored and then break every read of it. 64 is far beyond any real record.
MAX_DEPTH = 64


def maybe_unstorable(text: bytes | None) -> bool:
    """Might the JSON ``text`` (orjson's, None if it failed) hold what :func:`storage_errors`
    refuses? False for nearly every record: byte counts and one search, no walk."""
    return (text is None or b"\\u0000" in text or text.count(b"{") + text.count(b"[") > MAX_DEPTH
            or has_long_digits(text))


def storage_errors(data, prefix: str = "") -> list[dict]:
    """Why ``data`` cannot be stored alike on both engines and read back, as errors with
    pointers under ``prefix``: nesting deeper than MAX_DEPTH, NUL characters, integers
    outside the signed 64-bit range (SQLite reads one as an approximate REAL: filters could
    not find it and sums came out clamped; PostgreSQL would keep it exact)."""
    try:
        text = orjson.dumps(data)
    except TypeError:  # nested past orjson's limit (or holding a value that is not JSON)
        text = None
    if not maybe_unstorable(text):
        return []
    deep = too_deep(data)
    if deep is not None:
        return [{"pointer": prefix + deep, "message": f"objects and arrays nest more than {MAX_DEPTH} levels "
                                                      "deep here: a record may nest at most that deep"}]
    big = [{"pointer": prefix + p, "message": f"an integer outside the signed 64-bit range ({-2**63} to "
                                              f"{2**63 - 1}) cannot be stored alike on both engines: "
                                              "store it as a string"} for p in _big_ints(data, ())]
    if big:
        return big
    nul = [{"pointer": prefix + p, "message": "the NUL character (\\u0000) cannot be stored"}
           for p in nul_pointers(data)]
    if nul or text is not None:
        return nul
    # orjson refused the data for another reason: text that is no valid Unicode (a lone
    # surrogate, which only a program can pass) or a value that is no JSON at all.
    return [{"pointer": prefix + p, "message": m} for p, m in _unwritable(data, ())]


def _unwritable(node, path: tuple) -> list[tuple[str, str]]:
    """``(pointer, message)`` of each string (key or value) in ``node`` that is no valid
    Unicode, and of each value that is no JSON value. A pointer is written with such a
    string's bad characters escaped, so that the error itself can be written as JSON."""
    def safe(parts):
        return pointer(tuple(k.encode("utf-8", "backslashreplace").decode() if isinstance(k, str) else k
                             for k in parts))

    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return [(safe(path), "text that is not valid Unicode (a lone surrogate) cannot be stored")]
        return []
    if isinstance(node, dict):
        out = []
        for k, v in node.items():
            out += _unwritable(k, path + (k,)) if isinstance(k, str) else \
                [(safe(path), f"a key must be text, not {type(k).__name__}")]
            out += _unwritable(v, path + (k,))
        return out
    if isinstance(node, list):
        return [found for i, v in enumerate(node) for found in _unwritable(v, path + (i,))]
    if node is None or isinstance(node, (bool, int, float)):
        return []
    return [(safe(path), f"a {type(node).__name__} is not a JSON value")]


#: 19 digits in a row: JSON text that may hold an integer orjson reads as a float (below
#: -2**63, or above 2**64 - 1).
_LONG_DIGITS = re.compile(r"[0-9]{19}")
#: Every digit made "0", other bytes kept: a run of 19 digits becomes 19 "0"s, which ``in``
#: finds (a memory search) — about 0.4 µs for a 200-byte row against 2.9 µs for the pattern's
#: search, and the import runs it twice a row.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_ZEROS = b"0" * 19


def has_long_digits(text: bytes | str) -> bool:
    """Does ``text`` hold 19 digits in a row (see :data:`_LONG_DIGITS`)?"""
    if isinstance(text, str):
        return _LONG_DIGITS.search(text) is not None
    return _NINETEEN_ZEROS in text.translate(_DIGITS_TO_ZERO)


def loads_exact(text: str | bytes):
    """``orjson.loads(text)``, except that JSON holding an integer beyond 64 bits is read
    with the standard library, which keeps it exact where orjson would silently make it a
    float: :func:`storage_errors` then refuses it with its pointer. Raises
    ``orjson.JSONDecodeError``, :class:`RepeatedKey` (one of those) for an object that
    names a key twice, and :class:`InexactNumber` (one too) for a number that a double
    would change (:func:`read_float`)."""
    value = orjson.loads(text)
    inexact = []  # the InexactFloats read: none (nearly always), and no walk looks for one
    if may_be_inexact(text):  # long integers included
        def parse_float(literal: str) -> float:
            f = read_float(literal)
            if f.__class__ is InexactFloat:
                inexact.append(f)
            return f
        try:
            value = json.loads(text, parse_float=parse_float)
        except RecursionError:  # nested too deep for it: storage_errors refuses that anyway
            inexact.clear()
    if isinstance(value, (dict, list)) and _may_repeat_keys(text, value):
        _refuse_repeated_keys(text)
    found = inexact_at(value) if inexact else None
    if found is not None:
        raise InexactNumber(text, *found)
    return value


#: Up to 15 significant digits, a double keeps every decimal number (DBL_DIG): a number
#: written with more, or an exponent past the double's range, may read back as another.
_MANY_DIGITS = b"0" * 16
_DIGITS_AND_POINT_TO_ZERO = bytes.maketrans(b"123456789.", b"0000000000")


def may_be_inexact(text: bytes | str) -> bool:
    """Might ``text`` hold a number that a double cannot keep (:func:`read_float`), or an
    integer beyond 64 bits (:func:`has_long_digits`: 19 digits are 16 too)? True for 16
    digits in a row (a point among them or not) or an exponent below -99: memory searches
    in the text with every digit made "0", so that the common row is read by orjson alone."""
    if isinstance(text, str):
        text = text.encode()
    zeros = text.translate(_DIGITS_AND_POINT_TO_ZERO)
    return _MANY_DIGITS in zeros or b"e-000" in zeros or b"E-000" in zeros


class InexactFloat(float):
    """A double read from a number literal that it does not keep (``literal``)."""
    literal: str


def read_float(literal: str) -> float:
    """``float(literal)``, as an :class:`InexactFloat` when the double reads back as another
    number than the one written: ``12345678901234567.01`` (17 significant digits: the double
    is 1.2345678901234568e+16) or ``100.000000000000001`` (100.0). Money amounts stored so
    would change without a word; :func:`inexact_at` finds them. ``0.30000000000000004``,
    ``1e2`` and ``4.350`` read back as the same number: plain floats. So does a number too
    small for a double (``1e-400``), which every JSON reader takes as 0."""
    value = float(literal)
    # At most 15 digits and no exponent: kept exactly (DBL_DIG), no Decimal needed.
    if (len(literal) <= 16 and "e" not in literal and "E" not in literal) or not math.isfinite(value) \
            or value == 0:
        return value
    if Decimal(repr(value)) == Decimal(literal):
        return value
    inexact = InexactFloat(value)
    inexact.literal = literal
    return inexact


def inexact_message(literal: str, value: float) -> str:
    """Why the number ``literal`` (read as the double ``value``) is refused."""
    shown = literal if len(literal) <= 60 else literal[:57] + "..."
    return (f"{shown} has more digits than a number keeps: it would be stored as {float(value)!r}; "
            "round it, or store it as a string")


def inexact_at(value) -> tuple[str, str, float] | None:
    """``(pointer, literal, double)`` of the first :class:`InexactFloat` in ``value``, or None.

    Depth first, keeping only the path and one iterator per level alive: a stack of every
    pending child with its path (as it was) held millions of tuples for a 16 MB array of
    numbers, and Python's garbage collector, scanning them again and again, took 7.9 s
    (0.3 s for 1 MB): a request body's worth of CPU seconds for anyone who may POST."""
    if isinstance(value, InexactFloat):
        return "", value.literal, float(value)
    path: list = []  # the keys down to the container stack[-1] iterates
    stack = [_children(value)]
    while stack:
        for key, node in stack[-1]:
            if isinstance(node, InexactFloat):
                return pointer((*path, key)), node.literal, float(node)
            if isinstance(node, (dict, list)) and node:
                path.append(key)
                stack.append(_children(node))
                break
        else:
            stack.pop()
            if path:
                path.pop()
    return None


def _children(node):
    """``(key, value)`` of an object's members or an array's items; nothing for a scalar."""
    return iter(node.items()) if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else iter(())


class InexactNumber(orjson.JSONDecodeError):
    """A number that a double would change (:func:`read_float`); ``pointer`` is its place."""

    def __init__(self, text, pointer_: str, literal: str, value: float):
        doc = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        super().__init__(inexact_message(literal, value), doc, 0)
        self.pointer = pointer_


class RepeatedKey(orjson.JSONDecodeError):
    """A JSON object names one key twice. Parsers keep the last value silently, so a row
    that says two things about one field is refused instead; ``pointer`` is the key's."""

    def __init__(self, text, key: str, pointer_: str):
        doc = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        super().__init__(f"the key {key!r} is repeated in its object (JSON would keep only the last value)",
                         doc, 0)
        self.key, self.pointer = key, pointer_


def _may_repeat_keys(text: str | bytes, value) -> bool:
    """False when ``text`` surely names no key twice; a cheap test of the text as bytes.

    Every key is written as ``"…":`` unless whitespace comes between its closing quote and
    the colon. With none there, the count of ``":`` is the number of keys written plus any
    ``":`` inside strings; when it equals the number of keys read (``len(value)`` for a flat
    object, else every object's keys counted), no key was written twice. Anything else is
    checked by parsing again. (About 0.5 µs for an ordinary row.)
    """
    if isinstance(text, str):
        text = text.encode()
    written = text.count(b'":')
    # len() of a flat object saves walking it; a list's length counts no keys
    if written != (len(value) if isinstance(value, dict) else -1) and written != _key_count(value):
        return True
    return _SPACE_BEFORE_COLON.search(text) is not None


def _key_count(value) -> int:
    """How many keys the objects of ``value`` hold, nested ones included."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return count


#: A quote, whitespace, a colon: a key written with space before its colon.
_SPACE_BEFORE_COLON = re.compile(rb'"[ \t\r\n]+:')


class _Pairs(dict):
    repeated = None


def _pairs(pairs: list[tuple]) -> _Pairs:
    out = _Pairs(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        out.repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
    return out


def _refuse_repeated_keys(text: str | bytes) -> None:
    """Raise :class:`RepeatedKey` for the first object of ``text`` naming a key twice."""
    try:
        value = json.loads(text, object_pairs_hook=_pairs)
    except (RecursionError, ValueError):  # nested too deep: storage_errors refuses it
        return
    stack = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Pairs) and node.repeated is not None:
            raise RepeatedKey(text, node.repeated, pointer(path + (node.repeated,)))
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((v, path + (k,)) for k, v in reversed(list(items)))


def _big_ints(node, path: tuple) -> list[str]:
    """Pointers of integers that do not fit in signed 64 bits."""
    if isinstance(node, int) and not isinstance(node, bool):
        return [pointer(path)] if not -2**63 <= node < 2**63 else []
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _big_ints(v, path + (k,))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _big_ints(v, path + (i,))]
    return []


def too_deep(data, limit: int = MAX_DEPTH) -> str | None:
    """The pointer of the first object or array nested ``limit`` levels inside ``data``, or None."""
    stack = [(data, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        if depth >= limit:
            return pointer(path)
        stack.extend((v, path + (k,), depth + 1) for k, v in items)
    return None


def nul_pointers(data) -> list[str]:
    """Pointers of strings (keys or values) in ``data`` holding a NUL character.

    JSON allows ``\\u0000`` but PostgreSQL's text and JSONB cannot store it; refusing it on
    both engines keeps them alike. One serialisation finds the common case (none) fast.
    """
    try:
        if b"\\u0000" not in orjson.dumps(data):
            return []
    except TypeError:  # an integer beyond 64 bits (or too deep): walk it
        pass
    found: list[str] = []

    def walk(node, path):
        if isinstance(node, str):
            if "\x00" in node:
                found.append(pointer(path))
        elif isinstance(node, dict):
            for k, v in node.items():
                if "\x00" in k:
                    found.append(pointer(path + (k,)))
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + (i,))
    walk(data, ())
    return found
