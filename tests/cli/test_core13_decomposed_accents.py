"""A text typed with decomposed accents ("E" + U+0301, Unicode NFD) for an ``enum`` or
``const`` field was refused with a list of allowed values that looked identical to what was
typed. The refusal now says the text is written with decomposed accents and which value to
type — in ``--data``, an import row and a REST body — and nothing is normalised."""
from __future__ import annotations

import json
import unicodedata

import pytest

from xrm_core import accounts, hookimpl
from xrm_core.web import create_app

COMPOSED = "\u00c9nergie"  # É as one character
DECOMPOSED = "E\u0301nergie"  # E + combining acute accent
SECTOR = {
    "name": "supplier", "title_field": "name",
    "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "sector": {"enum": [COMPOSED, "Eau", "Gaz"]},
        "kind": {"const": COMPOSED},
    }},
}
HINT = (f'"{DECOMPOSED}" is written with decomposed accents (Unicode NFD) and differs from "{COMPOSED}" '
        f'only in that: type "{COMPOSED}" as the schema writes it')


class SupplierPlugin:
    __name__ = "core13_suppliers"

    @hookimpl
    def xrm_entity_types(self):
        return [SECTOR]


@pytest.fixture
def xrm(cli):
    """The CLI on a database initialised with the supplier type."""
    assert cli("init", "--admin-password", "secret", plugins=[SupplierPlugin()]).exit_code == 0

    def run(*args):
        return cli(*args, plugins=[SupplierPlugin()])
    return run


def test_data_with_a_decomposed_enum_value_says_which_value_to_type(xrm):
    r = xrm("records", "create", "supplier", "--data", json.dumps({"name": "a", "sector": DECOMPOSED},
                                                                  ensure_ascii=False))
    assert r.exit_code == 2 and HINT in r.stderr, r.stderr
    assert "/data/sector" in r.stderr
    r = xrm("records", "create", "supplier", "--data", json.dumps({"name": "a", "kind": DECOMPOSED}))
    assert r.exit_code == 2 and HINT in r.stderr, r.stderr
    r = xrm("records", "list", "supplier", "--json")
    assert json.loads(r.stdout) == []  # nothing stored, nothing normalised


def test_another_wrong_value_gets_no_such_sentence(xrm):
    r = xrm("records", "create", "supplier", "--data", '{"name": "a", "sector": "Energie"}')
    assert r.exit_code == 2 and "not one of" in r.stderr and "decomposed" not in r.stderr, r.stderr


def test_an_import_row_with_a_decomposed_value_says_it_at_its_line(xrm, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(f"name,sector\nok,Eau\nbad,{DECOMPOSED}\n", encoding="utf-8")
    r = xrm("import", "supplier", str(f))
    assert r.exit_code == 2 and HINT in r.stderr, r.stderr
    assert "line 3" in r.stderr
    r = xrm("records", "list", "supplier", "--json")
    assert json.loads(r.stdout) == []


def test_a_rest_body_with_a_decomposed_value_says_it(make_platform):
    p = make_platform(SupplierPlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    r = client.post("/api/v1/records/supplier", json={"data": {"name": "a", "sector": DECOMPOSED}},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422, r.json
    (error,) = r.json["errors"]
    assert error["pointer"] == "/data/sector" and HINT in error["message"]
    # The composed value is accepted and stored as sent; a decomposed one is never rewritten.
    r = client.post("/api/v1/records/supplier", json={"data": {"name": "b", "sector": COMPOSED}},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.json["data"]["sector"] == COMPOSED
    assert unicodedata.is_normalized("NFC", r.json["data"]["sector"])
