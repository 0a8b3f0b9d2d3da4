"""Numeric ``XRM_*`` settings the docs name (deployment.md) are checked when the app is
built, and by ``xrm serve`` before anything starts: a value that is no such number used to
start the server fine and then fail every request it read the setting in with a 500
(``XRM_API_AUTH_CACHE_SECONDS=two``: every API request; ``XRM_API_DEFAULT_LIMIT=-5``:
every list)."""
from __future__ import annotations

import pytest

from conftest import PersonPlugin
from xrm_core.cli import serve_cmds
from xrm_core.web import create_app

BAD = [("XRM_API_AUTH_CACHE_SECONDS", "two"), ("XRM_API_AUTH_CACHE_SECONDS", "-1"),
       ("XRM_API_DEFAULT_LIMIT", "-5"), ("XRM_API_DEFAULT_LIMIT", "2000"),  # over the maximum (1000)
       ("XRM_API_MAX_LIMIT", "abc"), ("XRM_API_MAX_LIMIT", "0"),
       ("XRM_MAX_CONTENT_LENGTH", "lots"), ("XRM_LOGIN_MAX_FAILURES", "abc"),
       ("XRM_LOGIN_WINDOW_SECONDS", "[1]"), ("XRM_API_DEFAULT_LIMIT", "true")]


@pytest.mark.parametrize("name,value", BAD)
def test_a_bad_numeric_setting_stops_the_app_naming_it(make_platform, monkeypatch, name, value):
    p = make_platform(PersonPlugin())
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name} must be "):
        create_app(p, {"TESTING": True})


def test_good_numeric_settings_are_taken(make_platform, monkeypatch):
    p = make_platform(PersonPlugin())
    for name, value in [("XRM_API_AUTH_CACHE_SECONDS", "0.5"), ("XRM_API_DEFAULT_LIMIT", "20"),
                        ("XRM_API_MAX_LIMIT", "200"), ("XRM_MAX_CONTENT_LENGTH", "100000"),
                        ("XRM_LOGIN_MAX_FAILURES", "3"), ("XRM_LOGIN_WINDOW_SECONDS", "0")]:
        monkeypatch.setenv(name, value)
    app = create_app(p, {"TESTING": True})
    assert (app.config["API_DEFAULT_LIMIT"], app.config["API_MAX_LIMIT"]) == (20, 200)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_serve_refuses_a_bad_setting_before_anything_starts(cli, monkeypatch, workers):
    started = []
    monkeypatch.setattr("flask.Flask.run", lambda app, **kw: started.append("dev"))
    monkeypatch.setattr(serve_cmds, "run_gunicorn", lambda *a: started.append("gunicorn"))
    assert cli("init", "--admin-password", "secret", plugins=[PersonPlugin()]).exit_code == 0
    monkeypatch.setenv("XRM_API_AUTH_CACHE_SECONDS", "two")
    r = cli("serve", "--port", "8000", "--workers", workers, plugins=[PersonPlugin()])
    assert r.exit_code == 2, r.stderr
    assert r.stderr == "error: XRM_API_AUTH_CACHE_SECONDS must be a number of seconds (0 or more), not 'two'\n"
    assert started == []
