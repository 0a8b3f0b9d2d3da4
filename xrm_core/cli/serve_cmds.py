"""``xrm serve``: the admin UI and REST API — Flask's development server, or gunicorn."""
from __future__ import annotations

import argparse
import errno
import os
import shlex
import socket
import sys

import click

from ..errors import XrmError
from .context import pass_ctx


class CannotListen(XrmError):
    """``serve`` cannot listen on the address it was given (port in use, unknown host…)."""

    status = 409
    title = "Cannot listen"


class BadServerSettings(XrmError):
    """``GUNICORN_CMD_ARGS`` is not something gunicorn takes."""

    status = 400
    title = "Bad server settings"


def _check_web_settings() -> None:
    """Refuse a bad ``XRM_*`` setting of the app (``XRM_PROXY_HOPS``, a numeric one such as
    ``XRM_API_AUTH_CACHE_SECONDS``) before any worker starts, read from the environment as
    Flask reads it (JSON when it parses, else text)."""
    from flask import Config

    from ..web import check_settings
    config = Config(os.getcwd(), {"API_MAX_LIMIT": 1000})  # create_app's default maximum
    config.from_prefixed_env("XRM")
    try:
        check_settings(config)
    except ValueError as e:
        raise BadServerSettings(str(e)) from None


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=0, type=click.IntRange(0, 64),
              help="Run gunicorn with N worker processes (production); 0 = development server.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per gunicorn worker (with --workers).")
@pass_ctx
def serve(c, host, port, workers, threads):
    """Serve the admin UI and the REST API (/api/v1).

    Without --workers: Flask's development server (one process, threaded). With
    --workers N: gunicorn, N processes of --threads threads each, for production. Every
    process opens its own connections to the one database (XRM_DATABASE_URL / --db); set
    XRM_SECRET_KEY when several hosts serve the same site. Other gunicorn settings (an
    access log, timeouts…) come from GUNICORN_CMD_ARGS, e.g. "--access-logfile -".
    """
    platform = c.platform  # refuses an uninitialised database before anything starts
    _check_web_settings()
    check_can_listen(host, port)
    if workers:
        gunicorn_env_settings()  # refuses bad GUNICORN_CMD_ARGS before the banner below
        url = platform.url
        pm = platform.pm
        platform.dispose()  # no pooled connection may cross the fork into the workers

        def app_factory():
            from ..platform import Platform
            from ..web import create_app
            return create_app(Platform(url, pm=pm))

        click.echo(f"xrm serving {platform.shown_url} on http://{host}:{port}/ (gunicorn, {workers} worker(s) "
                   f"x {threads} thread(s))", err=True)
        run_gunicorn(app_factory, host, port, workers, threads)
        return
    from ..web import create_app
    app = create_app(platform)
    _plain_server_log()
    click.echo(f"xrm serving {platform.shown_url} on http://{host}:{port}/ (development server; "
               "use --workers N for production)", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


def _plain_server_log() -> None:
    """No ANSI colours in the development server's log when NO_COLOR is set or stderr is not
    a terminal (a log file, journald): werkzeug colours its banner and request lines always."""
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        from werkzeug import serving
        serving._log_add_style = False  # werkzeug's own switch (off on consoles without colour)


def check_can_listen(host: str, port: int) -> None:
    """Refuse, with one line, an address ``serve`` could not listen on — before it announces
    itself as serving (the development server printed its banner first, and gunicorn retries
    a port in use for five seconds before giving up)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise CannotListen(f"cannot listen on {host}:{port}: unknown host ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # Both servers set SO_REUSEADDR too: a port left in TIME_WAIT by a restart is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                why = "the port is in use (another xrm serve?); stop that program or choose another --port"
            elif e.errno == errno.EACCES:
                why = "permission denied (ports below 1024 need privileges); choose another --port"
            elif e.errno == errno.EADDRNOTAVAIL:
                why = "no interface of this host has that address; check --host"
            else:
                why = e.strerror or str(e)
            raise CannotListen(f"cannot listen on {host}:{port}: {why}") from None


def run_gunicorn(app_factory, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve the WSGI app built by ``app_factory()`` (called once in each worker, after the
    fork) with gunicorn. Also used by ``bench/api_get.py`` so both sides of a comparison
    run under the same server settings."""
    import secrets  # local: only gunicorn needs it
    application = gunicorn_application(app_factory, host, port, workers, threads)
    # One secret for all workers (signed sessions, CSRF tokens must verify in any of them);
    # several hosts must share XRM_SECRET_KEY explicitly.
    os.environ.setdefault("XRM_SECRET_KEY", secrets.token_hex(32))
    application.run()


def gunicorn_application(app_factory, host: str, port: int, workers: int, threads: int = 4):
    """The gunicorn application :func:`run_gunicorn` runs, configured but not started.

    Settings given in ``GUNICORN_CMD_ARGS`` (gunicorn's own command-line syntax) apply too,
    except the address, the workers and the threads, which the arguments decide."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise click.ClickException("--workers needs gunicorn: pip install gunicorn") from None
    settings = gunicorn_env_settings()

    class App(BaseApplication):
        def load_config(self):
            # gthread keeps client connections alive (the sync worker closes each one).
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("keepalive", 5)
            self.cfg.set("accesslog", None)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 25 opens a control socket at one fixed path per user
                # (~/.gunicorn/gunicorn.ctl): a second `xrm serve --workers` of the same user
                # took it over and removed it when it stopped. xrm does not use it.
                self.cfg.set("control_socket_disable", True)
            for name, value in settings.items():
                self.cfg.set(name, value)
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)

        def load(self):
            return app_factory()

    return App()


def gunicorn_env_settings() -> dict:
    """The settings ``GUNICORN_CMD_ARGS`` gives, by gunicorn setting name (gunicorn's
    ``Application`` reads that variable, its ``BaseApplication`` — which ``serve`` builds
    on — does not). Refused with :class:`BadServerSettings` if gunicorn would not take it."""
    text = os.environ.get("GUNICORN_CMD_ARGS", "")
    if not text.strip():
        return {}
    from gunicorn.config import Config
    parser = Config().parser()
    parser.exit_on_error = False  # an ArgumentError to report, not argparse's exit
    try:
        args, unknown = parser.parse_known_args(shlex.split(text))
    except (ValueError, argparse.ArgumentError) as e:  # ValueError: shlex (an open quote)
        raise BadServerSettings(f"GUNICORN_CMD_ARGS: {e} (see `gunicorn --help`)") from None
    # gunicorn's parser takes words that are no option as the application to serve: here
    # the application is xrm's, so they are mistakes too (a value after a flag that takes none).
    unknown = [*unknown, *(getattr(args, "args", None) or [])]
    if unknown:
        raise BadServerSettings(f"GUNICORN_CMD_ARGS: unknown to gunicorn: {' '.join(unknown)} "
                                "(see `gunicorn --help`)")
    return {name.lower(): value for name, value in vars(args).items() if value is not None and name != "args"}
