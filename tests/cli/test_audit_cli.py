"""CLI audit: what a new admin meets off the README's path — odd ``--data``, bad database
URLs, ``--as`` scope in ``types list``, ``serve`` options, help texts — each answered with
one clear line on stderr and the right exit status, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PersonPlugin
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager


def _fails(r, status: int) -> str:
    """The stderr of a clean failure with exit ``status``."""
    assert r.exit_code == status, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    return r.stderr


@pytest.fixture
def xrm(cli):
    """The CLI with the person test plugin, on an initialised database."""
    def run(*args, input=None):
        return cli(*args, plugins=[PersonPlugin()], input=input)
    r = run("init", "--admin-password", "secret")
    assert r.exit_code == 0, r.stderr
    return run


# -- --data: strict JSON, clear errors ---------------------------------------------------------

@pytest.mark.parametrize("text, says", [
    ('{"name": "a", "score": NaN}', "NaN is not a JSON number"),
    ('{"name": "a", "score": Infinity}', "Infinity is not a JSON number"),
    ('{"name": "a", "score": 1e400}', "too large"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"name": "a", "name": "b"}', "the key 'name' appears twice"),
    ('{"name": "a\\ud800"}', "not valid Unicode"),
])
def test_data_that_is_not_strict_json_is_refused_clearly(xrm, tmp_path, text, says):
    err = _fails(xrm("records", "create", "person", "--data", text), 2)
    assert says in err and err.startswith("error: --data")
    f = tmp_path / "rec.json"
    f.write_text(text, encoding="utf-8")
    err = _fails(xrm("records", "create", "person", "--data", f"@{f}"), 2)
    assert says in err and str(f) in err
    assert json.loads(xrm("records", "list", "person", "--json").stdout) == []


def test_a_lone_surrogate_names_its_pointer(xrm):
    err = _fails(xrm("records", "create", "person", "--data", '{"name": "ok", "tags": ["x", "\\udcff"]}'), 2)
    assert "/tags/1" in err


def test_data_at_without_a_file_name_or_with_a_directory(xrm, tmp_path):
    assert "give a file name after @" in _fails(xrm("records", "create", "person", "--data", "@"), 2)
    assert "is a directory" in _fails(xrm("records", "create", "person", "--data", f"@{tmp_path}"), 2)


def test_a_syntax_error_message_does_not_end_in_a_dangling_at(xrm, tmp_path):
    f = tmp_path / "ctl.json"
    f.write_text('{"name": "a\tb"}', encoding="utf-8")
    err = _fails(xrm("records", "create", "person", "--data", f"@{f}"), 2)
    assert "Invalid control character" in err and not err.rstrip().endswith(" at"), err


def test_strict_json_keeps_ordinary_documents_working(xrm):
    r = xrm("records", "create", "person", "--data", '{"name": "قاسم 北京", "score": 1.5e3, "tags": []}', "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["data"] == {"name": "قاسم 北京", "score": 1500.0, "tags": []}


# -- the database URL --------------------------------------------------------------------------

def _run_cli(url, *args, env_url=None):
    cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    env = {"XRM_DATABASE_URL": env_url} if env_url else {}
    return CliRunner(env=env).invoke(cli, ([] if url is None else ["--db", url]) + list(args),
                                     catch_exceptions=False)


@pytest.mark.parametrize("url, says", [
    ("notaurl", "notaurl (from --db) is not a database URL"),
    ("foo://bar", "xrm runs on SQLite and PostgreSQL, not 'foo'"),
    ("mysql://u@localhost/db", "not 'mysql'"),
    ("postgres://u@localhost/db", "write postgresql://"),
    ("postgresql+nodriver://u@localhost/db", "unknown database driver"),
])
@pytest.mark.parametrize("command", [("init",), ("types", "list")])
def test_a_bad_database_url_is_a_usage_error_naming_it(url, says, command):
    err = _fails(_run_cli(url, *command), 2)
    assert says in err, err


def test_a_bad_url_from_the_environment_says_so():
    err = _fails(_run_cli(None, "records", "list", "person", env_url="bogus"), 2)
    assert "bogus (from XRM_DATABASE_URL) is not a database URL" in err


def test_a_database_in_a_missing_directory(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/x.db"
    assert f"the directory {tmp_path}/missing does not exist" in _fails(_run_cli(url, "init"), 1)
    assert f"the directory {tmp_path}/missing does not exist" in _fails(_run_cli(url, "types", "list"), 1)
    assert not (tmp_path / "missing").exists()


def test_a_file_that_is_not_sqlite(tmp_path):
    f = tmp_path / "notes.db"
    f.write_text("these are my notes, not a database\n" * 100)
    for command in (("init",), ("types", "list")):
        assert f"{f} is not an SQLite database" in _fails(_run_cli(f"sqlite:///{f}", *command), 1)
    assert f.read_text().startswith("these are my notes")


def test_a_read_only_database_says_which(xrm, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite read-only URL")
    path = db_url.removeprefix("sqlite:///")
    err = _fails(_run_cli(f"sqlite:///file:{path}?mode=ro&uri=true", "records", "create", "person",
                          "--data", '{"name": "a"}'), 1)
    assert "read-only" in err or "readonly" in err
    assert path in err


def test_text_that_is_not_utf8_on_the_command_line(xrm):
    err = _fails(xrm("records", "list", "person", "--where", "name=x\udcff"), 1)
    assert "not valid UTF-8" in err


# -- types list --as: counts within the caller's scope ------------------------------------------

def test_types_list_counts_only_the_records_the_user_may_read(xrm):
    for cmd in (("units", "create", "north"), ("units", "create", "south"), ("roles", "create", "viewer"),
                ("roles", "grant", "viewer", "person", "read", "--depth", "unit"),
                ("users", "create", "ann", "--unit", "north", "--role", "viewer"),
                ("users", "create", "bea", "--unit", "south")):
        assert xrm(*cmd).exit_code == 0
    for i in range(3):
        r = xrm("records", "create", "person", "--data", json.dumps({"name": f"s{i}"}), "--unit", "south")
        assert r.exit_code == 0, r.stderr
    assert xrm("records", "create", "person", "--data", '{"name": "n"}', "--unit", "north").exit_code == 0
    assert xrm("records", "create", "note", "--data", '{"text": "t"}', "--unit", "north").exit_code == 0

    def counts(*who):
        r = xrm("types", "list", "--json", *who)
        assert r.exit_code == 0, r.stderr
        return {t["name"]: t["records"] for t in json.loads(r.stdout)}

    assert counts() == {"person": 4, "note": 1}
    assert counts("--as", "ann") == {"person": 1, "note": 0}   # no grant on note: none exist for ann
    assert counts("--as", "bea") == {"person": 0, "note": 0}   # no grant at all
    text = xrm("types", "list", "--as", "ann").stdout
    assert [line.split()[-1] for line in text.splitlines()[1:]] == ["0", "1"]


# -- serve, set-password, help -----------------------------------------------------------------

def test_serve_refuses_a_port_out_of_range(xrm):
    r = xrm("serve", "--port", "99999")
    assert r.exit_code == 2 and "99999 is not in the range 1<=x<=65535" in r.stderr


def test_serve_logs_without_colours_when_not_a_terminal(monkeypatch):
    from werkzeug import serving

    from xrm_core.cli import serve_cmds
    monkeypatch.setattr(serving, "_log_add_style", True)
    serve_cmds._plain_server_log()  # pytest's stderr is not a terminal
    assert serving._log_add_style is False
    assert serving._ansi_style("WARNING", "bold", "red") == "WARNING"


def test_set_password_from_a_pipe_prints_no_python_warning(xrm, db_url):
    assert xrm("users", "create", "carl", "--unit", "root").exit_code == 0
    # A real process: CliRunner replaces getpass, whose warning is what is checked here.
    out = subprocess.run([sys.executable, "-m", "xrm_core.cli.main", "--db", db_url, "users", "set-password", "carl"],
                         input="pw1\npw1\n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "password of 'carl' set\n"
    assert "GetPassWarning" not in out.stderr and "getpass.py" not in out.stderr, out.stderr


def _commands(group, path=()):
    import click
    for name, cmd in group.commands.items():
        yield path + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path + (name,))


def test_every_help_is_clear_and_admin_as_says_admin():
    cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"]).stdout
    assert "..." not in top.split("Commands:")[1], top  # no summary cut off mid-sentence
    admin_commands = {("units",), ("users",), ("roles",), ("tokens",), ("types", "add"), ("types", "update"),
                      ("types", "remove"), ("reltypes", "add"), ("reltypes", "remove")}
    for path, cmd in _commands(cli):
        r = runner.invoke(cli, [*path, "--help"], prog_name="xrm")
        assert r.exit_code == 0 and r.stdout.startswith(f"Usage: xrm {' '.join(path)}"), (path, r.stdout)
        for param in cmd.params:
            if param.param_type_name == "option" and not param.hidden:
                assert param.help, f"xrm {' '.join(path)} {param.opts[0]} has no help"
        if any(path[:len(a)] == a for a in admin_commands) and any(p.name == "as_user" for p in cmd.params):
            assert "must be an administrator" in r.stdout, path
    listing = runner.invoke(cli, ["records", "list", "--help"]).stdout
    assert "--limit N" in listing and "at most N records" in listing


def test_xrm_help_starts_without_sqlalchemy():
    code = ("import sys; from xrm_core.cli.main import build_cli; build_cli(); "
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False", out.stderr
