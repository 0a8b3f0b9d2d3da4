"""``xrm export-relationships --format jsonl`` writes object keys sorted, as ``xrm export``
does: each engine keeps a relationship's ``data`` keys in its own order (SQLite as given,
PostgreSQL's JSONB shorter keys first), and the same links made two files."""
from __future__ import annotations

import io

import orjson

from xrm_core.relationship_files import export_relationships


def test_relationship_data_is_exported_with_keys_sorted(platform):
    with platform.session("admin") as s:
        a = s.create("person", {"name": "Ada"})
        b = s.create("person", {"name": "Bob"})
        s.relate("knows", a.id, b.id, data={"zeta": 1, "alpha": {"z": 2, "a": 3}})
        out = io.StringIO()
        assert export_relationships(s, "knows", out) == 1
    line = out.getvalue().strip()
    assert line == orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS).decode()
    assert orjson.loads(line) == {"source": a.id, "target": b.id, "data": {"zeta": 1, "alpha": {"z": 2, "a": 3}}}
