"""The password policy and expiring tokens on the command line: `xrm init --admin-password`,
`xrm users create --password`, `xrm users set-password` refuse a short password (stderr,
non-zero, nothing changed); `xrm tokens create --expires-in/--expires` still prints the token
alone; `xrm tokens list [USER] [--json]`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xrm_core import Platform, accounts, migrations
from xrm_core.plugins import make_plugin_manager

TOKEN = re.compile(r"xrm_[A-Za-z0-9_-]{43}\n")


@pytest.fixture
def real_policy(monkeypatch):
    """The password policy as shipped: no XRM_MIN_PASSWORD_LENGTH (see tests/conftest.py)."""
    monkeypatch.delenv("XRM_MIN_PASSWORD_LENGTH", raising=False)


def _refused(result, *said):
    assert result.exit_code != 0, result.stdout
    assert result.stdout == ""
    # (after the prompts of a password asked for, which go to stderr too)
    assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    for words in said:
        assert words in result.stderr, result.stderr


def _ok(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_init_refuses_a_short_admin_password_before_touching_the_database(cli, db_url, real_policy):
    _refused(cli("init", "--admin-password", "admin"), "at least 8 characters", "/password")
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    try:
        with p.engine.connect() as conn:
            assert migrations.current(conn) is None
    finally:
        p.dispose()
    _ok(cli("init", "--admin-password", "admin password"))
    _refused(cli("init", "--admin-password", "1234567"), "at least 8 characters")
    _ok(cli("init"))  # no password given: nothing to check


def test_users_create_and_set_password_refuse_a_short_password(cli, real_policy):
    _ok(cli("init", "--admin-password", "admin password"))
    _refused(cli("users", "create", "bob", "--unit", "root", "--password", "s3cret"),
             "/password: at least 8 characters")
    assert "bob" not in _ok(cli("users", "list"))
    _ok(cli("users", "create", "bob", "--unit", "root", "--password", "s3cret-longer"))
    _refused(cli("users", "set-password", "bob", "--password", "short"), "at least 8 characters")
    # asked for, hidden (typed twice)
    _refused(cli("users", "set-password", "bob", input="short\nshort\n"), "at least 8 characters")
    r = cli("users", "set-password", "bob", input="correct horse\ncorrect horse\n")
    assert _ok(r) == "password of 'bob' set\n" and "New password (at least 8 characters)" in r.stderr


def test_the_minimum_follows_the_setting(cli, monkeypatch):
    monkeypatch.setenv("XRM_MIN_PASSWORD_LENGTH", "10")
    _ok(cli("init"))
    _refused(cli("users", "create", "bob", "--unit", "root", "--password", "ninechars"), "at least 10 characters")
    _ok(cli("users", "create", "bob", "--unit", "root", "--password", "tencharsOK"))


def test_tokens_create_with_an_expiry_prints_the_token_alone(cli):
    _ok(cli("init"))
    assert TOKEN.fullmatch(_ok(cli("tokens", "create", "admin", "--label", "ci", "--expires-in", "7")))
    assert TOKEN.fullmatch(_ok(cli("tokens", "create", "admin", "--label", "dated", "--expires", "2099-12-31")))
    assert TOKEN.fullmatch(_ok(cli("tokens", "create", "admin")))
    listed = json.loads(_ok(cli("tokens", "list", "--json")))
    assert [(t["user"], t["label"], t["status"]) for t in listed] == [
        ("admin", "ci", "active"), ("admin", "dated", "active"), ("admin", None, "active")]
    assert listed[1]["expires_at"] == "2099-12-31T00:00:00.000000Z" and listed[2]["expires_at"] is None
    assert listed[0]["expires_at"][:10] > listed[0]["created_at"][:10]
    table = _ok(cli("tokens", "list", "admin"))
    assert table.splitlines()[0].split() == ["USER", "LABEL", "CREATED", "EXPIRES", "REVOKED", "STATUS"]
    assert "2099-12-31 00:00Z" in table and "never" in table and "xrm_" not in table


def test_tokens_create_refuses_a_bad_expiry_and_creates_nothing(cli, monkeypatch):
    _ok(cli("init"))
    _refused(cli("tokens", "create", "admin", "--expires", "2020-01-01"), "not in the future", "/expires_at")
    r = cli("tokens", "create", "admin", "--expires-in", "0")
    assert r.exit_code == 2 and "--expires-in" in r.stderr and r.stdout == ""
    r = cli("tokens", "create", "admin", "--expires-in", "3", "--expires", "2099-01-01")
    assert r.exit_code == 2 and "not both" in r.stderr and r.stdout == ""
    monkeypatch.setenv("XRM_TOKEN_MAX_DAYS", "30")
    _refused(cli("tokens", "create", "admin", "--expires-in", "31"), "at most 30 days")
    assert json.loads(_ok(cli("tokens", "list", "--json"))) == []
    assert TOKEN.fullmatch(_ok(cli("tokens", "create", "admin")))
    (made,) = json.loads(_ok(cli("tokens", "list", "admin", "--json")))
    assert made["expires_at"] is not None  # the organisation's longest lifetime


def test_tokens_list_of_an_unknown_user_is_an_error(cli):
    _ok(cli("init"))
    _refused(cli("tokens", "list", "nobody"), "unknown user 'nobody'")


def test_an_expired_token_is_listed_as_expired(cli, db_url):
    _ok(cli("init"))
    token = _ok(cli("tokens", "create", "admin", "--expires-in", "1")).strip()
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    try:
        with p.connection() as conn:
            from xrm_core import db
            conn.execute(db.tokens.update().values(expires_at="2000-01-01T00:00:00.000000Z"))
    finally:
        p.dispose()
    (listed,) = json.loads(_ok(cli("tokens", "list", "--json")))
    assert listed["status"] == "expired"
    assert accounts._token_hash(token) not in json.dumps(listed)


ROOT = Path(__file__).resolve().parents[2]
#: Where users copy commands from: README, docs, examples, the setup and CI scripts.
TYPED = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").rglob("*.md")),
         *sorted((ROOT / "examples").rglob("*.sh")), *sorted((ROOT / "scripts").iterdir()), ROOT / ".ci" / "run",
         *sorted((ROOT / "bench").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.sh"))]
GIVEN = re.compile(r"""--(?:admin-)?password[ =](?:'([^']*)'|"([^"]*)"|([^\s`'"]+))""")


def test_the_passwords_the_docs_and_scripts_type_meet_the_default_policy():
    """The README's first commands, the tour and `scripts/setup` must work as typed (the
    suite lowers the minimum, so running them in tests would not show it)."""
    found = {}
    for path in TYPED:
        if path.is_file():
            for m in GIVEN.finditer(path.read_text(encoding="utf-8", errors="replace")):
                found.setdefault(next(g for g in m.groups() if g is not None), path.relative_to(ROOT))
    placeholders = {"P", "…", "...", "PASSWORD"}
    assert len(set(found) - placeholders) >= 3, found  # the README, the tour and scripts/setup
    short = {p: str(where) for p, where in found.items()
             if p not in placeholders and len(p) < accounts.MIN_PASSWORD_LENGTH}
    assert short == {}
