"""``xrm serve``: the admin UI and REST API."""
from __future__ import annotations

import os

import click

from .context import pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=0, type=click.IntRange(0, 64),
              help="Run gunicorn with N worker processes (production); 0 = development server.")
@pass_ctx
def serve(c, host, port, workers):
    """Serve the admin UI and the REST API (/api/v1)."""
    if workers:
        _gunicorn(c.platform.url, host, port, workers)
        return
    from ..web import create_app
    app = create_app(c.platform)
    click.echo(f"xrm serving {c.platform.url} on http://{host}:{port}/ (development server; "
               "use --workers N for production)", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


def _gunicorn(url: str, host: str, port: int, workers: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise click.ClickException("--workers needs gunicorn: pip install gunicorn") from None

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)

        def load(self):
            # Each worker opens its own engine after the fork.
            from ..platform import Platform
            from ..web import create_app
            return create_app(Platform(url))

    os.environ.setdefault("XRM_DATABASE_URL", url)
    App().run()
