"""Shared CLI plumbing: the lazily opened platform, output helpers, option decorators."""
from __future__ import annotations

import json
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
        """The Platform, without checking that the database is initialised."""
        if self._platform is None:
            from ..platform import Platform
            self._platform = Platform(self.url, pm=self.pm)
        return self._platform

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
        from ..platform import database_url
        url = make_url(database_url(self.url))
        shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not url.database.startswith("file:") and not Path(url.database).exists():
            raise NotInitialised(f"no database at {url.database}: run `xrm init` first")
        with self.open_platform().engine.connect() as conn:
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
    """Compact JSON for one value in text output."""
    return orjson.dumps(value, default=_default).decode()


def parse_json_arg(text: str, what: str):
    """Parse a JSON option value (or ``@FILE``), with the position of any syntax error."""
    if text.startswith("@"):
        return read_json_file(text[1:])
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def read_json_file(path: str):
    """Read a JSON file; syntax errors name the file, line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"{path}: cannot read: {e}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    except _RepeatedKey as e:
        # JSON parsers keep the last of repeated keys silently: a definition that says
        # "name" twice means one of them by mistake.
        raise ValidationError(f"{path}: the key {e.key!r} appears twice in one object",
                              [{"pointer": "", "message": f"repeated key {e.key!r}"}]) from None


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
    cells = [[str("" if c is None else c) for c in r] for r in rows]
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
    from unicodedata import combining, east_asian_width
    return sum(0 if combining(ch) else 2 if east_asian_width(ch) in "WF" else 1 for ch in text)
