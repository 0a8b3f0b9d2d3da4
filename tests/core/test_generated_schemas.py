"""A user the developers never met: random entity types, random records, the public API.

Hypothesis builds realistic entity-type definitions (valid against
``schemas/entity-type.schema.json``): 1–8 properties named in ASCII, with dashes and
underscores, in Chinese and Persian, in mixed case (and, more rarely, with spaces or dots,
empty, blank or behind a U+FEFF);
strings with and without ``format``/``maxLength``/``pattern``, integers with bounds (large
values near 2**53 and 2**63, negative), numbers, booleans, string enums, nullable unions,
arrays of scalars, nested objects, ``$ref`` to the schema's own ``$defs`` and to
``schemas/common.json``, ``required`` subsets and ``additionalProperties`` either way; a
``title_field``, ``indexes`` and ``unique`` picked among the top-level scalar properties.
Records come from ``hypothesis_jsonschema.from_schema``. Then, through ``Session``:

1. the type is accepted and records read back with identical data (values the platform
   refuses on purpose — NUL characters, integers beyond 64 bits, docs/architecture.md —
   are refused with a pointer, never stored);
2. an equality filter on every indexed or unique field returns exactly the records holding
   the value; a ``unique`` duplicate is a ``Conflict`` and changes nothing;
3. JSONL and CSV exports import into a fresh type with the same data (CSV: within the
   documented limits — attributes the schema does not declare, and records left with none,
   are not carried; ``exporter`` warns about both);
4. the KPIs ``count``, ``sum`` and ``avg`` agree with Python over the same records;
5. a type change adding a ``required`` property is refused while records lack it, naming
   their ids, and changes nothing.

And through the CLI (``types add``, ``import``, ``records list --where … --json``,
``export``) a round trip into a fresh database.

Fixed seeds (``derandomize``) keep CI reproducible, as tests/core/test_engine_parity.py.
"""
from __future__ import annotations

import copy
import io
import itertools
import json
import math
import os
import pathlib
import types

import jsonschema_rs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as _conjecture
from hypothesis_jsonschema import _from_schema as _hjs
from hypothesis_jsonschema import from_schema

from xrm_core import Conflict, ValidationError, entity_types, exporter, importer, kpis
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager
from xrm_core.stored_json import storage_errors
from xrm_core.validation import meta_validator


class _Many:
    """hypothesis_jsonschema 0.23 draws an object's keys with ``cu.many(...).more()``, which
    newer Hypothesis releases removed (``many`` became a context manager): this is the old
    protocol on public ConjectureData calls, given to hypothesis_jsonschema alone."""

    def __init__(self, data, min_size, max_size, average_size):
        self.data, self.min_size, self.max_size, self.count = data, min_size, max_size, 0
        spread = max_size - min_size
        want = average_size - min_size
        self.p = 0.0 if spread == 0 else 1 - 1 / (1 + want) if math.isinf(spread) else min(want / spread, 0.99)

    def more(self) -> bool:
        if self.min_size == self.max_size:
            go = self.count < self.min_size
        else:
            forced = True if self.count < self.min_size else False if self.count >= self.max_size else None
            go = self.data.draw_boolean(self.p, forced=forced)
        self.count += go
        return go

    def reject(self) -> None:
        self.count -= 1


if not hasattr(_conjecture.many, "more"):
    _hjs.cu = types.SimpleNamespace(many=_Many)

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMMON = json.loads((ROOT / "schemas" / "common.json").read_text())
META = json.loads((ROOT / "schemas" / "entity-type.schema.json").read_text())
META_VALIDATOR = meta_validator("entity-type.schema.json")
#: The meta-schema's own rule for a field (title_field, indexes, unique): read from the file,
#: so that names it comes to allow (spaces, dashes…) are covered when it does.
FIELD_VALIDATOR = jsonschema_rs.validator_for(META["$defs"]["field"])

#: XRM_GEN_EXAMPLES, XRM_GEN_RANDOM=1 and XRM_GEN_NOSHRINK=1 turn it into a longer, random
#: bug hunt (CI keeps the fixed, short run).
SETTINGS = settings(max_examples=int(os.environ.get("XRM_GEN_EXAMPLES", 60)), deadline=None,
                    derandomize=not os.environ.get("XRM_GEN_RANDOM"),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
                    **({"phases": [Phase.explicit, Phase.generate]} if os.environ.get("XRM_GEN_NOSHRINK") else {}))

# -- names -------------------------------------------------------------------------------
ASCII = ["name", "code", "qty", "amount", "price", "status", "note", "born", "x", "y1", "Title", "isActive",
         "ZIP", "Name"]
DASHED = ["first-name", "_hidden", "zip_code", "a_b_c", "e-mail", "x-y", "__v"]
CJK = ["客户名称", "数量", "价格", "日期", "备注"]
PERSIAN = ["نام", "شماره", "تاریخ_تولد", "قیمت", "می‌شود"]
#: Names with spaces or dots: filtered on and indexed only when the meta-schema takes them as
#: fields (see ``filterable``).
SPACED = ["First Name", "a.b", "cost (USD)"]
#: Names JSON Schema allows and people do not choose, but files do carry: empty, blank, a
#: byte-order mark in front (a header copied from a spreadsheet export).
ODD = ["", " ", "\ufeffid"]
NAMES = ASCII + DASHED + CJK + PERSIAN + SPACED + ODD
NEW_REQUIRED = "zz_required_after"


def filterable(name: str) -> bool:
    """Is ``name`` a field the meta-schema lets a definition index or a KPI name (read from
    schemas/entity-type.schema.json, so names with spaces or dashes count once it allows
    them)? A top-level name holding a dot never is one (the dot separates a path), nor are
    "", " " and a leading U+FEFF; the checks that need a field skip those, and check that a
    filter on them is refused with a pointer."""
    return FIELD_VALIDATOR.is_valid(name) and "." not in name


# -- property schemas ----------------------------------------------------------------------
PATTERNS = ["^[A-Z]{2}-[0-9]{1,4}$", "^[a-z]+$", "[0-9]", "^\\S+$"]
FORMATS = ["date", "date-time", "email", "uri", "uuid"]
INT_RANGES = [None, (0, 100), (-(2**53), 2**53), (2**53 - 5, 2**53 + 5), (-(2**53) - 5, -(2**53) + 5),
              (-1000, -1), (2**63 - 3, 2**63 + 3), (-(2**63), -(2**63) + 3)]
COMMON_REFS = {"phone": "string", "email": "string", "date": "string", "datetime": "string", "uuid": "string",
               "uri": "string", "currency": "string", "country": "string", "percent": "number",
               "lang": "string", "record_ref": "string", "money": "object", "address": "object"}


@st.composite
def scalar_schema(draw):
    """(schema, JSON type) of a scalar property."""
    kind = draw(st.sampled_from(["string", "string", "integer", "integer", "number", "boolean", "enum",
                                 "nullable"]))
    if kind == "string":
        s = {"type": "string"}
        extra = draw(st.sampled_from(["", "format", "maxLength", "pattern", "minLength"]))
        if extra == "format":
            s["format"] = draw(st.sampled_from(FORMATS))
        elif extra == "maxLength":
            s["maxLength"] = draw(st.integers(1, 12))
        elif extra == "minLength":
            s["minLength"] = draw(st.integers(1, 3))
        elif extra == "pattern":
            s["pattern"] = draw(st.sampled_from(PATTERNS))
        return s, "string"
    if kind == "integer":
        s = {"type": "integer"}
        bounds = draw(st.sampled_from(INT_RANGES))
        if bounds:
            s["minimum"], s["maximum"] = bounds
        return s, "integer"
    if kind == "number":
        s = {"type": "number"}
        if draw(st.booleans()):
            s["minimum"], s["maximum"] = draw(st.sampled_from([(0, 1), (-1e6, 1e6), (-0.5, 1e12)]))
        return s, "number"
    if kind == "boolean":
        return {"type": "boolean"}, "boolean"
    if kind == "enum":
        values = draw(st.lists(st.sampled_from(["red", "Green", "آبی", "蓝", "", "10", "true", "a b", "null"]),
                               min_size=1, max_size=4, unique=True))
        return {"enum": values}, "string"
    inner = draw(st.sampled_from(["string", "integer", "number", "boolean"]))
    return {"type": [inner, "null"]}, "nullable"


@st.composite
def property_schema(draw, defs: dict):
    """(schema, kind): kind is the JSON type of a scalar, or "array"/"object"/"nullable"."""
    kind = draw(st.sampled_from(["scalar"] * 6 + ["array", "object", "ref", "common"]))
    if kind == "scalar":
        return draw(scalar_schema())
    if kind == "array":
        item, _ = draw(scalar_schema())
        s = {"type": "array", "items": item}
        if draw(st.booleans()):
            s["maxItems"] = draw(st.integers(0, 4))
        return s, "array"
    if kind == "object":
        names = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=3, unique=True))
        props = {n: draw(scalar_schema())[0] for n in names}
        s = {"type": "object", "properties": props}
        if names and draw(st.booleans()):
            s["required"] = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
        if draw(st.booleans()):
            s["additionalProperties"] = False
        return s, "object"
    if kind == "ref":
        sub, t = draw(st.one_of(scalar_schema(), property_schema(defs).filter(lambda x: x[1] != "ref")))
        name = f"d{len(defs)}"
        defs[name] = sub
        return {"$ref": f"#/$defs/{name}"}, t
    name = draw(st.sampled_from(sorted(COMMON_REFS)))
    base = draw(st.sampled_from(["https://xrm.dev/schemas/common.json", "common.json"]))
    return {"$ref": f"{base}#/$defs/{name}"}, COMMON_REFS[name]


SCALAR_KINDS = {"string", "integer", "number", "boolean"}


@st.composite
def definitions(draw, name: str):
    """(definition, kinds: property -> kind)."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True))
    defs: dict = {}
    props, kinds = {}, {}
    for n in names:
        props[n], kinds[n] = draw(property_schema(defs))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": props}
    if defs:
        schema["$defs"] = defs
    req = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
    if req:
        schema["required"] = req
    ap = draw(st.sampled_from([None, True, False]))
    if ap is not None:
        schema["additionalProperties"] = ap
    definition = {"name": name, "label": {"en": name, "fa": "نوع", "zh": "类型"}, "schema": schema}
    fields = [n for n in names if kinds[n] in SCALAR_KINDS and filterable(n)]
    if fields:
        if draw(st.booleans()):
            definition["title_field"] = draw(st.sampled_from(fields))
        idx = draw(st.lists(st.sampled_from(fields), max_size=3, unique=True))
        if idx:
            definition["indexes"] = idx
        uq = draw(st.lists(st.sampled_from(fields), max_size=2, unique=True))
        if uq:
            definition["unique"] = uq
    assert META_VALIDATOR.is_valid(definition), definition
    return definition, kinds


def generation_schema(schema: dict) -> dict:
    """``schema`` with references to common.json made local, for hypothesis_jsonschema
    (which would fetch a remote ``$ref``): common's ``$defs`` become ``c__*`` defs."""
    def rewrite(node, common: bool):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    if v.startswith(("https://xrm.dev/schemas/common.json#/$defs/", "common.json#/$defs/")):
                        v = "#/$defs/c__" + v.rsplit("/", 1)[1]
                    elif common and v.startswith("#/$defs/"):
                        v = "#/$defs/c__" + v.rsplit("/", 1)[1]
                out[k] = v if k == "$ref" else rewrite(v, common)
            return out
        if isinstance(node, list):
            return [rewrite(v, common) for v in node]
        return node
    out = rewrite(copy.deepcopy(schema), False)
    out.pop("$schema", None)
    out.setdefault("$defs", {}).update({f"c__{k}": rewrite(v, True) for k, v in COMMON["$defs"].items()})
    return out


def refused_on_purpose(data) -> bool:
    """Documented refusals (docs/architecture.md, stored_json.storage_errors): NUL characters,
    integers beyond 64 bits, nesting deeper than the limit. (And, checked where the type is
    known, ``EntityType.key_text_errors``: index text longer than the limit, a ``unique``
    integer beyond signed 64 bits.)"""
    return bool(storage_errors(data))


def beyond_signed_64(value) -> bool:
    """An integer outside signed 64 bits: refused when stored (see :func:`unstorable`), and
    as a filter value ("outside the 64-bit integer range"), so the filter checks skip it."""
    return isinstance(value, int) and not -(2**63) <= value < 2**63


def generator_quirk(data, definition, errors) -> bool:
    """Data hypothesis_jsonschema generates but the platform's validator rightly refuses:
    hypothesis_jsonschema checks ``format`` with Python's ``jsonschema``, which asserts some
    formats loosely or not at all (an empty string as a ``uuid``), and matches ``pattern``
    with Python's ``re``, where ``$`` also matches before a final newline (ECMA-262's does
    not)."""
    text = json.dumps(data, ensure_ascii=False)
    return all("is not a valid" in e["message"] or ("does not match" in e["message"] and "\\n" in text)
               for e in errors)


def same(a, b) -> bool:
    """Equal as JSON values: types included (1 is not true, nor "1"), numbers by value —
    PostgreSQL's JSONB reads ``-4.4e16`` back as ``-44000000000000000`` and ``-0.0`` as
    ``0.0`` (docs/deployment.md)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        # a float as JSON writes it (2.812250645200907e+16) reads back from JSONB as the
        # integer of those digits, which is that float's value only once made a float
        return a == b if type(a) is type(b) else float(a) == float(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def where_differ(a, b, path="") -> str | None:
    """The JSON pointer of the first difference of ``a`` and ``b`` (for messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                return f"{path}/{k} ({'missing' if k not in a else 'extra'})"
            found = where_differ(a[k], b[k], f"{path}/{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((f for i, (x, y) in enumerate(zip(a, b)) if (f := where_differ(x, y, f"{path}/{i}"))), None)
    return None if same(a, b) else f"{path}: {a!r} != {b!r}"


def same_rows(got: list, want: list) -> bool:
    return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))


def near_double_max(nums) -> bool:
    """Values whose sum or average leaves the double range on the way: SQLite's ``avg``
    then answers null (two values of 1e308) or inf (one of 1.7976931348623157e308) and
    PostgreSQL's ``median`` fails with a numeric overflow — reported as bugs of
    kpi_measures.py, not this file's to fix, so the KPI checks skip such values."""
    return any(abs(x) > 1e300 for x in nums)


def unique_key(value):
    """What a unique index compares: numbers by value (1 and 1.0 are one key)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number", float(value)
    return type(value).__name__, json.dumps(value)


# -- the generated case ------------------------------------------------------------------
_names = itertools.count()


@st.composite
def cases(draw):
    """(definition, kinds, records): the records valid and storable, unique keys distinct."""
    name = f"g{next(_names)}"
    definition, kinds = draw(definitions(name))
    gen = from_schema(generation_schema(definition["schema"]))
    rows = draw(st.lists(gen, min_size=1, max_size=6))
    et = entity_types.EntityType(copy.deepcopy(definition))
    kept, refused, seen = [], [], set()
    for row in rows:
        if refused_on_purpose(row) or et.key_text_errors(row):
            refused.append(row)
            continue
        if not et.is_valid(row):
            # the platform's validator (jsonschema-rs) is the judge; only a known generator
            # quirk may explain a disagreement
            assert generator_quirk(row, definition, et.errors(row)), (definition, row, et.errors(row))
            continue
        keys = [(f, unique_key(row[f])) for f in definition.get("unique", []) if f in row]
        if any(k in seen for k in keys):
            continue
        seen.update(keys)
        kept.append(row)
    return definition, kinds, kept, refused[:2]


@pytest.fixture
def plat(make_platform):
    return make_platform()


def _kpi_value(plat, name, measure):
    kname = f"k{next(_names)}"
    with plat.connection() as conn:
        kpis.add(plat, conn, {"name": kname, "entity": name, "measure": measure})
    with plat.session(write=False) as s:
        return kpis.compute(s, kname)


def _close(got, want) -> bool:
    if want is None or got is None:
        return got is want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)


@SETTINGS
@given(case=cases())
def test_generated_types_and_records(plat, tmp_path, case):
    definition, kinds, rows, refused = case
    name = definition["name"]
    note(json.dumps(definition, ensure_ascii=False))
    note(json.dumps(rows, ensure_ascii=False))
    event(f"{len(rows)} records")
    with plat.connection() as conn:
        entity_types.add(conn, definition)

    # 1. created and read back identical; documented refusals refused with a pointer
    for row in refused:
        with pytest.raises(ValidationError) as e:
            with plat.session() as s:
                s.create(name, row)
        assert all(err["pointer"].startswith("/data") for err in e.value.errors), e.value.errors
    with plat.session() as s:
        ids = [s.create(name, row).id for row in rows]
    with plat.session(write=False) as s:
        assert s.count(name) == len(rows)
        for rid, row in zip(ids, rows):
            assert same(s.get(rid).data, row), where_differ(s.get(rid).data, row)
        listed = s.list(name, limit=1000)
        assert [r.id for r in listed] == ids
        assert same_rows([r.data for r in listed], rows)

        # 2. equality filters on every indexed / unique field, and on every other top-level
        # scalar property the filter language can name
        scalars = [f for f, kind in kinds.items() if kind in SCALAR_KINDS]
        for field in scalars:
            if not filterable(field):
                # "", " ", a dot in the name: refused with a pointer, never a crash
                with pytest.raises(ValidationError) as e:
                    s.list(name, {field: "x"})
                assert e.value.errors and e.value.errors[0]["pointer"].startswith("/where"), e.value.errors
        keyed = definition.get("indexes", []) + definition.get("unique", [])
        for field in dict.fromkeys(keyed + [f for f in scalars if filterable(f)]):
            values = [row[field] for row in rows if field in row and row[field] is not None
                      and not beyond_signed_64(row[field])]
            for v in values[:3]:
                want = [rid for rid, row in zip(ids, rows) if field in row and same(row[field], v)]
                got = [r.id for r in s.list(name, {field: v}, limit=1000)]
                assert got == want, (field, v, got, want)
                assert s.count(name, {field: {"eq": v}}) == len(want)
    for field in definition.get("unique", []):
        holder = next((row for row in rows if field in row), None)
        if holder is None:
            continue
        with pytest.raises(Conflict) as e:
            with plat.session() as s:
                s.create(name, holder)
        assert any(f in str(e.value) for f in definition["unique"]), str(e.value)
        with plat.session(write=False) as s:
            assert s.count(name) == len(rows)

    # 3. export and import into a fresh type of the same definition
    declared = set(entity_types.EntityType(copy.deepcopy(definition)).properties())
    for fmt in ("jsonl", "csv"):
        copy_name = f"{name}_{fmt}"
        with plat.connection() as conn:
            entity_types.add(conn, {**copy.deepcopy(definition), "name": copy_name})
        out, warnings = io.StringIO(), []
        with plat.session(write=False) as s:
            assert exporter.export(s, name, out, fmt, warn=warnings.append) == len(rows)
        path = tmp_path / f"{copy_name}.{fmt}"
        path.write_text(out.getvalue(), encoding="utf-8")
        with plat.session() as s:
            report = importer.import_file(s, copy_name, str(path))
        if fmt == "jsonl":
            want = rows
        else:  # documented: CSV carries the declared top-level properties; blank rows are skipped
            want = [d for d in ({k: v for k, v in row.items() if k in declared} for row in rows) if d]
            if len(want) != len(rows) or any(set(row) - declared for row in rows):
                assert warnings, "export must warn about what CSV could not carry"
        assert report["imported"] == len(want), (fmt, report, out.getvalue())
        with plat.session(write=False) as s:
            back = [r.data for r in s.list(copy_name, limit=1000)]
        assert same_rows(back, want), (fmt, out.getvalue(), back, want)

    # 4. KPIs agree with Python
    counted = _kpi_value(plat, name, {"count": True})
    assert counted["n"] == len(rows) and counted["value"] == (len(rows) or None), counted  # null when n is 0
    for field, kind in kinds.items():
        if kind not in ("integer", "number") or not filterable(field):
            continue
        nums = [row[field] for row in rows if isinstance(row.get(field), (int, float))
                and not isinstance(row.get(field), bool)]
        if near_double_max(nums):
            continue
        total = math.fsum(nums) if nums else None
        if all(isinstance(x, int) for x in nums) and nums:
            total = sum(nums)
        got = _kpi_value(plat, name, {"sum": field})
        assert got["n"] == len(nums), (field, got, nums)
        assert _close(got["value"], total), (field, got, nums)
        got = _kpi_value(plat, name, {"avg": field})
        assert _close(got["value"], total / len(nums) if nums else None), (field, got, nums)

    # 5. a new required property is refused while records lack it, changing nothing
    changed = copy.deepcopy(definition)
    changed["schema"]["properties"][NEW_REQUIRED] = {"type": "string"}
    changed["schema"]["required"] = changed["schema"].get("required", []) + [NEW_REQUIRED]
    with plat.connection() as conn:
        before = entity_types.get(conn, name)
    lacking = [rid for rid, row in zip(ids, rows) if NEW_REQUIRED not in row]
    if lacking:
        with pytest.raises(ValidationError) as e:
            with plat.connection() as conn:
                entity_types.update(conn, changed)
        named = {err["pointer"].split("/")[2] for err in e.value.errors}
        assert named == set(lacking), (named, lacking)
        with plat.connection() as conn:
            after = entity_types.get(conn, name)
        assert after.version == before.version and after.definition == before.definition
    with plat.session(write=False) as s:
        assert same_rows([r.data for r in s.list(name, limit=1000)], rows)


# -- the CLI ---------------------------------------------------------------------------------
def _cli(url):
    def run(*args):
        result = CliRunner().invoke(build_cli(make_plugin_manager(load_entry_points=False)),
                                    ["--db", url, *map(str, args)], catch_exceptions=False)
        return result
    return run


@pytest.fixture
def two_clis(db_url, other_db_url):
    made = []
    for url in (db_url, other_db_url):
        run = _cli(url)
        result = run("init", "--admin-password", "pw")
        assert result.exit_code == 0, result.stderr
        made.append(run)
    return made


def where_arg(field, v) -> str:
    """``--where F=V`` for value ``v``: V is read as JSON when it parses, else as a string
    (DESIGN §5), so a string that would parse ("10", "null", "-0") or that holds spaces
    around it is written as a JSON string literal."""
    if isinstance(v, str):
        try:
            json.loads(v)
        except ValueError:
            quote = v != v.strip() or v.startswith('"')
        else:
            quote = True
        return f"{field}={json.dumps(v, ensure_ascii=False) if quote else v}"
    return f"{field}={json.dumps(v)}"


@settings(SETTINGS, max_examples=int(os.environ.get("XRM_GEN_EXAMPLES", 60)) // 2)
@given(case=cases())
def test_generated_round_trip_through_the_cli(two_clis, tmp_path, case):
    xrm, fresh = two_clis
    definition, kinds, rows, _ = case
    name = definition["name"]
    event(f"{len(rows)} records")
    tdef = tmp_path / f"{name}.json"
    tdef.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    data = tmp_path / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for run in (xrm, fresh):
        result = run("types", "add", tdef)
        assert result.exit_code == 0, result.stderr
    result = xrm("import", name, data, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == len(rows)

    listed = json.loads(xrm("records", "list", name, "--json", "--limit", "1000").stdout)
    assert same_rows([r["data"] for r in listed], rows)
    scalars = [f for f, kind in kinds.items() if kind in SCALAR_KINDS and filterable(f)]
    for field in dict.fromkeys(definition.get("indexes", []) + definition.get("unique", []) + scalars):
        for v in [row[field] for row in rows if row.get(field) is not None and not beyond_signed_64(row[field])][:2]:
            arg = where_arg(field, v)
            result = xrm("records", "list", name, "--where", arg, "--json", "--limit", "1000")
            assert result.exit_code == 0, (arg, result.stderr)
            got = [r["id"] for r in json.loads(result.stdout)]
            want = [r["id"] for r in listed if field in r["data"] and same(r["data"][field], v)]
            assert got == want, (arg, got, want)

    declared = set(entity_types.EntityType(copy.deepcopy(definition)).properties())
    csv_path = tmp_path / f"{name}.csv"
    result = xrm("export", name, "--format", "csv", "-o", csv_path)
    assert result.exit_code == 0, result.stderr
    result = fresh("import", name, csv_path, "--json")
    assert result.exit_code == 0, (result.stderr, csv_path.read_text(encoding="utf-8"))
    want = [d for d in ({k: v for k, v in row.items() if k in declared} for row in rows) if d]
    back = json.loads(fresh("records", "list", name, "--json", "--limit", "1000").stdout)
    assert same_rows([r["data"] for r in back], want), (csv_path.read_text(encoding="utf-8"), back, want)


# -- what the generated tests found, pinned ------------------------------------------------
ODD_TYPE = {"name": "odd", "schema": {"type": "object", "properties": {
    "\ufeffid": {"type": "string"}, "": {"type": "string"}, " ": {"type": "integer"}, "b": {"type": "boolean"}}}}
ODD_ROWS = [{"\ufeffid": "a", "": "x", " ": 1, "b": True}, {"": "y"}, {" ": 2}, {"\ufeffid": ""}]


def test_csv_round_trip_of_property_names_csv_cannot_otherwise_carry(plat, tmp_path):
    """A property named "" or " " was exported under a blank header cell, which import took
    for a spreadsheet's unnamed trailing column ("has a value but no name"); one whose name
    starts with U+FEFF lost that character to the byte-order mark import drops."""
    with plat.connection() as conn:
        entity_types.add(conn, ODD_TYPE)
        entity_types.add(conn, {**ODD_TYPE, "name": "odd_copy"})
    with plat.session() as s:
        s.create_many("odd", ODD_ROWS)
    out = io.StringIO()
    with plat.session(write=False) as s:
        exporter.export(s, "odd", out, "csv")
    assert out.getvalue().startswith("\ufeff\ufeffid,,")  # a BOM of its own before the name's
    path = tmp_path / "odd.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with plat.session() as s:
        assert importer.import_file(s, "odd_copy", str(path))["imported"] == len(ODD_ROWS)
    with plat.session(write=False) as s:
        assert same_rows([r.data for r in s.list("odd_copy")], ODD_ROWS)


def test_csv_header_blank_names_a_blank_property_once():
    """The first blank header cell names the property "" (or " "); further blank cells are
    still a spreadsheet's unnamed columns, whose cells must be empty."""
    from xrm_core.csvcells import CsvHeader
    et = entity_types.EntityType(copy.deepcopy(ODD_TYPE))
    header = CsvHeader(et, ["b", "", " ", "", " ", ""])
    assert [c.path for _, c in header.columns] == [["b"], [""], [" "]]
    assert header.unnamed == [3, 4, 5]
    assert header.data(["true", "x", "3", "", " ", ""]) == ({"b": True, "": "x", " ": 3}, [])
    data, errors = header.data(["true", "x", "3", "oops", "", ""])
    assert errors == [{"pointer": "", "message": "column 4 has a value but no name in the header"}]
    # a type without such names: blank header cells are unnamed columns, as before
    plain = entity_types.EntityType({"name": "p", "schema": {"type": "object", "properties": {"b": {}}}})
    assert CsvHeader(plain, ["b", "", " "]).unnamed == [1, 2]
