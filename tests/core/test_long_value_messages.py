"""Error messages show a long value by its start and its length, never in full: in the CLI,
the ``import --json`` report and REST 422 bodies (acceptance audit 6)."""
from __future__ import annotations

import json

import pytest

from xrm_core import accounts, hookimpl
from xrm_core.entity_types import EntityType
from xrm_core.validation import SHOWN_VALUE_LIMIT, SHOWN_VALUE_START, shorten_values
from xrm_core.web import create_app

NOTE = {
    "name": "memo", "title_field": "text",
    "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
               "properties": {"text": {"type": "string", "maxLength": 5000},
                              "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                              "kind": {"enum": ["a", "b"]},
                              "mail": {"type": "string", "format": "email"},
                              "count": {"type": "integer"},
                              "tags": {"type": "array", "maxItems": 1}},
               "additionalProperties": False},
}
BIG = "n" * 20_000


class MemoPlugin:
    __name__ = "memos"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [NOTE]


def _messages(data) -> dict[str, str]:
    return {e["pointer"]: e["message"] for e in EntityType(NOTE).errors(data)}


def test_every_kind_of_message_shows_a_long_value_by_its_start():
    # 6,000 characters: a record of several of them stays small enough for every error to be
    # reported (validation.ALL_ERRORS_UP_TO)
    big = "n" * 6000
    got = _messages({"text": big, "code": big, "kind": big, "mail": big, "count": big, "tags": [big, big],
                     "x" * 200: 1})
    start = '"' + "n" * SHOWN_VALUE_START + '…" (6,000 characters)'
    assert got["/text"] == f"{start} is longer than 5000 characters"
    assert got["/code"] == f'{start} does not match "^[A-Z]{{3}}$"'
    assert got["/kind"] == f'{start} is not one of "a" or "b"'
    assert got["/mail"] == f"{start} is not a valid email (e.g. name@example.org)"
    assert got["/count"] == f'{start} is not of type "integer"'
    assert got["/tags"].endswith("… (12,007 characters of JSON) has more than 1 item")
    assert got["/" + "x" * 200] == ("Additional properties are not allowed ('" + "x" * SHOWN_VALUE_START
                                    + "…' (200 characters) was unexpected)")
    assert all(len(m) < 200 for m in got.values())


def test_short_values_leave_messages_exactly_as_they_were():
    value = "n" * (SHOWN_VALUE_LIMIT - 2)  # quoted, exactly at the limit: shown whole
    assert _messages({"code": value}) == {"/code": f'"{value}" does not match "^[A-Z]{{3}}$"'}
    assert _messages({"code": value + "n"})["/code"].endswith(f'…" ({SHOWN_VALUE_LIMIT - 1} characters) '
                                                              'does not match "^[A-Z]{3}$"')
    assert _messages({"kind": "c", "count": "3"}) == {"/kind": '"c" is not one of "a" or "b"',
                                                      "/count": '"3" is not of type "integer"'}
    message = "Additional properties are not allowed ('x' was unexpected)"
    assert shorten_values(message) is message


@pytest.mark.parametrize("text, shown", [
    ("a" * 59 + "e\u0301" + "b" * 100, "a" * 59),                # e + combining acute: kept together
    ("a" * 59 + "\U0001F600" * 100, "a" * 59 + "\U0001F600"),    # one code point, not a pair of halves
    ("a" * 59 + "\U0001F1EE\U0001F1F7" * 40, "a" * 59),          # a flag is two regional indicators
    ("a" * 58 + "\U0001F469\u200d\U0001F4BB" + "b" * 100, "a" * 58),  # a ZWJ sequence goes whole
    ("a" * 59 + '"' + "b" * 100, "a" * 59 + '\\"'),              # an escape is never cut in two
])
def test_a_cut_keeps_characters_whole(text, shown):
    message = shorten_values(json.dumps(text, ensure_ascii=False) + " is longer than 5 characters")
    assert message == f'"{shown}…" ({len(text):,} characters) is longer than 5 characters'


def test_a_csv_cell_error_shows_a_long_cell_by_its_start(cli, tmp_path):
    assert cli("init", "--admin-password", "pw", plugins=(MemoPlugin(),)).exit_code == 0
    src = tmp_path / "memos.csv"
    src.write_text(f"text,count\nok,{'9' * 30_000}\n", encoding="utf-8")
    r = cli("import", "memo", src, "--format", "csv", "--json", plugins=(MemoPlugin(),))
    assert r.exit_code != 0
    errors = json.loads(r.stdout)["invalid"][0]["errors"]
    assert errors == [{"pointer": "/count", "message": "'" + "9" * SHOWN_VALUE_START
                       + "…' (30,000 characters) is not an integer"}]


def test_the_import_report_stays_small(cli, tmp_path):
    assert cli("init", "--admin-password", "pw", plugins=(MemoPlugin(),)).exit_code == 0
    src = tmp_path / "memos.jsonl"
    src.write_text("\n".join(json.dumps({"text": BIG, "kind": BIG}) for _ in range(3)) + "\n", encoding="utf-8")
    r = cli("import", "memo", src, "--format", "jsonl", "--json", plugins=(MemoPlugin(),))
    assert r.exit_code != 0
    report = json.loads(r.stdout)
    assert report["imported"] == 0 and [i["line"] for i in report["invalid"]] == [1, 2, 3]
    assert len(r.stdout) < 2000  # three rows of two errors, not 120,000 characters
    assert report["invalid"][0]["errors"][1]["message"].startswith('"nnnn')
    r = cli("import", "memo", src, "--format", "jsonl", plugins=(MemoPlugin(),))
    assert r.exit_code != 0 and len(r.stderr) < 2000 and "(20,000 characters)" in r.stderr
    assert json.loads(cli("records", "list", "memo", "--json", plugins=(MemoPlugin(),)).stdout) == []


def test_a_rest_422_body_stays_small(make_platform):
    platform = make_platform(MemoPlugin())
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(platform, {"TESTING": True}).test_client()
    r = client.post("/api/v1/records/memo", headers={"Authorization": f"Bearer {token}"},
                    json={"data": {"text": BIG, "mail": BIG}})
    assert r.status_code == 422
    assert len(r.get_data()) < 2000
    by_pointer = {e["pointer"]: e["message"] for e in r.json["errors"]}
    assert by_pointer["/data/text"] == '"' + "n" * 60 + '…" (20,000 characters) is longer than 5000 characters'
    assert set(by_pointer) == {"/data/text", "/data/mail"}
