"""An admin at the CLI (third audit): a type shown with ``--json``, edited and given back;
a role named twice; a token for a deactivated user. Runs on every engine."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def xrm(cli):
    """The CLI with no plugins, on an initialised database."""
    assert cli("init").exit_code == 0
    return cli


GADGET = {"name": "gadget", "title_field": "title", "indexes": ["n"],
          "schema": {"type": "object", "required": ["title"],
                     "properties": {"title": {"type": "string"}, "n": {"type": "integer"}}}}


def _shown(xrm, name="gadget") -> dict:
    r = xrm("types", "show", name, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_a_type_shown_as_json_edited_and_given_back_is_applied(xrm, tmp_path):
    """Before: ``types update`` refused the file ``types show --json`` printed: "/source,
    /version: Additional properties are not allowed"; ``types list --json`` items also
    "/records". Now those keys are read as what they are, and "version" guards the change."""
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(GADGET))
    assert xrm("types", "add", path).exit_code == 0
    assert xrm("records", "create", "gadget", "--data", '{"title": "a", "n": 1}').exit_code == 0

    shown = _shown(xrm)
    assert shown["version"] == 1 and shown["source"] == "admin"
    shown["schema"]["properties"]["colour"] = {"type": "string"}
    path.write_text(json.dumps(shown))
    r = xrm("types", "update", path, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["applied"] is True and json.loads(r.stdout)["version"] == 2
    after = _shown(xrm)
    assert after["version"] == 2 and "colour" in after["schema"]["properties"]
    assert set(after) - {"version", "source"} == set(GADGET)  # nothing of the listing stored

    # The same file again: made from version 1, the type is at 2 now. Refused, nothing changed.
    shown["schema"]["properties"]["size"] = {"type": "integer"}
    path.write_text(json.dumps(shown))
    for extra in ((), ("--dry-run",)):
        r = xrm("types", "update", path, *extra)
        assert r.exit_code != 0 and "is at version 2, not 1" in r.stderr and "/version" in r.stderr
        assert "Traceback" not in r.stderr
    assert _shown(xrm) == after

    # An item of `types list --json` carries "records" too.
    r = xrm("types", "list", "--json")
    (item,) = [t for t in json.loads(r.stdout) if t["name"] == "gadget"]
    assert item["records"] == 1
    item["label"] = "Gadget"
    path.write_text(json.dumps(item))
    assert xrm("types", "update", path).exit_code == 0
    assert _shown(xrm)["label"] == "Gadget" and _shown(xrm)["version"] == 3

    # A file without "version" is applied whatever the stored version (as before).
    path.write_text(json.dumps({**GADGET, "label": "G"}))
    assert xrm("types", "update", path).exit_code == 0
    assert _shown(xrm)["version"] == 4


@pytest.mark.parametrize("version", ["1", 0, 1.5, True])
def test_a_version_that_is_no_version_number_is_refused(xrm, tmp_path, version):
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(GADGET))
    assert xrm("types", "add", path).exit_code == 0
    path.write_text(json.dumps({**GADGET, "version": version, "label": "x"}))
    r = xrm("types", "update", path)
    assert r.exit_code != 0 and "/version" in r.stderr and "Traceback" not in r.stderr
    assert _shown(xrm)["version"] == 1 and "label" not in _shown(xrm)


def test_a_type_shown_by_one_database_is_added_to_another(xrm, tmp_path):
    """``types add`` of a shown type ignores the keys the listing added (its version is the
    other database's)."""
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps({**GADGET, "version": 7, "source": "someplugin", "records": 3}))
    r = xrm("types", "add", path, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {**GADGET, "version": 1, "source": "admin"}


def test_users_create_with_a_role_named_twice(xrm):
    """Before: a database error (duplicate key of user_roles), and the text output named the
    role twice."""
    assert xrm("roles", "create", "clerk").exit_code == 0
    r = xrm("users", "create", "bob", "--unit", "root", "--role", "clerk", "--role", "clerk")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "user 'bob' created in 'root' with roles clerk"
    (bob,) = [u for u in json.loads(xrm("users", "list", "--json").stdout) if u["name"] == "bob"]
    assert bob["roles"] == ["clerk"]


def test_tokens_create_for_a_deactivated_user_is_refused(xrm):
    assert xrm("users", "create", "dan", "--unit", "root").exit_code == 0
    assert xrm("users", "deactivate", "dan").exit_code == 0
    r = xrm("tokens", "create", "dan")
    assert r.exit_code != 0 and r.stdout == ""
    assert "'dan' is deactivated" in r.stderr and "xrm users activate dan" in r.stderr
    assert xrm("users", "activate", "dan").exit_code == 0
    r = xrm("tokens", "create", "dan")
    assert r.exit_code == 0 and r.stdout.startswith("xrm_")


def test_removing_a_type_takes_the_grants_on_it_along(xrm, tmp_path):
    """Before: the grants stayed (``roles list`` showed read @ all on a type that no longer
    existed) and applied again to a new, unrelated type added later under the same name."""
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(GADGET))
    assert xrm("types", "add", path).exit_code == 0
    assert xrm("roles", "create", "clerk").exit_code == 0
    assert xrm("roles", "grant", "clerk", "gadget", "read,update", "--depth", "all").exit_code == 0
    assert xrm("roles", "grant", "clerk", "*", "create", "--depth", "own").exit_code == 0
    assert xrm("users", "create", "bob", "--unit", "root", "--role", "clerk").exit_code == 0
    r = xrm("types", "remove", "gadget")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "entity type 'gadget' removed, with the 2 grant(s) of roles on it"
    (clerk,) = [x for x in json.loads(xrm("roles", "list", "--json").stdout) if x["name"] == "clerk"]
    assert clerk["grants"] == [{"type": "*", "actions": ["create"], "depth": "own"}]

    path.write_text(json.dumps({**GADGET, "label": "Another gadget"}))
    assert xrm("types", "add", path).exit_code == 0
    assert xrm("records", "create", "gadget", "--data", '{"title": "secret"}').exit_code == 0
    r = xrm("records", "list", "gadget", "--as", "bob", "--json")
    assert r.exit_code != 0 or json.loads(r.stdout) == []
    assert xrm("types", "remove", "gadget").exit_code != 0  # it has a record: refused as before


def test_a_period_is_not_reported_for_a_kpi_that_it_cannot_limit(xrm, tmp_path):
    """Before: a KPI without time_field computed with --from 2026-01-01 answered "from":
    "2026-01-01" (and the text "k from 2026-01-01 to …") over records of every year."""
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(GADGET))
    assert xrm("types", "add", path).exit_code == 0
    assert xrm("records", "create", "gadget", "--data", '{"title": "old", "n": 2}').exit_code == 0
    path.write_text(json.dumps({"name": "total", "entity": "gadget", "measure": {"sum": "n"}}))
    assert xrm("kpi", "add", path).exit_code == 0
    r = xrm("kpi", "compute", "total", "--from", "2026-01-01", "--to", "2026-12-31", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"kpi": "total", "value": 2, "unit": "", "n": 1, "from": None, "to": None,
                                    "groups": []}
    assert "has no time_field" in r.stderr
    r = xrm("kpi", "compute", "total", "--to", "2026-12-31")
    assert r.stdout.strip() == "total: 2 (n=1)" and "has no time_field" in r.stderr
    r = xrm("kpi", "compute", "total", "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["value"] == 2
    # Bad dates are still refused, period or no period.
    r = xrm("kpi", "compute", "total", "--from", "2026-02-30")
    assert r.exit_code != 0 and "/from" in r.stderr


def test_a_refused_kpi_file_is_named_in_the_error(xrm, tmp_path):
    """Before: "error: KPI 'k' names fields of the wrong type…" without the file, which
    ``types add`` names (the pointers are inside it)."""
    path = tmp_path / "gadget.json"
    path.write_text(json.dumps(GADGET))
    assert xrm("types", "add", path).exit_code == 0
    bad = tmp_path / "bad-kpi.json"
    bad.write_text(json.dumps({"name": "k", "entity": "gadget", "measure": {"sum": "title"}}))
    r = xrm("kpi", "add", bad)
    assert r.exit_code != 0 and r.stderr.startswith(f"error: {bad}: KPI 'k' names fields of the wrong type")
    assert "/measure/sum: 'title' is a string; sum needs a numeric field" in r.stderr
    assert json.loads(xrm("kpi", "list", "--json").stdout) == []
