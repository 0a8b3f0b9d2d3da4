"""Acceptance audit 8 (a blood-donation service's admin): a type change refused because a
KPI would break says which of the KPI's fields and why, through the CLI, on both engines."""
from __future__ import annotations

import json

SITE = {"name": "site", "title_field": "code",
        "schema": {"type": "object", "additionalProperties": False, "required": ["code"],
                   "properties": {"code": {"type": "string"}, "opened": {"type": "string", "format": "date"},
                                  "beds": {"type": "integer"}}}}


def _file(tmp_path, name: str, value) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def test_a_type_change_breaking_a_kpi_names_the_field_and_why(cli, tmp_path):
    """Was "/kpis/beds_total: KPI 'beds_total' (admin): KPI 'beds_total' names a field site
    does not have": which field of the KPI, and where in it, was left to guess."""
    assert cli("init", "--admin-password", "secret").exit_code == 0
    assert cli("types", "add", _file(tmp_path, "site.json", SITE)).exit_code == 0
    kpi = {"name": "beds_total", "entity": "site", "time_field": "opened", "measure": {"sum": "beds"}}
    assert cli("kpi", "add", _file(tmp_path, "kpi.json", kpi)).exit_code == 0
    shown = json.loads(cli("types", "show", "site", "--json").stdout)

    gone = json.loads(json.dumps(shown))
    del gone["schema"]["properties"]["beds"]
    result = cli("types", "update", _file(tmp_path, "gone.json", gone))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert "/kpis/beds_total: KPI 'beds_total' (admin): /measure/sum: 'beds' is not a field of site" in result.stderr

    retyped = json.loads(json.dumps(shown))
    retyped["schema"]["properties"]["beds"] = {"type": "string"}
    retyped["schema"]["properties"]["opened"] = {"type": "integer"}
    result = cli("types", "update", _file(tmp_path, "retyped.json", retyped))
    assert result.exit_code != 0
    assert "/time_field: 'opened' is integer; it must be a date or date-time string field" in result.stderr
    assert "/measure/sum: 'beds' is a string; sum needs a numeric field" in result.stderr
    assert json.loads(cli("types", "show", "site", "--json").stdout) == shown  # refused: unchanged


APPOINTMENT = {"name": "appointment", "title_field": "ref",
               "schema": {"type": "object", "required": ["ref"],
                          "properties": {"ref": {"type": "string"},
                                         "at": {"type": "string", "format": "date-time"},
                                         "status": {"enum": ["booked", "donated", "no_show", "cancelled"]},
                                         "units": {"enum": [1, 2]},
                                         "kind": {"const": "whole_blood"}}}}


def test_a_kpi_filter_value_its_enum_never_holds_is_refused(cli, tmp_path):
    """A typo in a KPI's filter ("noshow" for "no_show") was accepted: the no-show rate then
    read 0 % for ever, with nothing to say why. A value outside the field's enum or const
    can match no record: refused, naming it and the values the field takes."""
    assert cli("init", "--admin-password", "secret").exit_code == 0
    assert cli("types", "add", _file(tmp_path, "appointment.json", APPOINTMENT)).exit_code == 0
    typo = {"name": "no_show_rate", "entity": "appointment", "time_field": "at", "unit": "percent",
            "where": {"kind": "whole_blood", "units": {"in": [1, "2"]}},
            "measure": {"ratio": {"numerator": {"status": "noshow"},
                                  "denominator": {"status": {"in": ["donated", "no_show", "noshow"]}}}}}
    result = cli("kpi", "add", _file(tmp_path, "typo.json", typo))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[1:] == [
        '  /measure/ratio/numerator/status: "noshow" is not one of the values of status '
        '("booked", "donated", "no_show" or "cancelled"): no record can match it',
        '  /measure/ratio/denominator/status/in/2: "noshow" is not one of the values of status '
        '("booked", "donated", "no_show" or "cancelled"): no record can match it']
    assert json.loads(cli("kpi", "list", "--json").stdout) == []  # refused: nothing stored
    # Spelled right (and "2" read as the integer the field holds) it is taken; ne and
    # comparisons are not held to the enum.
    typo["measure"]["ratio"] = {"numerator": {"status": "no_show"},
                                "denominator": {"status": {"in": ["donated", "no_show"], "ne": "pending"}}}
    assert cli("kpi", "add", _file(tmp_path, "fixed.json", typo)).exit_code == 0
    share = {"name": "wrong_kind", "entity": "appointment", "measure": {"share": {"kind": "plasma"}}}
    result = cli("kpi", "add", _file(tmp_path, "share.json", share))
    assert result.exit_code == 2
    assert '/measure/share/kind: "plasma" is not one of the values of kind ("whole_blood")' in result.stderr


def test_a_type_change_dropping_an_enum_value_a_kpi_counts_is_refused(cli, tmp_path):
    assert cli("init", "--admin-password", "secret").exit_code == 0
    assert cli("types", "add", _file(tmp_path, "appointment.json", APPOINTMENT)).exit_code == 0
    kpi = {"name": "no_shows", "entity": "appointment", "measure": {"share": {"status": "no_show"}}}
    assert cli("kpi", "add", _file(tmp_path, "kpi.json", kpi)).exit_code == 0
    shown = json.loads(cli("types", "show", "appointment", "--json").stdout)
    narrowed = json.loads(json.dumps(shown))
    narrowed["schema"]["properties"]["status"]["enum"] = ["booked", "donated"]
    result = cli("types", "update", _file(tmp_path, "narrowed.json", narrowed))
    assert result.exit_code != 0 and "would break 1 KPI(s): no_shows" in result.stderr
    assert '/measure/share/status: "no_show" is not one of the values of status ("booked" or "donated")' \
        in result.stderr
    assert json.loads(cli("types", "show", "appointment", "--json").stdout) == shown


def test_an_admin_kpi_stored_before_values_were_checked_keeps_computing(make_platform):
    """Added by an earlier release, which took any value: it stays listed and computable
    (0 matches, as before) instead of vanishing from every listing."""
    from xrm_core import db, entity_types
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, APPOINTMENT)
        conn.execute(db.kpi_definitions.insert().values(
            name="old_typo", source="admin", updated_at=db.utcnow(),
            definition={"name": "old_typo", "entity": "appointment", "measure": {"share": {"status": "noshow"}}}))
    p._kpis = None  # as a new process (the next `xrm` command) would read them
    with p.session() as s:
        s.create("appointment", {"ref": "A1", "status": "no_show"})
        assert s.kpi("old_typo")["value"] == 0
