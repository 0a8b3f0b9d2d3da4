"""Refusals of the CLI that say what is in the way and how to act (7th round): ``xrm init``
lists the relationship types it added and updated; ``xrm reltypes remove`` of a type in use
names its relationships and ``xrm unrelate`` removes them; a plugin upgrade narrowing a
relationship type names the relationships in the way; a hook's doing names the plugin; an
import refused partway counts the valid rows before. Errors: stderr, a non-zero status, no
traceback, nothing on stdout."""
from __future__ import annotations

import json
import re

from conftest import PersonPlugin

from xrm_core import hookimpl

PLUGINS = (PersonPlugin(),)


def refused(r, *words) -> str:
    """``r`` failed as the contract says; returns its stderr."""
    assert r.exit_code != 0
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr, (word, r.stderr)
    return r.stderr


class Notes:
    """A release of a plugin whose ``noted`` relationship type ends at ``target``."""

    __name__ = "notes"

    def __init__(self, target: str = "note", label: str = "Noted"):
        self.rel = {"name": "noted", "label": label, "source": "person", "target": target,
                    "cardinality": "many-to-many"}

    @hookimpl
    def xrm_relationship_types(self):
        return [self.rel]


def test_init_prints_the_relationship_types_it_added_and_updated(cli):
    first = cli("init", "--admin-password", "secret", plugins=(PersonPlugin(), Notes()))
    assert first.exit_code == 0, first.stderr
    added = re.search(r"^relationship types added: (.*)$", first.stdout, re.M)
    assert added and set(added.group(1).split(", ")) == {"knows", "has_note", "mentor_of", "noted"}
    assert "relationship types updated" not in first.stdout
    assert "relationship types: 4, " in first.stdout  # the count, as before

    again = cli("init", plugins=(PersonPlugin(), Notes()))
    assert again.exit_code == 0 and "relationship types added" not in again.stdout
    assert "relationship types updated" not in again.stdout

    upgraded = cli("init", plugins=(PersonPlugin(), Notes(target="*", label="Noted on")))
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "relationship types updated: noted\n" in upgraded.stdout
    assert "relationship types added" not in upgraded.stdout
    report = json.loads(cli("init", "--json", plugins=(PersonPlugin(), Notes(target="*", label="Noted"))).stdout)
    assert (report["reltypes_added"], report["reltypes_updated"]) == ([], ["noted"])


def _make(cli, plugins, type_name, data) -> str:
    r = cli("records", "create", type_name, "--data", json.dumps(data), "--json", plugins=plugins)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["id"]


def test_reltypes_remove_of_a_type_in_use_names_its_relationships_and_the_way_to_remove_them(cli):
    assert cli("init", plugins=PLUGINS).exit_code == 0
    a = _make(cli, PLUGINS, "person", {"name": "A"})
    others = [_make(cli, PLUGINS, "person", {"name": f"P{i}"}) for i in range(2)]
    rels = [cli("relate", "knows", a, o, plugins=PLUGINS).stdout.strip() for o in others]
    err = refused(cli("reltypes", "remove", "knows", plugins=PLUGINS),
                  "relationship type 'knows' is still used by 2 relationship(s): remove them first",
                  "`xrm unrelate RELATIONSHIP_ID`")
    for rid, other in zip(rels, others):
        assert f"  /relationships/{rid}: person {a} → person {other}\n" in err
    # The way it names works: unrelate each, then the type goes.
    for rid in rels:
        assert cli("unrelate", rid, plugins=PLUGINS).exit_code == 0
    assert cli("reltypes", "remove", "knows", plugins=PLUGINS).exit_code == 0
    listed = json.loads(cli("reltypes", "list", "--json", plugins=PLUGINS).stdout)
    assert "knows" not in {d["name"] for d in listed}


def test_an_upgrade_narrowing_a_target_names_the_relationships_in_the_way(cli):
    v1 = (PersonPlugin(), Notes(target="*"))
    assert cli("init", plugins=v1).exit_code == 0
    a, b = _make(cli, v1, "person", {"name": "A"}), _make(cli, v1, "person", {"name": "B"})
    n = _make(cli, v1, "note", {"text": "N"})
    on_person = cli("relate", "noted", a, b, plugins=v1).stdout.strip()
    assert cli("relate", "noted", a, n, plugins=v1).exit_code == 0
    v2 = (PersonPlugin(), Notes(target="note"))
    err = refused(cli("init", plugins=v2),
                  "cannot change the target of 'noted': 1 relationship(s) of it link records of other types than "
                  "'note' (each is listed;", "nothing was applied")
    assert "  /target: 1 relationship(s) link person records\n" in err
    assert f"  /relationships/{on_person}: person {a} → person {b}\n" in err
    assert cli("unrelate", on_person, plugins=v1).exit_code == 0
    assert cli("init", plugins=v2).exit_code == 0


class Router:
    __name__ = "router"

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        if event == "before_create" and record.data.get("name") == "route":
            record.unit = "nowhere"
        if event == "before_create" and record.data.get("name") == "minus":
            record.data["age"] = -1


def test_records_create_names_the_plugin_whose_hook_routed_or_set_what_is_refused(cli):
    plugins = (PersonPlugin(), Router())
    assert cli("init", plugins=plugins).exit_code == 0
    refused(cli("records", "create", "person", "--data", '{"name": "route"}', plugins=plugins),
            "the person was routed to unknown unit 'nowhere' by the before_create hook of plugin 'router'")
    refused(cli("records", "create", "person", "--data", '{"name": "minus"}', plugins=plugins),
            "person data is invalid after the before_create hook of plugin 'router' changed it",
            "/data/age: -1 is less than the minimum of 0 (set by the before_create hook of plugin 'router')")
    assert json.loads(cli("records", "list", "person", "--json", plugins=plugins).stdout) == []


def test_an_import_refused_partway_reports_the_valid_rows_before(cli, tmp_path):
    assert cli("init", plugins=PLUGINS).exit_code == 0
    path = tmp_path / "p.csv"
    path.write_text("name,age\nA,1\nB,x\nC,3\n\"D,4\n", encoding="utf-8")
    refused(cli("import", "person", str(path), plugins=PLUGINS),
            "import refused: p.csv is not valid CSV; of the 3 rows before line 5, 2 were valid and 1 invalid "
            "(nothing imported)")
    r = cli("import", "person", str(path), "--json", plugins=PLUGINS)
    assert r.exit_code != 0
    report = json.loads(r.stdout)
    assert (report["total"], report["valid"], report["imported"]) == (3, 2, 0)
    assert [row["line"] for row in report["invalid"]] == [3, 5]
