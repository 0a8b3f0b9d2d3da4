"""The README's REST path list is the API's: every path and method it names is a route of
the REST blueprint, and every route of the blueprint is in the list."""
from __future__ import annotations

import re
from pathlib import Path

from xrm_core.web import create_app

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_routes() -> set[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("The paths, all under `/api/v1`", 1)[1].split("```\n", 2)[1]
    routes = set()
    for line in block.splitlines():
        # "GET    /types   /types/{name}", "GET /x    POST /y   {body}": a method applies to the
        # paths after it up to the next method.
        method = None
        for token in line.split():
            if token in ("GET", "POST", "PATCH", "DELETE", "PUT"):
                method = token
            elif token.startswith("/") and method:
                path = re.sub(r"\[\?.*|\?.*", "", token)
                routes.add((method, re.sub(r"\{\w+\}", "*", path)))
    return routes


def test_the_readme_lists_the_rest_routes(platform):
    app = create_app(platform, {"TESTING": True})
    actual = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.no_such_route", "api.static"):
            path = re.sub(r"<[^>]+>", "*", rule.rule.removeprefix("/api/v1"))
            actual |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = _readme_routes()
    assert len(documented) >= 12
    # The OpenAPI document and its browser are named in the prose above the list.
    assert documented == actual - {("GET", "/openapi.json"), ("GET", "/docs")}


ROOT = README.parent
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples" / "README.md",
         ROOT / "examples" / "xrm-employees" / "README.md"]


def _documented_commands() -> list[tuple[str, str]]:
    """(page, command) for every `xrm …` the pages show: inline code, and the lines of their
    console and sh blocks; `xrm types list | show NAME` is two commands."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        spans = re.findall(r"`(xrm [^`\n]+)`", text)
        for block in re.findall(r"```(?:console|sh|bash)?\n(.*?)```", text, re.S):
            spans += [line.lstrip("$ ").split("  #")[0] for line in block.splitlines()
                      if line.lstrip("$ ").startswith("xrm ")]
        spans = [part.strip() for span in spans for part in span.split(" && ")]
        for span in spans:
            parts = [p.strip() for p in span.split(" | ")]
            head = parts[0].split()
            found.append((page.name, parts[0]))
            # "xrm types list | show NAME": the later parts are subcommands of the same group.
            group = head[:2] if len(head) > 2 else head[:1]
            found += [(page.name, " ".join([*group, p])) for p in parts[1:] if p and p.split()[0].islower()]
    return found


def test_every_documented_command_and_option_exists(monkeypatch):
    """Each `xrm …` of the README, docs/ and the examples names a command of the CLI (with the
    built-in plugins and the example plugin) and only options that command takes."""
    import click

    from xrm_core.cli.main import build_cli
    from xrm_core.plugins import make_plugin_manager

    # The example plugin's commands, without installing it (the name "employees" is blocked
    # so that an installed copy is not loaded twice).
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "xrm-employees"))
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "employees")
    from xrm_employees import plugin
    cli = build_cli(make_plugin_manager(plugins={"employees_example": plugin}))
    commands = _documented_commands()
    assert len(commands) >= 60
    problems = []
    for page, command in commands:
        tokens = [t.strip("[]") for t in command.split()[1:]]
        while tokens and tokens[0] == "--db":  # the group's own option, before the command
            tokens = tokens[2:]
        cmd, path = cli, ["xrm"]
        while isinstance(cmd, click.Group) and tokens and tokens[0] in cmd.commands:
            cmd = cmd.commands[tokens[0]]
            path.append(tokens.pop(0))
        if isinstance(cmd, click.Group):
            if tokens and re.fullmatch(r"[a-z][a-z-]*", tokens[0]) and tokens[0] not in ("list", "…"):
                problems.append(f"{page}: `{command}`: {' '.join(path)} has no command {tokens[0]!r}")
            continue
        options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
        for token in tokens:
            name = token.split("=")[0]
            if re.fullmatch(r"--[a-z][a-z-]*|-[a-zA-Z]", name) and name not in options:
                problems.append(f"{page}: `{command}`: {' '.join(path)} has no option {name}")
    assert not problems, "\n".join(problems)
