"""Shared CLI plumbing: the lazily opened platform, output helpers, option decorators."""
from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import click
import orjson

from ..errors import ValidationError, XrmError


class NotInitialised(XrmError):
    """The database is missing, empty or at an older revision: ``xrm init`` fixes it."""

    status = 503
    title = "Database not initialised"


class UnusableDatabase(XrmError):
    """``--db`` / ``XRM_DATABASE_URL`` is not a URL of a database xrm can open."""

    status = 400
    title = "Unusable database URL"


class CliContext:
    """``click.get_current_context().obj``: the database URL and the platform, opened on first use.

    :attr:`platform` refuses a database that ``xrm init`` has not set up (or not upgraded)
    with one clear line, and never creates an SQLite file as a side effect; ``init`` uses
    :meth:`open_platform` instead.
    """

    def __init__(self, url: str | None, pm):
        self.url = url
        self.pm = pm
        self._platform = None
        self._checked = False

    def open_platform(self):
        """The Platform, without checking that the database is initialised.

        A URL that is not one (``--db bogus``), names a database xrm does not run on
        (``mysql://…``) or needs a driver that is not installed is refused with one line
        naming the URL and where it came from (``--db`` or ``XRM_DATABASE_URL``).
        """
        if self._platform is None:
            from sqlalchemy.exc import ArgumentError, NoSuchModuleError

            from ..platform import Platform
            url = self._checked_url()
            try:
                self._platform = Platform(url, pm=self.pm)
            except NoSuchModuleError:
                raise UnusableDatabase(f"{self.describe()}: unknown database driver; use sqlite:///FILE or "
                                       "postgresql://USER@HOST/DB") from None
            except ArgumentError:
                # SQLAlchemy refuses an SQLite URL with a user, password or host (sqlite://u:p@/…).
                raise UnusableDatabase(f"{self.describe()} is not a URL xrm can open; an SQLite file is "
                                       "sqlite:///FILE or sqlite:////ABSOLUTE/PATH (no user, password or "
                                       "host)") from None
            except ModuleNotFoundError as e:
                if e.name == "psycopg":
                    raise  # the caller explains how to install it
                raise UnusableDatabase(f"{self.describe()}: the database driver {e.name!r} is not installed") from None
        return self._platform

    def describe(self) -> str:
        """The database URL (password hidden) and where it came from, for messages."""
        from ..platform import database_url
        url = database_url(self.url)
        try:
            from sqlalchemy.engine import make_url
            shown = make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 — not a URL SQLAlchemy parses (a typo in the port):
            # shown as given, but for what reads as a password (`://USER:PASSWORD@`).
            import re
            shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        source = "--db" if self.url else "XRM_DATABASE_URL" if os.environ.get("XRM_DATABASE_URL") else "default"
        return f"{shown} (from {source})" if source != "default" else shown

    def _checked_url(self) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from ..platform import database_url
        url = database_url(self.url)
        try:
            backend = make_url(url).get_backend_name()
        except (ArgumentError, ValueError):
            raise UnusableDatabase(f"{self.describe()} is not a database URL; use sqlite:///FILE "
                                   "(sqlite:////ABSOLUTE/PATH) or postgresql://USER@HOST/DB") from None
        if backend not in ("sqlite", "postgresql"):
            hint = " (write postgresql://…)" if backend == "postgres" else ""
            raise UnusableDatabase(f"{self.describe()}: xrm runs on SQLite and PostgreSQL, not {backend!r}{hint}")
        return url

    def sqlite_file(self) -> str | None:
        """The file of an SQLite database URL (``None`` for other databases or in-memory)."""
        from sqlalchemy.engine import make_url

        from ..platform import database_url
        try:
            url = make_url(database_url(self.url))
        except Exception:  # noqa: BLE001
            return None
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") \
                or url.database.startswith("file:"):
            return None
        return url.database

    @property
    def platform(self):
        """The Platform of an initialised, up-to-date database (else NotInitialised)."""
        if not self._checked:
            self._check_initialised()
            self._checked = True
        return self.open_platform()

    def _check_initialised(self) -> None:
        from sqlalchemy.engine import make_url

        from .. import migrations
        url = make_url(self._checked_url())
        shown = url.render_as_string(hide_password=True)
        platform = self.open_platform()  # refuses a URL SQLAlchemy cannot open (connects to nothing)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not url.database.startswith("file:") and not Path(url.database).exists():
            folder = os.path.dirname(os.path.abspath(url.database))
            raise NotInitialised(f"no database at {url.database}: run `xrm init` first" if os.path.isdir(folder)
                                 else f"no database at {url.database}: the directory {folder} does not exist "
                                 "(create it, then run `xrm init`)")
        with platform.engine.connect() as conn:
            revision = migrations.current(conn)
        if revision is None:
            raise NotInitialised(f"the database {shown} is not initialised: run `xrm init` first")
        if revision != migrations.HEAD and revision not in migrations.revisions():
            raise NotInitialised(f"the database {shown} is at revision {revision}, newer than this xrm knows "
                                 f"(up to {migrations.HEAD}): a newer release of xrm upgraded it; use that release "
                                 "or a later one")
        if revision != migrations.HEAD:
            raise NotInitialised(f"the database {shown} is at revision {revision}, this xrm needs "
                                 f"{migrations.HEAD}: run `xrm init` to upgrade it")

    def close(self) -> None:
        """Release the database connections (called when the command ends)."""
        if self._platform is not None:
            self._platform.dispose()
            self._platform = None

    def session(self, as_user: str | None, write: bool = True):
        """A Session acting as ``as_user`` (default: admin); unknown users are refused —
        an empty name too (``--as "$USER_VAR"`` with the variable unset must not act as admin)."""
        return self.platform.session("admin" if as_user is None else as_user, write=write)

    def admin_connection(self, as_user: str | None):
        """A plain transaction for administration, after checking ``as_user`` is an administrator."""
        from ..errors import PermissionDenied
        with self.session(as_user, write=False) as s:
            if not s.actor.is_admin:
                raise PermissionDenied(f"{s.actor.name!r} is not an administrator")
        return self.platform.connection()

    def reader_connection(self, as_user: str | None):
        """A plain transaction for reading definitions, after checking ``as_user`` exists."""
        if as_user is not None:
            with self.session(as_user, write=False):
                pass
        return self.platform.connection()


pass_ctx = click.make_pass_decorator(CliContext)


def as_option(f):
    return click.option("--as", "as_user", metavar="USER", help="Act within this user's scope (default: admin).")(f)


def admin_as_option(f):
    """``--as USER`` of an administration command: USER must be an administrator."""
    return click.option("--as", "as_user", metavar="USER",
                        help="Act as this user, who must be an administrator (default: admin).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout.")(f)


def _default(value):
    # Numbers may come back from the database as Decimal (PostgreSQL numeric): print them
    # as the JSON numbers they are; sets and tuples as arrays.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit_json(value) -> None:
    """Print ``value`` as the one JSON document of a ``--json`` command."""
    sys.stdout.write(orjson.dumps(value, default=_default,
                                  option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def dumps(value) -> str:
    """Compact JSON for one value in text output, object keys sorted: the engines keep them
    in different orders (PostgreSQL's JSONB shorter keys first), and a value should read the
    same from either, and as ``xrm export`` writes it."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS).decode()


def parse_json_arg(text: str, what: str):
    """Parse a JSON option value (or ``@FILE``), with the position of any syntax error.

    Strict JSON: a key repeated in one object, ``NaN``/``Infinity``, a number too large for
    a float, text that is not UTF-8 (a lone surrogate) and absurd nesting are refused with
    a message naming ``what`` (the option) — never a traceback.
    """
    if text.startswith("@"):
        if not text[1:]:
            raise ValidationError(f"{what} @: give a file name after @ (--data @record.json)")
        return read_json_file(text[1:])
    return _loads(text, what, lambda msg, line, col: f"{what} is not valid JSON: {msg} at line {line} column {col}")


def read_json_file(path: str):
    """Read a JSON file; syntax errors name the file, line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValidationError(f"{path}: is a directory, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise ValidationError(f"{path}: cannot read: not UTF-8 text (byte {e.start + 1})") from None
    except OSError as e:
        raise ValidationError(f"{path}: cannot read: {e.strerror or e}") from None
    if not text.strip():
        # json's "Expecting value at 1:1" does not say that there is nothing to read
        raise ValidationError(f"{path}: the file is empty (expected a JSON document)")
    return _loads(text, path, lambda msg, line, col: f"{path}:{line}:{col}: invalid JSON: {msg}")


def _loads(text: str, what: str, syntax_message):
    """``json.loads`` for user input, strict (see :func:`parse_json_arg`)."""
    # Imported here: stored_json loads the validator, which every command's start-up
    # (``--help`` included) would pay for.
    from ..stored_json import inexact_at, inexact_message

    try:
        value = json.loads(text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant,
                           parse_float=_finite_float)
        pointer = _surrogate_at(value, "")
        inexact = inexact_at(value)
    except json.JSONDecodeError as e:
        # json's own wording ends "…character at" before its position: we give the position.
        raise ValidationError(syntax_message(e.msg.removesuffix(" at"), e.lineno, e.colno)) from None
    except _NotJson as e:
        raise ValidationError(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        raise ValidationError(f"{what} is not usable JSON: its arrays and objects are nested too deeply") from None
    except _RepeatedKey as e:
        # JSON parsers keep the last of repeated keys silently: a document that says
        # "name" twice means one of them by mistake.
        raise ValidationError(f"{what}: the key {e.key!r} appears twice in one object",
                              [{"pointer": "", "message": f"repeated key {e.key!r}"}]) from None
    if inexact is not None:
        # 12345678901234567.01 would be stored as 1.2345678901234568e+16, without a word
        where, literal, double = inexact
        raise ValidationError(f"{what} holds a number that would change when stored",
                              [{"pointer": where, "message": inexact_message(literal, double)}])
    if pointer is not None:
        # A lone surrogate (the shell passed bytes that are not UTF-8, or a "\\ud800" escape)
        # cannot be stored; say where instead of failing in the database driver.
        raise ValidationError(f"{what} holds text that is not valid Unicode (not UTF-8, or a lone surrogate)",
                              [{"pointer": pointer, "message": "not valid Unicode text"}])
    return value


class _NotJson(ValueError):
    pass


def _no_constant(name: str):
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    from ..stored_json import read_float  # see _loads

    value = read_float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJson(f"the number {text[:40]} is too large")
    return value


def _surrogate_at(value, pointer: str) -> str | None:
    """JSON pointer of the first string (key or value) in ``value`` that cannot be encoded as UTF-8."""
    if isinstance(value, str):
        return None if value.isascii() or _utf8(value) else pointer
    if isinstance(value, dict):
        for k, v in value.items():
            here = pointer + "/" + k.replace("~", "~0").replace("/", "~1")
            if not (k.isascii() or _utf8(k)):
                return here
            found = _surrogate_at(v, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _surrogate_at(v, f"{pointer}/{i}")
            if found is not None:
                return found
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _RepeatedKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_repeated_keys(pairs: list[tuple]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        raise _RepeatedKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def label_text(label) -> str:
    if isinstance(label, dict):
        return label.get("en") or next(iter(label.values()), "")
    return label or ""


def table(rows: list[list], headers: list[str]) -> None:
    """Print rows as an aligned text table (Chinese and other wide characters take two
    columns of a terminal, combining marks none)."""
    # A value holding a line break or tab (a multi-line note) would start a new row or
    # shift the columns: cells and headers show such characters escaped, on one line.
    cells = [[one_line(str("" if c is None else c)) for c in r] for r in rows]
    headers = [one_line(h) for h in headers]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values):
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    click.echo(line(headers))
    for r in cells:
        click.echo(line(r))


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    # Combining marks and format characters (the zero-width joiner, the right-to-left
    # marks of Persian or Arabic text) take no column; wide (CJK) characters take two.
    from unicodedata import category, combining, east_asian_width
    if combining(ch) or category(ch) == "Cf":
        return 0
    return 2 if east_asian_width(ch) in "WF" else 1


_CONTROL = {i: f"\\x{i:02x}" for i in (*range(32), 127, 0x85)} | {9: "\\t", 10: "\\n", 13: "\\r",
                                                            0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    """``text`` with line breaks, tabs and other control characters escaped (``\\n``), so
    that it stays on one line of text output."""
    return text.translate(_CONTROL) if not text.isprintable() else text


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal columns."""
    return text + " " * max(width - _width(text), 0)


def cut(text: str, width: int = 40) -> str:
    """``text`` on one line, cut to at most ``width`` terminal columns with a final "…"
    (by columns, not characters: 40 Chinese characters take 80)."""
    text = one_line(text)
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def show_value(value) -> str:
    """A data value for text output: a string as it is, unless it would read as another
    JSON value (``"5"``, ``"true"``: shown quoted, as ``--where`` takes it); anything else as
    JSON (``true``, ``null``, ``5``)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return dumps(value)
    return dumps(value)
