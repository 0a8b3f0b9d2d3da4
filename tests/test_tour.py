"""The README's tours run as a new user would: examples/tour/tour.sh (twice), the CLI
commands the README shows by hand, literally, and its REST examples (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour" / "tour.sh"
README = ROOT / "README.md"


def _env(url: str) -> dict:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XRM_DATABASE_URL": url}
    env.pop("XRM_DISABLE_PLUGINS", None)
    env.pop("XRM_DEBUG", None)
    return env


def test_the_tour_runs_and_is_safe_to_run_again(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'tour.db'}")
    for _ in range(2):
        out = subprocess.run(["bash", str(TOUR)], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
    assert "partner_nps from 2025-01-01 to 2025-12-31: 50 score (n=4)" in out.stdout
    assert "/rating: 9 → 9" not in out.stdout  # the second run's update changes nothing
    assert "gold" in out.stdout


def _tour_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("\n## CLI tour\n", 1)[1].split("\n## ", 1)[0]


def _console_blocks(section: str) -> tuple[list[str], list[str]]:
    """The `$ ` commands of the section's console blocks, and the output lines they show."""
    commands, shown = [], []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
            elif line.strip():
                shown.append(line.strip())
    return commands, shown


def _bash(script: str, cwd: Path, url: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=_env(url), input=input,
                          capture_output=True, text=True, timeout=300)


def test_the_readme_tour_by_hand(db_url, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    commands, shown = _console_blocks(_tour_section())
    assert any(c.startswith("xrm import partner") for c in commands) and shown
    script = []
    for cmd in commands:
        if cmd.startswith(". .venv/bin/activate"):
            continue  # the test's own interpreter's xrm is on PATH
        if cmd.startswith("export XRM_DATABASE_URL="):
            assert cmd == "export XRM_DATABASE_URL=sqlite:///tour.db"
            cmd = f"export XRM_DATABASE_URL='{db_url}'"  # the test database (SQLite or PostgreSQL)
        script.append(cmd)
    out = _bash("\n".join(script), tmp_path, db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    for line in shown:
        assert line in out.stdout, line
    assert "/rating: 7 → 9" in out.stdout  # `xrm history $ID`: the update with its field diff
    assert "Pars Khodro Service" in out.stdout and "Tabriz Parts" not in out.stdout  # gold, rating >= 9

    # `--json` prints exactly one document, in the contract's shape (DESIGN §5, §3).
    kpi = json.loads(_bash("xrm kpi compute partner_nps --from 2025-01-01 --to 2025-12-31 --by tier --json",
                           tmp_path, db_url).stdout)
    assert list(kpi) == ["kpi", "value", "unit", "n", "from", "to", "groups"]
    assert (kpi["value"], kpi["n"]) == (50, 4)
    assert [(g["key"], g["value"], g["n"]) for g in kpi["groups"]] == [
        ("bronze", -100, 1), ("gold", 100, 2), ("silver", 100, 1)]
    rec = json.loads(_bash("xrm records list partner --where tax_id=1000000002 --json", tmp_path, db_url).stdout)
    assert [sorted(r) for r in rec] == [sorted(["id", "type", "data", "version", "owner", "unit", "created_at",
                                                "updated_at", "created_by", "updated_by"])]
    assert rec[0]["version"] == 2

    # The commands the README names for people who change jobs or leave.
    readme = " ".join(README.read_text(encoding="utf-8").split())
    for cmd in ("xrm users move alice --unit north", "xrm roles revoke agent partner update",
                "xrm users set-password alice", "xrm users deactivate alice", "xrm users activate alice",
                "xrm tokens revoke alice", "xrm users create reza --unit dealer_a --time-zone Asia/Tehran",
                "xrm users set-time-zone alice Asia/Shanghai"):
        assert f"`{cmd}`" in readme, cmd
    # A user in another city, then alice's zone set and, without a zone, cleared.
    zones = _bash("xrm users create reza --unit dealer_a --time-zone Asia/Tehran\n"
                  "xrm users set-time-zone alice Asia/Shanghai\nxrm users set-time-zone alice", tmp_path, db_url)
    assert zones.returncode == 0, zones.stderr
    assert "Asia/Shanghai" in zones.stdout and "no time zone of its own" in zones.stdout
    ok = _bash("xrm users move alice --unit north\nxrm users revoke-role alice agent\n"
               "xrm users grant-role alice agent\nxrm roles revoke agent partner update\n"
               "xrm users set-password alice\nxrm tokens revoke alice\nxrm users deactivate alice",
               tmp_path, db_url, input="n3w-secret\nn3w-secret\n")
    assert ok.returncode == 0, ok.stderr
    refused = _bash("xrm records list partner --as alice", tmp_path, db_url)
    assert refused.returncode != 0 and "deactivated" in refused.stderr and "Traceback" not in refused.stderr
    assert _bash("xrm users activate alice", tmp_path, db_url).returncode == 0
    back = _bash("xrm records list partner --as alice --json", tmp_path, db_url)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout) == []  # alice's unit (north, now) holds no partner


def _rest_examples() -> tuple[list[str], list[list[str]]]:
    """The README's `TOKEN=$(…)` command and its curl calls, split as the shell splits them."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## The admin UI and the REST API\n", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in re.findall(r"```console\n(.*?)```", section, re.S) if "curl" in b)
    token_cmd, curls = None, []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("$ TOKEN=$("):
            token_cmd = shlex.split(line[len("$ TOKEN=$("):-1])
        elif line.startswith("$ curl "):
            curls.append(shlex.split(line[2:]))
    return token_cmd, curls


def test_the_readme_rest_examples(cli, db_url):
    from urllib.parse import urlsplit

    from xrm_core import open_platform
    from xrm_core.web import create_app

    token_cmd, curls = _rest_examples()
    assert token_cmd[:3] == ["xrm", "tokens", "create"] and len(curls) == 3
    # The demo's dealer1 (role dealer_manager in unit D01), with a customer and an NPS answer.
    for args in (["init"], ["units", "create", "D01"],
                 ["users", "create", token_cmd[3], "--unit", "D01", "--role", "dealer_manager"]):
        assert cli(*args, entry_points=True).exit_code == 0
    platform = open_platform(db_url)
    with platform.session(token_cmd[3]) as s:
        for name in ("Ada", "Bob", "Cy"):
            s.create("customer", {"name": name})
        s.create("survey_response", {"touchpoint": "after_sales", "question_kind": "nps", "score": 10,
                                     "answered_at": "2026-03-01T10:00:00Z"})
    made = cli(*token_cmd[1:], entry_points=True)
    assert made.exit_code == 0 and len(made.stdout.split()) == 1  # the token alone on stdout
    token = made.stdout.strip()

    client = create_app(platform, {"TESTING": True}).test_client()
    answers = []
    for args in curls:
        headers, body, url, it = {}, None, None, iter(args[1:])
        for a in it:
            if a == "-H":
                k, _, v = next(it).partition(":")
                headers[k.strip()] = v.strip().replace("$TOKEN", token)
            elif a == "-d":
                body = next(it)
            elif not a.startswith("-"):
                url = urlsplit(a)
        assert url is not None and url.netloc == "127.0.0.1:8000", args
        path = url.path + (f"?{url.query}" if url.query else "")
        answers.append(client.post(path, data=body, headers=headers) if body is not None
                       else client.get(path, headers=headers))
    listed, kpi, created = answers
    assert listed.status_code == 200, listed.json
    assert [r["data"]["name"] for r in listed.json["items"]] == ["Cy", "Bob"] and listed.json["next"]
    assert kpi.status_code == 200, kpi.json
    assert list(kpi.json) == ["kpi", "value", "unit", "n", "from", "to", "groups"]
    assert (kpi.json["value"], kpi.json["n"], kpi.json["groups"][0]["key"]) == (100, 1, "after_sales")
    assert created.status_code == 201, created.json
    assert created.headers["ETag"] == '"1"' and created.headers["Location"].endswith(created.json["id"])
    assert (created.json["unit"], created.json["owner"], created.json["data"]["subject"]) == ("D01", "dealer1",
                                                                                           "brake noise")
    platform.dispose()
