"""A database URL that SQLAlchemy cannot parse (a typo in the port, an unclosed IPv6
bracket) is refused naming the URL — with its password hidden, as every other message
about the URL hides it (the message lands in terminals, CI logs and journald)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager


@pytest.mark.parametrize("url", ["postgresql://xrm:s3cret-pw@db.example.org:54x32/xrm",
                                 "postgresql://xrm:s3cret-pw@[::1/xrm"])
@pytest.mark.parametrize("given", ["--db", "env"])
def test_an_unparsable_url_is_named_without_its_password(url, given, monkeypatch):
    cli = build_cli(make_plugin_manager(load_entry_points=False))
    if given == "env":
        monkeypatch.setenv("XRM_DATABASE_URL", url)
        args = ["units", "list"]
    else:
        monkeypatch.delenv("XRM_DATABASE_URL", raising=False)
        args = ["--db", url, "units", "list"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 2, r.stderr
    assert "s3cret" not in r.stderr, r.stderr
    assert "is not a database URL" in r.stderr and "xrm:***@" in r.stderr, r.stderr
