"""Plain regression tests for what the lifecycle state machine (test_lifecycle_stateful.py)
found, each minimised to the few operations that show it."""
from __future__ import annotations

import pytest

from xrm_core import db


def _exact(a, b) -> bool:
    """Equal as JSON documents, types included (``1e16`` the float is not ``10000000000000000``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exact(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b))
    return a == b


#: Floats orjson writes with a positive exponent ("1e+16"): PostgreSQL's JSONB keeps the
#: number and prints it back without one ("10000000000000000"), which reads as an integer
#: (up to 2**64) — one beyond signed 64 bits from 2**63 on, which no update then accepts.
BIG_FLOATS = {"f16": 1e16, "f17": -1.5e17, "f19": 1e19, "f300": 1.5e300}


def _serializer_keeps_big_floats() -> bool:
    return "e" not in db._json_dumps(1e16)


def _expect_failure_on_postgresql_until_fixed(platform, request) -> None:
    if platform.engine.dialect.name == "postgresql" and not _serializer_keeps_big_floats():
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="db._json_dumps writes 1e16 as '1e+16'; PostgreSQL's JSONB returns it as the "
                                "integer 10000000000000000 (see the fix proposed for xrm_core/db.py)"))


@pytest.fixture
def big_float_note(platform, request):
    _expect_failure_on_postgresql_until_fixed(platform, request)
    with platform.session() as s:
        return s.create("note", {"text": "t", **BIG_FLOATS}).id


def test_a_big_float_reads_back_as_the_float_it_was(platform, big_float_note):
    with platform.session() as s:
        got = s.get(big_float_note)
        listed = s.list("note")[0]
        created = s.history(big_float_note)[0]["payload"]["data"]
    for data in (got.data, listed.data, created):
        assert _exact(data, {"text": "t", **BIG_FLOATS}), data


def test_patching_a_big_float_with_itself_changes_nothing(platform, big_float_note):
    with platform.session() as s:
        assert s.update(big_float_note, dict(BIG_FLOATS)).version == 1
        assert [a["kind"] for a in s.history(big_float_note)] == ["created"]


def test_a_record_holding_a_big_float_can_still_be_updated(platform, big_float_note):
    """A float between 2**63 and 2**64 read back as an integer beyond signed 64 bits made
    every later update of the record fail, naming a field the update did not touch."""
    with platform.session() as s:
        rec = s.update(big_float_note, {"text": "u"})
    assert rec.version == 2 and _exact(rec.data, {"text": "u", **BIG_FLOATS})
    with platform.session() as s:
        assert _exact(s.get(big_float_note).data, rec.data)


def test_an_imported_big_float_reads_back_as_the_float_it_was(platform, request, tmp_path):
    """The importer writes the JSON text of its rows itself: the same floats, the same way."""
    from xrm_core.importer import import_file
    _expect_failure_on_postgresql_until_fixed(platform, request)
    f = tmp_path / "notes.jsonl"
    f.write_text('{"text": "i", "f16": 1e16, "f17": -1.5e17, "f19": 1e19, "f300": 1.5e300}\n', encoding="utf-8")
    with platform.session() as s:
        assert import_file(s, "note", str(f))["imported"] == 1
    with platform.session() as s:
        (rec,) = s.list("note")
        assert _exact(rec.data, {"text": "i", **BIG_FLOATS}), rec.data
        assert _exact(s.history(rec.id)[0]["payload"]["data"], rec.data)
        assert s.update(rec.id, {"text": "j"}).version == 2
