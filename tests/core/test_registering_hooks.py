"""``xrm_cli_commands(cli)`` and ``xrm_flask_app(app)`` register what they add on their
argument. A plugin that *returns* its command or blueprint instead registered nothing, and
nothing said so: ``xrm hello`` answered "No such command". It is refused now, naming the
plugin and what to write instead; returning anything else (the app itself) is let be."""
from __future__ import annotations

import click
import pytest
from flask import Blueprint

from xrm_core import PluginError, hookimpl
from xrm_core.cli import main as cli_main
from xrm_core.platform import Platform
from xrm_core.plugins import make_plugin_manager
from xrm_core.web import create_app


class Plugin:
    def __init__(self, name, **hooks):
        self.__name__ = name
        for hook, fn in hooks.items():
            setattr(self, hook, fn)


@click.command("hello")
def hello():
    click.echo("hello")


pages = Blueprint("forgotten_pages", __name__)


@pages.get("/forgotten")
def forgotten():
    return "here"


@pytest.mark.parametrize("returned", [hello, [hello]])
def test_a_command_returned_instead_of_added_is_refused_naming_the_plugin(returned):
    pm = make_plugin_manager(False, [Plugin("greeter", xrm_cli_commands=hookimpl(lambda cli: returned))])
    with pytest.raises(PluginError) as e:
        cli_main.build_cli(pm)
    assert str(e.value) == ("plugin 'greeter' returned a Command ('hello') from xrm_cli_commands, which registers "
                            "nothing it returns: add it with cli.add_command(COMMAND), or define it with @cli.command()")


def test_the_cli_says_so_on_stderr_without_a_traceback(monkeypatch, capsys):
    import xrm_core.plugins
    monkeypatch.setattr(xrm_core.plugins, "make_plugin_manager", lambda *a, **k: make_plugin_manager(
        False, [Plugin("greeter", xrm_cli_commands=hookimpl(lambda cli: hello))]))
    with pytest.raises(SystemExit) as e:
        cli_main.main(["--help"])
    err = capsys.readouterr().err
    assert e.value.code == 1
    assert "error: plugin 'greeter' returned a Command ('hello')" in err and "cli.add_command" in err
    assert "Traceback" not in err


def test_a_command_added_and_the_group_returned_work():
    def add(cli):
        cli.add_command(hello)
        return cli  # returning its argument by habit is harmless
    cli = cli_main.build_cli(make_plugin_manager(False, [Plugin("greeter", xrm_cli_commands=hookimpl(add))]))
    assert cli.get_command(None, "hello") is hello


def test_a_blueprint_returned_instead_of_registered_is_refused(db_url):
    pm = make_plugin_manager(False, [Plugin("pager", xrm_flask_app=hookimpl(lambda app: pages))])
    platform = Platform(db_url, pm=pm)
    try:
        with pytest.raises(PluginError, match=r"^plugin 'pager' returned a Blueprint \('forgotten_pages'\) from "
                                              r"xrm_flask_app, which registers nothing it returns: register it "
                                              r"with app.register_blueprint\(BLUEPRINT\)$"):
            create_app(platform, {"TESTING": True})
    finally:
        platform.dispose()


def test_a_blueprint_registered_and_the_app_returned_work(db_url):
    def register(app):
        app.register_blueprint(pages)
        return app
    platform = Platform(db_url, pm=make_plugin_manager(False, [Plugin("pager", xrm_flask_app=hookimpl(register))]))
    try:
        app = create_app(platform, {"TESTING": True})
        assert "forgotten_pages.forgotten" in app.view_functions
    finally:
        platform.dispose()
