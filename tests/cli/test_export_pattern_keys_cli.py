"""`xrm export --format csv` of a type whose schema allows top-level names by
``patternProperties``: they are columns, with no warning, and `xrm import` reads them back;
a type without patterns exports exactly as before. Both engines."""
from __future__ import annotations

import json

import pytest

from xrm_core import hookimpl

METRICS = {
    "name": "metrics",
    "schema": {"type": "object", "properties": {"site": {"type": "string"}},
               "patternProperties": {"^m_\\p{L}+$": {"type": "number"}, "^flag_": {"type": "boolean"}},
               "additionalProperties": False},
}
PLAIN = {"name": "plain", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}


class Plugin:
    __name__ = "metrics"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [METRICS, {**METRICS, "name": "metrics_copy"}, PLAIN]


@pytest.fixture
def xrm(cli):
    def run(*args, input=None):
        return cli(*args, plugins=(Plugin(),), input=input)
    assert run("init", "--admin-password", "pw").exit_code == 0
    return run


def canon(rows: list[dict]) -> list[str]:
    """Comparable whatever the order of rows and of their keys (JSONB reorders keys)."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def test_export_csv_to_stdout_and_back(xrm, tmp_path):
    rows = [{"site": "a", "m_ساعت": 1.5, "flag_on": True}, {"site": "b", "m_x": 2}, {"flag_off": False}]
    for row in rows:
        assert xrm("records", "create", "metrics", "--data", json.dumps(row, ensure_ascii=False)).exit_code == 0
    result = xrm("export", "metrics", "--format", "csv")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "site,flag_off,flag_on,m_x,m_ساعت"
    assert sorted(lines[1:]) == sorted(["a,,true,,1.5", "b,,,2,", ",false,,,"])
    path = tmp_path / "m.csv"
    path.write_text(result.stdout, encoding="utf-8")
    result = xrm("import", "metrics_copy", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 3, "valid": 3, "imported": 3, "invalid": []}
    back = [r["data"] for r in json.loads(xrm("records", "list", "metrics_copy", "--json").stdout)]
    assert canon(back) == canon(rows)



def test_export_to_a_file_says_the_count_only(xrm, tmp_path):
    assert xrm("records", "create", "metrics", "--data", '{"m_a": 1}').exit_code == 0
    out = tmp_path / "m.csv"
    result = xrm("export", "metrics", "-o", str(out))
    assert result.exit_code == 0 and result.stderr == f"1 record written to {out}\n"
    assert out.read_text(encoding="utf-8") == "site,m_a\n,1\n"


def test_a_type_without_patterns_is_unchanged(xrm):
    assert xrm("records", "create", "plain", "--data", '{"a": "x", "other": 1}').exit_code == 0
    result = xrm("export", "plain", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout == "a\nx\n"
    assert result.stderr == ("warning: CSV has no column for attributes the schema does not declare, so they were "
                             "left out: other (1); use --format jsonl to keep them\n")
    result = xrm("export", "plain")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"a": "x", "other": 1}
