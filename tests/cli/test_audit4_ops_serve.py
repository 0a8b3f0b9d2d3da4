"""Operator audit of ``xrm serve``: an address it cannot listen on is one clear line before
any banner, the banner hides the database password, and gunicorn takes GUNICORN_CMD_ARGS
but keeps no control socket a second instance could take over."""
from __future__ import annotations

import socket

import pytest

from conftest import PersonPlugin
from xrm_core.cli import serve_cmds


@pytest.fixture
def xrm(cli):
    """The CLI with the person test plugin, on an initialised database."""
    def run(*args):
        return cli(*args, plugins=[PersonPlugin()])
    assert run("init", "--admin-password", "secret").exit_code == 0
    return run


@pytest.fixture
def busy_port():
    """A port of 127.0.0.1 another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def no_server(monkeypatch):
    """Record what would be served instead of serving it."""
    started = []
    monkeypatch.setattr("flask.Flask.run", lambda app, **kw: started.append(("dev", kw)))
    monkeypatch.setattr(serve_cmds, "run_gunicorn", lambda *a: started.append(("gunicorn", a)))
    return started


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_port_in_use_is_one_line_and_nothing_starts(xrm, busy_port, no_server, workers):
    r = xrm("serve", "--port", str(busy_port), "--workers", workers)
    assert r.exit_code == 1, r.stderr
    assert r.stderr == (f"error: cannot listen on 127.0.0.1:{busy_port}: the port is in use (another xrm "
                        "serve?); stop that program or choose another --port\n")
    assert "xrm serving" not in r.stderr and no_server == []


def test_an_unknown_host_is_one_line(xrm, no_server):
    r = xrm("serve", "--host", "no-such-host.invalid", "--port", "8000")
    assert r.exit_code == 1 and r.stderr.startswith("error: cannot listen on no-such-host.invalid:8000: unknown host")
    assert no_server == []


def test_a_free_port_is_served(xrm, no_server):
    with socket.socket() as s:  # a port free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = xrm("serve", "--port", str(port))
    assert r.exit_code == 0, r.stderr
    assert no_server == [("dev", {"host": "127.0.0.1", "port": port, "debug": False, "use_reloader": False,
                                  "threaded": True})]


def test_the_banner_hides_the_database_password(xrm, db_url, no_server):
    from click.testing import CliRunner
    from sqlalchemy.engine import make_url

    from xrm_core.cli.main import build_cli
    from xrm_core.plugins import make_plugin_manager
    if db_url.startswith("sqlite"):
        pytest.skip("an SQLite URL has no password")
    # The test server's trust authentication ignores the password.
    url = make_url(db_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for workers in ("0", "1"):
        cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
        r = CliRunner().invoke(cli, ["--db", url, "serve", "--port", str(port), "--workers", workers],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
        assert "xrm serving" in r.stderr and "s3cret-pw" not in r.stderr and ":***@" in r.stderr, r.stderr
    assert [kind for kind, _ in no_server] == ["dev", "gunicorn"]


@pytest.mark.parametrize("args, says", [
    ("--no-such-option 1", "unknown to gunicorn: --no-such-option 1"),
    ("--timeout abc", "invalid int value: 'abc'"),
    ("--access-logfile 'unclosed", "No closing quotation"),
])
def test_bad_gunicorn_cmd_args_are_refused_before_serving(xrm, monkeypatch, no_server, args, says):
    monkeypatch.setenv("GUNICORN_CMD_ARGS", args)
    r = xrm("serve", "--port", "8000", "--workers", "2")
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: GUNICORN_CMD_ARGS: ") and says in r.stderr, r.stderr
    assert "xrm serving" not in r.stderr and no_server == []


def test_init_hides_the_database_password(db_url):
    """`xrm init` printed the URL with its password (text and --json), as the serve banner did."""
    from click.testing import CliRunner
    from sqlalchemy.engine import make_url

    from xrm_core.cli.main import build_cli
    from xrm_core.plugins import make_plugin_manager
    if db_url.startswith("sqlite"):
        pytest.skip("an SQLite URL has no password")
    url = make_url(db_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    for args in ((), ("--json",)):
        cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
        r = CliRunner().invoke(cli, ["--db", url, "init", "--admin-password", "pw", *args])
        assert r.exit_code == 0, r.stderr
        assert "s3cret-pw" not in r.stdout + r.stderr and ":***@" in r.stdout, r.stdout


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_bad_proxy_hops_setting_is_refused_before_serving(xrm, monkeypatch, no_server, workers):
    monkeypatch.setenv("XRM_PROXY_HOPS", "two")
    r = xrm("serve", "--port", "8000", "--workers", workers)
    assert r.exit_code == 2, r.stderr
    assert "XRM_PROXY_HOPS must be the number of reverse proxies in front of xrm (0 to 10), not 'two'" in r.stderr
    assert "xrm serving" not in r.stderr and no_server == []


def test_gunicorn_takes_cmd_args_but_not_address_workers_or_threads(monkeypatch):
    pytest.importorskip("gunicorn")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--access-logfile - --timeout 90 --workers 9 --threads 7 "
                                            "--bind 0.0.0.0:1")
    cfg = serve_cmds.gunicorn_application(lambda: None, "127.0.0.1", 8123, 3, 2).cfg
    assert (cfg.bind, cfg.workers, cfg.threads) == (["127.0.0.1:8123"], 3, 2)
    assert (cfg.accesslog, cfg.timeout, cfg.worker_class_str) == ("-", 90, "gthread")


def test_gunicorn_keeps_no_shared_control_socket(monkeypatch):
    pytest.importorskip("gunicorn")
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    cfg = serve_cmds.gunicorn_application(lambda: None, "127.0.0.1", 8123, 1).cfg
    assert cfg.accesslog is None
    if "control_socket_disable" not in cfg.settings:
        pytest.skip("this gunicorn has no control socket")
    assert cfg.control_socket_disable is True
