"""The examples' READMEs as a new user follows them: examples/README.md and
examples/xrm-employees/README.md, with the example plugin pip-installed (into a directory of
the test's own, so the test venv never changes), and the commands docs/plugins.md's
walk-through shows with their output. (examples/tour/tour.sh is run by tests/test_tour.py.)"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
INSTALL = "pip install ./examples/xrm-employees"


def fenced(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example plugin, pip-installed (non-editable) into a directory for PYTHONPATH."""
    src = tmp_path_factory.mktemp("example") / "xrm-employees"
    shutil.copytree(EXAMPLES / "xrm-employees", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "--no-input", "--target", str(target), str(src)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def run(script: str, cwd: Path, url: str, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XRM_DATABASE_URL": url, "PYTHONPATH": str(site)}
    env.pop("XRM_DISABLE_PLUGINS", None)
    env.pop("XRM_DEBUG", None)
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def console(block: str) -> tuple[list[str], list[str]]:
    """The `$ ` commands of a console block and the output lines it shows."""
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    shown = [line for line in block.splitlines() if line.strip() and not line.startswith("$ ")]
    return commands, shown


def test_the_examples_readme(tmp_path, db_url, site):
    blocks = fenced(EXAMPLES / "README.md", "console")
    assert [console(b)[0] for b in blocks][0] == ["bash examples/tour/tour.sh"]
    commands, shown = console(next(b for b in blocks if INSTALL in b))
    assert commands[0] == INSTALL  # done by the fixture, into its own directory
    out = run("\n".join(commands[1:]), tmp_path, db_url, site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert shown and all(line in out.stdout.splitlines() for line in shown), out.stdout


def test_the_xrm_employees_readme_and_the_walk_through(tmp_path, db_url, site):
    (block,) = fenced(EXAMPLES / "xrm-employees" / "README.md", "sh")
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[0] == INSTALL
    out = run("\n".join(commands[1:]), tmp_path, db_url, site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 active employee" in out.stdout and "training_completion: n/a percent (n=0)" in out.stdout

    # docs/plugins.md's walk-through: the refused employee, exactly as shown (stderr), and
    # the attrition KPI's one JSON document.
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8").split("## Walk-through: the `xrm-employees`")[1]
    guide = guide.split("\n## ")[0]
    walk = [console(b) for b in re.findall(r"```console\n(.*?)```", guide, re.S)]
    (refusal,) = [(c, s) for c, s in walk if s]
    refused = run(refusal[0][0], tmp_path, db_url, site)
    assert refused.returncode == 2 and refused.stderr.splitlines() == refusal[1]
    (kpi,) = [c for c, _ in walk if any("kpi compute attrition" in x for x in c)]
    computed = run(kpi[0], tmp_path, db_url, site)
    assert computed.returncode == 0, computed.stderr
    result = json.loads(computed.stdout)
    assert list(result) == ["kpi", "value", "unit", "n", "from", "to", "groups"]
    assert (result["kpi"], result["value"], result["n"]) == ("attrition", 0, 1)  # Ada, employed, did not leave

    # The relationship commands, with the placeholders filled in.
    (related,) = [c for c, _ in walk if any(x.startswith("xrm relate ") for x in c)]
    ids = {}
    for name, cmd in (("EMPLOYEE_ID", """xrm records create employee --data '{"employee_no": "E0003", "name": "Cy", "start_date": "2024-02-01"}'"""),
                      ("MANAGER_ID", "xrm records list employee --where employee_no=E0001 --json "
                                     "| python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"id\"])'"),
                      ("TRAINING_ID", """xrm records create training --data '{"title": "SQL", "date": "2024-03-01", "status": "completed"}'""")):
        made = run(cmd, tmp_path, db_url, site)
        assert made.returncode == 0, made.stderr
        ids[name] = made.stdout.strip()
    script = "\n".join(re.sub(r"\b[A-Z]+_ID\b", lambda m: ids[m.group(0)], c) for c in related)
    linked = run(script, tmp_path, db_url, site)
    assert linked.returncode == 0, linked.stderr
    assert "manager_of" in linked.stdout and "Ada" in linked.stdout  # Cy's manager, seen from Cy


def test_the_docs_relative_links_resolve():
    """Every relative link of the README, docs/ and examples/ READMEs names a file of the
    repository (and a `#fragment` of a Markdown file one of its headings)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), EXAMPLES / "README.md",
             EXAMPLES / "xrm-employees" / "README.md"]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https://…, mailto:…
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}: no such file"
            if fragment and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
                assert fragment in slugs, f"{page.relative_to(ROOT)} links to {target}: no such heading"
            checked += 1
    assert checked >= 10
