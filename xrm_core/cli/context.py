"""Shared CLI plumbing: the lazily opened platform, output helpers, option decorators."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import orjson

from ..errors import ValidationError


class CliContext:
    """``click.get_current_context().obj``: the database URL and the platform, opened on first use."""

    def __init__(self, url: str | None, pm):
        self.url = url
        self.pm = pm
        self._platform = None

    @property
    def platform(self):
        if self._platform is None:
            from ..platform import Platform
            self._platform = Platform(self.url, pm=self.pm)
        return self._platform

    def session(self, as_user: str | None, write: bool = True):
        return self.platform.session(as_user or "admin", write=write)


pass_ctx = click.make_pass_decorator(CliContext)


def as_option(f):
    return click.option("--as", "as_user", metavar="USER", help="Act within this user's scope (default: admin).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout.")(f)


def emit_json(value) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def dumps(value) -> str:
    return orjson.dumps(value).decode()


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
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None


def label_text(label) -> str:
    if isinstance(label, dict):
        return label.get("en") or next(iter(label.values()), "")
    return label or ""


def table(rows: list[list], headers: list[str]) -> None:
    """Print rows as an aligned text table."""
    cells = [[str("" if c is None else c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
