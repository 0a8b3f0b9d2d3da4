"""The preview of a delete (``Session.delete_preview``, the UI's confirmation page) says
exactly what the delete then does — the records and links it removes, down chains and round
cycles of cascades — or the refusal it then raises; a record the caller cannot read is never
counted (a cascade into one refuses the delete) and nothing is written."""
from __future__ import annotations

import pytest

from xrm_core import Conflict, PermissionDenied, hookimpl
from test_delete_fanout import dump

from conftest import PersonPlugin


class StaffPlugin:
    """Employees and desks: self-referencing types with each on_delete."""

    __name__ = "staff"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "employee", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}},
                {"name": "desk", "schema": {"type": "object"}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "mentors", "source": "employee", "target": "employee", "cardinality": "many-to-many",
                 "on_delete": "cascade"},
                {"name": "manages", "source": "employee", "target": "employee", "cardinality": "one-to-many",
                 "on_delete": "unlink"},
                {"name": "sits_at", "source": "employee", "target": "desk", "cardinality": "one-to-one",
                 "on_delete": "cascade"},
                {"name": "reserves", "source": "employee", "target": "desk", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]


@pytest.fixture
def platform(make_platform):
    """Overrides conftest's, so that its ``org`` fixture (units and users) has these types too."""
    return make_platform(PersonPlugin(), StaffPlugin())


def _staff(s, names, unit=None) -> dict[str, str]:
    return {n: s.create("employee", {"name": n}, unit=unit).id for n in names}


def _outcome(platform, actor, record_id) -> list:
    """``[preview, delete]``: what each says, as ``{"records", "links"}`` (ids in order) or
    the refusal's type, message and errors. The preview writes nothing."""
    out = []
    for run in ("preview", "delete"):
        before = dump(platform)
        try:
            with platform.session(actor) as s:
                if run == "preview":
                    got = s.delete_preview(record_id)
                    del got["reached_by"]  # (the delete does not say it: checked apart)
                else:
                    gone = s.delete(record_id)
                    got = {"records": [r.id for r in gone.records], "links": [lk.id for lk in gone.links]}
        except (Conflict, PermissionDenied) as e:
            got = (type(e).__name__, e.message, e.errors)
        if run == "preview" or not isinstance(got, dict):
            assert dump(platform) == before
        out.append(got)
    return out


def test_a_cycle_of_cascades_is_previewed_as_deleted(platform):
    """E mentors F mentors G mentors E (a cycle); each sits at a desk; H, managed by F, stays."""
    with platform.session() as s:
        e = _staff(s, "EFGH")
        desks = {n: s.create("desk", {}).id for n in "EFG"}
        s.relate_many("mentors", [(e["E"], e["F"]), (e["F"], e["G"]), (e["G"], e["E"])])
        s.relate_many("sits_at", [(e[n], desks[n]) for n in "EFG"])
        s.relate("manages", e["F"], e["H"])
        s.relate("reserves", e["G"], desks["E"])  # restrict, to a desk the delete takes
        spare = s.create("desk", {}).id
        s.relate("reserves", e["F"], spare)
    # A target goes alone, its links only removed (whatever their on_delete).
    preview, done = _outcome(platform, "admin", spare)
    assert preview == done and preview["records"] == [spare] and len(preview["links"]) == 1
    with platform.session(write=False) as s:
        assert s.delete_preview(e["E"])["reached_by"] == {e["F"]: "mentors", e["G"]: "mentors",
                                                         **{d: "sits_at" for d in desks.values()}}
    preview, done = _outcome(platform, "admin", e["E"])
    assert preview == done
    assert sorted(preview["records"]) == sorted([*desks.values(), e["E"], e["F"], e["G"]])
    assert preview["records"][-1] == e["E"] and len(preview["links"]) == 8


def test_a_restrict_down_a_chain_is_previewed_as_the_delete_refuses_it(platform):
    with platform.session() as s:
        e = _staff(s, "AB")
        desk = s.create("desk", {}).id
        s.relate("mentors", e["A"], e["B"])
        s.relate("reserves", e["B"], desk)
    preview, done = _outcome(platform, "admin", e["A"])
    assert preview == done and preview[0] == "Conflict"
    assert "'mentors' relationships cascade to" in preview[1]


def test_a_cascade_into_another_unit_is_previewed_as_refused_not_counted(org):
    """manager_a may delete in dealer_a only: the desk of dealer_b that a cascade reaches
    refuses the delete (and is not counted as going with it); one in dealer_a goes."""
    with org.session() as s:
        a = _staff(s, ["mine"], unit="dealer_a")["mine"]
        own_desk = s.create("desk", {}, unit="dealer_a").id
        other = _staff(s, ["theirs"], unit="dealer_b")["theirs"]
        s.relate("sits_at", a, own_desk)
        s.relate("manages", a, other)  # unlinked: a record the caller cannot see, not deleted
    preview, done = _outcome(org, "manager_a", a)
    assert preview == done and preview["records"] == [own_desk, a]
    with org.session() as s:
        b = _staff(s, ["b"], unit="dealer_a")["b"]
        s.relate("sits_at", b, s.create("desk", {}, unit="dealer_b").id)
    preview, done = _outcome(org, "manager_a", b)
    assert preview == done and preview[0] == "PermissionDenied"
