"""Entry point of the ``xrm`` command: the group, error handling and plugin commands."""
from __future__ import annotations

import os
import re
import sys

import click

from ..errors import XrmError
from .context import CliContext


class XrmGroup(click.Group):
    """Turns every error into a clear message on stderr and a non-zero exit — no traceback.

    Exit status 2 for bad input (invalid data or definition, like click's usage errors),
    1 for everything else (unknown, forbidden, conflict, database unreachable…).
    """

    def add_command(self, cmd, name=None):
        """Add ``cmd``; a name taken by another command is refused, so a plugin cannot
        silently replace a core command (``xrm init``) or another plugin's."""
        name = name or cmd.name
        existing = self.commands.get(name)
        if existing is not None and existing is not cmd:
            raise ValueError(f"the command {name!r} exists already (`xrm {name}`): give yours another name, "
                             "or add it to a group of your own")
        super().add_command(cmd, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except XrmError as e:
            e = _busy(e) or e  # a plugin that met a deadlock did not fail: the database was busy
            click.echo(f"error: {e}", err=True)
            ctx.exit(2 if e.status in (400, 422) else 1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`xrm export … | head`): stop quietly, as other Unix
            # tools do, and keep Python from reporting the failed flush at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as e:  # noqa: BLE001 — users get a message, developers XRM_DEBUG=1
            busy = _busy(e)
            if busy is not None:
                click.echo(f"error: {busy}", err=True)
                ctx.exit(1)
            if os.environ.get("XRM_DEBUG"):
                raise
            click.echo(f"error: {_blame(e, ctx.obj)}{_explain(e, ctx.obj)}", err=True)
            ctx.exit(1)


def _busy(e: Exception):
    """The "database is busy … try again" refusal ``e`` amounts to (a deadlock, a lock
    timeout), else None (``xrm_core.db.busy_error``, imported only when something failed)."""
    from ..db import busy_error
    return busy_error(e)


#: What SQLite and PostgreSQL say when a table of the platform is missing
_NO_TABLE = re.compile(r'no such table: xrm_|relation "xrm_\w+" does not exist')


def _blame(e: Exception, c: CliContext | None) -> str:
    """``plugin 'NAME': `` when the code of a plugin that adds commands raised ``e`` (its
    command crashed), else nothing."""
    if not isinstance(c, CliContext):
        return ""
    from ..plugins import culprit_of
    name = culprit_of(c.pm, "xrm_cli_commands", e)
    return f"plugin {name!r}: " if name else ""


def _explain(e: Exception, c: CliContext | None = None) -> str:
    """One line for an unexpected error, naming the database (``c``) when it is the database's."""
    from sqlalchemy.exc import DatabaseError, OperationalError, ProgrammingError, StatementError
    text = str(getattr(e, "orig", e)).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, UnicodeEncodeError) or (isinstance(e, StatementError) and "surrogates not allowed" in text):
        # Bytes that are not UTF-8 on the command line reach Python as lone surrogates.
        return "the command line holds text that is not valid UTF-8"
    try:
        where = c.describe() if isinstance(c, CliContext) else None
    except Exception:  # noqa: BLE001 — what broke the command may break this too (a half-upgraded install)
        where = None
    if isinstance(e, (OperationalError, ProgrammingError, DatabaseError)):
        if _NO_TABLE.search(text):
            return "the database is not initialised: run `xrm init` first"
        file = c.sqlite_file() if isinstance(c, CliContext) else None
        if file and "file is not a database" in text:
            return f"{file} is not an SQLite database"
        if file and "unable to open database file" in text:
            folder = os.path.dirname(os.path.abspath(file))
            if not os.path.isdir(folder):
                return (f"{text}: {file}: the directory {folder} does not exist "
                        "(create it, then run `xrm init`)")
            return f"{text}: {file}: check the permissions of {folder} and of the file"
        if file and "readonly database" in text:
            return f"the database {file} is read-only: check the permissions of the file and of its directory"
        return f"database error at {where}: {text}" if where else f"database error: {text}"
    if isinstance(e, ModuleNotFoundError) and e.name == "psycopg":
        return "PostgreSQL needs the psycopg driver: pip install 'xrm-platform[postgres]'"
    return f"{type(e).__name__}: {text} (set XRM_DEBUG=1 for the traceback)"


def build_cli(pm=None) -> click.Group:
    """The ``xrm`` group with core commands and every plugin's ``xrm_cli_commands``."""
    from ..plugins import call_registering_hook, make_plugin_manager
    from . import admin_cmds, demo_cmds, io_cmds, kpi_cmds, record_cmds, schema_cmds, serve_cmds

    pm = pm if pm is not None else make_plugin_manager()

    @click.group(cls=XrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--db", "db_url", metavar="URL", envvar=None,
                  help="Database URL (default: $XRM_DATABASE_URL, else sqlite:///xrm.db).")
    @click.version_option(package_name="xrm-platform", prog_name="xrm")
    @click.pass_context
    def cli(ctx, db_url):
        """xrm — extensible relationship management: records, relationships, history, KPIs."""
        ctx.obj = CliContext(db_url, pm)
        ctx.call_on_close(ctx.obj.close)

    for module in (admin_cmds, schema_cmds, record_cmds, io_cmds, kpi_cmds, demo_cmds, serve_cmds):
        module.register(cli)
    # a crash names its plugin; so does a command returned instead of added
    call_registering_hook(pm, "xrm_cli_commands", (click.Command,), "add it with cli.add_command(COMMAND), "
                          "or define it with @cli.command()", cli=cli)
    _whole_summaries(cli)
    return cli


#: The longest summary a command listing shows (the first sentence of the command's help).
SUMMARY_LIMIT = 150


def _whole_summaries(group: click.Group) -> None:
    """Give every command under ``group`` (plugins' too) the first sentence of its help as its
    summary in command listings. Click cuts a summary to the width left beside the longest
    command name and ends it with "..." (`xrm records --help` showed "List records of TYPE
    (oldest first unless..."); a summary set explicitly is wrapped instead."""
    for cmd in group.commands.values():
        if not cmd.short_help and cmd.help:
            cmd.short_help = first_sentence(cmd.help, SUMMARY_LIMIT)
        if isinstance(cmd, click.Group):
            _whole_summaries(cmd)


def first_sentence(text: str, limit: int) -> str:
    """The first sentence of ``text``'s first paragraph, cut at a word with "..." beyond ``limit``."""
    words = text.split("\n\n", 1)[0].split()
    if words and words[0] == "\b":  # click's marker of a paragraph not to rewrap
        words = words[1:]
    out: list[str] = []
    for word in words:
        if len(" ".join(out + [word])) > limit - 3:
            return " ".join(out) + "..."
        out.append(word)
        if word.endswith("."):
            break
    return " ".join(out)


def main(argv=None) -> None:
    try:
        cli = build_cli()
    except XrmError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 — a broken plugin must not print a traceback
        if os.environ.get("XRM_DEBUG"):
            raise
        click.echo(f"error: cannot load plugins: {type(e).__name__}: {e}", err=True)
        sys.exit(1)
    cli.main(args=argv, prog_name="xrm")


if __name__ == "__main__":
    main()
