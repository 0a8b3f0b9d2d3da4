"""``xrm serve``: the admin UI and REST API — Flask's development server, or gunicorn."""
from __future__ import annotations

import os
import sys

import click

from .context import pass_ctx


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
    XRM_SECRET_KEY when several hosts serve the same site.
    """
    platform = c.platform  # refuses an uninitialised database before anything starts
    if workers:
        url = platform.url
        pm = platform.pm
        platform.dispose()  # no pooled connection may cross the fork into the workers

        def app_factory():
            from ..platform import Platform
            from ..web import create_app
            return create_app(Platform(url, pm=pm))

        click.echo(f"xrm serving {url} on http://{host}:{port}/ (gunicorn, {workers} worker(s) "
                   f"x {threads} thread(s))", err=True)
        run_gunicorn(app_factory, host, port, workers, threads)
        return
    from ..web import create_app
    app = create_app(platform)
    _plain_server_log()
    click.echo(f"xrm serving {platform.url} on http://{host}:{port}/ (development server; "
               "use --workers N for production)", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


def _plain_server_log() -> None:
    """No ANSI colours in the development server's log when NO_COLOR is set or stderr is not
    a terminal (a log file, journald): werkzeug colours its banner and request lines always."""
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        from werkzeug import serving
        serving._log_add_style = False  # werkzeug's own switch (off on consoles without colour)


def run_gunicorn(app_factory, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve the WSGI app built by ``app_factory()`` (called once in each worker, after the
    fork) with gunicorn. Also used by ``bench/api_get.py`` so both sides of a comparison
    run under the same server settings."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise click.ClickException("--workers needs gunicorn: pip install gunicorn") from None
    import secrets  # local: only gunicorn needs it
    # One secret for all workers (signed sessions, CSRF tokens must verify in any of them);
    # several hosts must share XRM_SECRET_KEY explicitly.
    os.environ.setdefault("XRM_SECRET_KEY", secrets.token_hex(32))

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # gthread keeps client connections alive (the sync worker closes each one).
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", 5)
            self.cfg.set("accesslog", None)

        def load(self):
            return app_factory()

    App().run()
