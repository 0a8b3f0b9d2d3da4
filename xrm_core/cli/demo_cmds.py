"""``xrm demo``: load the plugins' demo data set into an initialised, empty database.

The core knows nothing of the data: it calls every plugin's ``xrm_demo_data(session)`` hook
once, in pluggy's order (plugins that must come first or last mark their implementation
``tryfirst``/``trylast``, or wrap the others with ``wrapper=True``), inside ONE transaction
acting as the admin — all or nothing — and reports what was created. The hooks get a
:class:`~xrm_core.cli.demo_session.DemoSession`, an admin Session that also shows
progress.
"""
from __future__ import annotations

import sys
import time

import click

from ..errors import Conflict, NotFound
from .context import emit_json, json_option, pass_ctx, table

#: The password plugins give the demo users they create (printed: demo databases only).
DEMO_PASSWORD = "demo"
#: Environment variable that sets ``--scale`` when the option is not given.
SCALE_ENV = "XRM_DEMO_SCALE"


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command(short_help="Load the demo data set into an empty database.")
@click.option("--scale", type=click.FloatRange(0.01, 10), default=1.0, envvar=SCALE_ENV, metavar="F",
              help=f"Size factor of the data set (default 1, or ${SCALE_ENV}); 0.1 loads a tenth.")
@json_option
@pass_ctx
def demo(c, scale, as_json):
    """Load the demo data set of the installed plugins into an empty database.

    Run `xrm init` first. The data is the same on every run; a database that already holds
    records is refused. The demo users' password is printed: use it on demo databases only.
    """
    # Local: SQLAlchemy and the session classes load only when the command runs.
    from sqlalchemy import func, select

    from .. import db
    from ..plugins import call_hook
    from .demo_session import DemoSession

    platform = c.platform  # refuses a database `xrm init` has not set up
    if not platform.pm.hook.xrm_demo_data.get_hookimpls():
        raise NotFound("no installed plugin contributes demo data (xrm_demo_data)")
    started = time.monotonic()
    with platform.session("admin") as s:
        existing = s.conn.execute(select(func.count()).select_from(db.records)).scalar_one()
        if existing:
            raise Conflict(f"the demo loads into an empty database; this one has {existing} records "
                           "(use a new database, e.g. --db sqlite:///demo.db, and run `xrm init` there)")
        users_before = set(s.user_names().values())
        progress = _Progress(quiet=as_json)
        demo_session = DemoSession(platform, s.conn, s.actor, progress, scale)
        progress.echo("loading the demo data…")
        call_hook(platform.pm, "xrm_demo_data", session=demo_session)  # a crash names its plugin
        s.invalidate()
        counts = dict(s.conn.execute(select(db.records.c.type, func.count()).group_by(db.records.c.type)
                                     .order_by(db.records.c.type)).all())
        users = _new_users(s, users_before)
    progress.done()
    summary = {"records": sum(counts.values()), "types": counts, "users": users,
               "password": DEMO_PASSWORD if users else None, "seconds": round(time.monotonic() - started, 1)}
    if as_json:
        emit_json(summary)
        return
    table([[t, n] for t, n in counts.items()], ["TYPE", "RECORDS"])
    click.echo(f"{summary['records']} records in {summary['seconds']} s")
    if users:
        table([[u["name"], u["unit"], ", ".join(u["roles"])] for u in users], ["USER", "UNIT", "ROLES"])
        click.echo(f"password of these users: {DEMO_PASSWORD!r} — for demo databases only, "
                   "never on real data")


def _new_users(s, before: set[str]) -> list[dict]:
    from .. import accounts  # local: argon2 and SQLAlchemy, only when the command runs
    return [{"name": u["name"], "unit": u["unit"], "roles": u["roles"]}
            for u in accounts.list_users(s.conn) if u["name"] not in before]


class _Progress:
    """Records created so far, per entity type, on stderr while the hooks run. A terminal
    gets one line rewritten in place; anything else (a log, a test) a line per entity type
    as it completes."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.total = 0
        self.current: str | None = None
        self.count = 0

    def add(self, type_name: str, n: int) -> None:
        if type_name != self.current:
            self._finish_line()
            self.current, self.count = type_name, 0
        self.count += n
        self.total += n
        if self.tty and not self.quiet:
            click.echo(f"\r  {self.current:<20} {self.count:>7}   total {self.total:>7}", err=True, nl=False)

    def _finish_line(self) -> None:
        if self.current is None or self.quiet:
            return
        if self.tty:
            click.echo(err=True)
        else:
            click.echo(f"  {self.current:<20} {self.count:>7}   total {self.total:>7}", err=True)

    def done(self) -> None:
        self._finish_line()
        self.current = None

    def echo(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)
