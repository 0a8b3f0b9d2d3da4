"""``--where`` on a field with an ``enum``: a value the field can never hold (a typo) is refused
with the values it can hold, as the REST list and KPI filters refuse it — `records list`
and `export` answered an empty list, which reads as "none left"."""
from __future__ import annotations

import json

from conftest import PersonPlugin

from xrm_core import hookimpl

TASK = {"name": "task", "schema": {"type": "object", "required": ["title"], "properties": {
    "title": {"type": "string"},
    "status": {"type": "string", "enum": ["open", "in_progress", "done"]},
    "priority": {"type": "integer", "enum": [1, 2, 3]}}}}


class Tasks(PersonPlugin):
    __name__ = "tasks"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [*PersonPlugin.xrm_entity_types(), TASK]


def _setup(cli, tmp_path):
    assert cli("init", plugins=[Tasks()]).exit_code == 0
    path = tmp_path / "t.jsonl"
    path.write_text('{"title": "a", "status": "open", "priority": 2}\n{"title": "b", "status": "done"}\n')
    assert cli("import", "task", str(path), plugins=[Tasks()]).exit_code == 0


def test_a_typo_in_an_enum_value_is_refused_naming_the_values(cli, tmp_path):
    _setup(cli, tmp_path)
    for command in (["records", "list", "task"], ["export", "task"]):
        r = cli(*command, "--where", "status=opne", plugins=[Tasks()])
        assert r.exit_code != 0 and r.stdout == "", command
        assert "'opne' is not among the values of status (open, in_progress, done): no record can match" in r.stderr
        assert "Traceback" not in r.stderr
    r = cli("records", "list", "task", "--where", "priority=7", plugins=[Tasks()])
    assert r.exit_code != 0 and "not among the values of priority (1, 2, 3)" in r.stderr


def test_values_the_field_can_hold_and_other_operators_still_list(cli, tmp_path):
    _setup(cli, tmp_path)
    listed = cli("records", "list", "task", "--where", "status=open", "--json", plugins=[Tasks()])
    assert [r["data"]["title"] for r in json.loads(listed.stdout)] == ["a"]
    listed = cli("records", "list", "task", "--where", "priority=2", "--json", plugins=[Tasks()])
    assert [r["data"]["title"] for r in json.loads(listed.stdout)] == ["a"]
    # "not this value" can be any value: a typo there is no empty answer in disguise
    listed = cli("records", "list", "task", "--where", "status!=opne", "--json", plugins=[Tasks()])
    assert sorted(r["data"]["title"] for r in json.loads(listed.stdout)) == ["a", "b"]
    exported = cli("export", "task", "--where", "status=done", plugins=[Tasks()])
    assert exported.exit_code == 0 and [json.loads(x)["title"] for x in exported.stdout.splitlines()] == ["b"]
