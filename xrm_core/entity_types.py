"""Entity types: JSON-Schema-defined kinds of record, versioned in the database.

An :class:`EntityType` wraps a validated definition with its compiled validator and knows
the JSON type of each field (for SQL casts and CSV conversion). The functions below store
types and keep their expression indexes in step with ``indexes`` and ``unique``.
"""
from __future__ import annotations

import copy
import hashlib
import re

import orjson
import xrm_schemas
from sqlalchemy import Connection, String, delete, exists, func, insert, literal, literal_column, select, text

from . import db, field_values, schema_types, schema_uris
from .errors import Conflict, DefinitionError, NotFound, ValidationError
from .fields import FIELD_RE, field_sql, value_at
from .validation import ALL_ERRORS_UP_TO, all_errors_listed, check_definition, check_nesting, compile_schema, \
    errors_of, pointer


class EntityType:
    """A loaded entity type. ``definition`` is the contract JSON; treat it as read-only."""

    def __init__(self, definition: dict, version: int = 1, source: str = "admin"):
        check_definition("entity-type.schema.json", definition, "entity type")
        self.definition = definition
        self.name: str = definition["name"]
        self.version = version
        self.source = source
        self.schema: dict = definition["schema"]
        #: The schema's base URI (where it has no ``$id``): relative references resolve against it.
        self.base_uri = f"{xrm_schemas.BASE_URI}{self.name}.type.json"
        self.validator = compile_schema(self.schema, self.base_uri)
        # Field types, indexes and filters resolve references as the validator does.
        schema_types.read_with_base(self.schema, self.base_uri, self)
        #: field path -> JSON type, for the paths the schema has (lists ask on every call;
        #: unknown paths are not kept, so no caller can grow it without bound)
        self._field_types: dict[str, str | None] = {}
        missing = [{"pointer": where, "message": f"{f!r} is not a property of the schema"}
                   for where, f in self._declared_fields() if self.property_schema(f) is None]
        if missing:
            raise DefinitionError(f"entity type {self.name!r} names a field its schema does not have", missing)

    def key_text_errors(self, data: dict, prefix: str = "/data") -> list[dict]:
        """Errors for values the indexes cannot hold alike on both engines, with their
        pointers: a string value of an ``indexes`` or ``unique`` field longer than
        :data:`KEY_TEXT_LIMIT` bytes (UTF-8), or an integer of a ``unique`` field outside
        the signed 64-bit range.

        PostgreSQL refuses an index entry over 2,704 bytes with a database error; SQLite
        takes any length. One limit on both engines keeps them alike and the error clear.
        """
        out = []
        for f in self._key_fields():
            v = value_at(data, f)
            # Fast: no string under a quarter of the limit in characters can exceed it in bytes.
            if isinstance(v, str) and len(v) * 4 > KEY_TEXT_LIMIT and len(v.encode()) > KEY_TEXT_LIMIT:
                out.append({"pointer": prefix + pointer(f.split(".")),
                            "message": f"{len(v.encode()):,} bytes of text in an indexed field: at most "
                                       f"{KEY_TEXT_LIMIT:,} (UTF-8)"})
            elif type(v) is int and not -2**63 <= v < 2**63 and f in self._unique_fields():
                # Records may hold integers up to 2**64 - 1, but SQLite reads one beyond its
                # signed 64 bits as an approximate REAL: 2**63 and 2**63 + 1 would be one
                # key there and two on PostgreSQL.
                out.append({"pointer": prefix + pointer(f.split(".")),
                            "message": f"{v} in a unique field: at most {2**63 - 1} and at least {-2**63} "
                                       "(signed 64 bits; store larger numbers as strings)"})
        return out

    def _unique_fields(self) -> set[str]:
        """Every field of a ``unique`` key (cached)."""
        fields = self.__dict__.get("_unique_fields_cache")
        if fields is None:
            fields = self.__dict__["_unique_fields_cache"] = {f for key in self.unique_keys() for f in key}
        return fields

    def _key_fields(self) -> list[str]:
        """Every field of ``indexes`` and ``unique``, once each (cached)."""
        fields = self.__dict__.get("_key_fields_cache")
        if fields is None:
            fields = list(dict.fromkeys([*self.definition.get("indexes", []),
                                         *(f for key in self.unique_keys() for f in key)]))
            self.__dict__["_key_fields_cache"] = fields
        return fields

    def check_keys(self) -> None:
        """Refuse ``indexes`` and ``unique`` fields the database cannot compare alike on both
        engines (DefinitionError with a pointer per field). Checked when a type is added or
        changed, not when a stored one is loaded.

        An array or object has no single SQL value to index. A unique key also needs one
        scalar type: SQLite compares ``1`` with ``true`` as equal and PostgreSQL ``1`` with
        ``"1"``, so a field that may hold either would be unique differently per engine.
        A unique key given twice (``"a"`` and ``["a"]``, in any order of its fields) is refused too.
        """
        problems = []
        for where, f in self._declared_fields():
            if where == "/title_field":
                continue
            kind = self.field_type(f)
            if kind in ("array", "object"):
                problems.append({"pointer": where, "message": f"{f!r} is an {kind}: indexes and unique keys take "
                                                              "fields of one scalar type (string, number, integer "
                                                              "or boolean)"})
            elif kind is None and where.startswith("/unique"):
                problems.append({"pointer": where, "message": f"{f!r} may hold values of several JSON types: give "
                                                              "it one \"type\" (string, number, integer or boolean; "
                                                              "null is allowed) to make it unique"})
        if problems:
            raise DefinitionError(f"entity type {self.name!r} has index or unique fields the database cannot "
                                  "compare", problems)
        first: dict[frozenset, int] = {}
        for i, key in enumerate(self.unique_keys()):
            # "a" and ["a"], or ["a", "b"] and ["b", "a"]: one key said twice, refused as
            # "indexes" refuses a field named twice.
            j = first.setdefault(frozenset(key), i)
            if j != i:
                problems.append({"pointer": f"/unique/{i}", "message": f"the same fields as /unique/{j}: "
                                                                       "give each unique key once"})
        if problems:
            raise DefinitionError(f"entity type {self.name!r} gives a unique key more than once", problems)

    def check_value_labels(self) -> None:
        """Refuse ``value_labels`` for a field the schema does not have, or for a value a field
        with an ``enum`` or ``const`` cannot hold (DefinitionError with a pointer per label).
        A text value is its own key, any other value its JSON text (``1``, ``true``)."""
        problems = []
        for f, labels in self.definition.get("value_labels", {}).items():
            sub = self.property_schema(f)
            if sub is None:
                problems.append({"pointer": pointer(["value_labels", f]),
                                 "message": f"{f!r} is not a property of the schema"})
                continue
            values = self.allowed_values(f)  # every oneOf branch's values
            if values is None:
                continue
            keys = {value_label_key(v) for v in values}
            problems += [{"pointer": pointer(["value_labels", f, key]),
                          "message": f"{key!r} is not one of the values of {f!r}"}
                         for key in labels if key not in keys]
        if problems:
            raise DefinitionError(f"entity type {self.name!r} labels values its fields cannot hold", problems)

    # -- fields ------------------------------------------------------------------------
    def _declared_fields(self):
        d = self.definition
        if "title_field" in d:
            yield "/title_field", d["title_field"]
        for i, f in enumerate(d.get("indexes", [])):
            yield f"/indexes/{i}", f
        for i, u in enumerate(d.get("unique", [])):
            for j, f in enumerate([u] if isinstance(u, str) else u):
                yield (f"/unique/{i}" if isinstance(u, str) else f"/unique/{i}/{j}"), f

    @property
    def label(self):
        return self.definition.get("label", self.name)

    @property
    def title_field(self) -> str | None:
        return self.definition.get("title_field")

    def unique_keys(self) -> list[tuple[str, ...]]:
        """Each unique constraint as a tuple of fields."""
        return [(u,) if isinstance(u, str) else tuple(u) for u in self.definition.get("unique", [])]

    def allowed_values(self, field: str) -> list | None:
        """The values ``field`` may hold wherever the schema declares it, or None (free):
        :func:`xrm_core.field_values.allowed_values`, kept per field for this version of the
        type — list pages ask it for every filter field on every request."""
        cache = self.__dict__.setdefault("_allowed_values", {})
        if field not in cache:
            cache[field] = field_values.allowed_values(self.schema, field)
        found = cache[field]
        return None if found is None else list(found)

    def property_schema(self, path: str) -> dict | None:
        """The subschema describing field ``path``, or None if the schema has no such field.

        ``path`` is a field (:data:`xrm_core.fields.FIELD_RE`: ``address.city``,
        ``First Name``), a dotted path into nested objects; any other string (``"a.b "``,
        ``'say "hi"'``) names one top-level property as written, so every name
        :meth:`properties` lists can be looked up. Only fields can be indexed or filtered on
        (:func:`xrm_core.fields.check_field`).

        Follows ``$ref`` and ``$dynamicRef`` as the validator resolves them (JSON pointers,
        anchors, ``$id``s of embedded resources, the platform's schemas), with the keywords
        beside them, and looks through ``allOf``/``anyOf``/``oneOf``/``if``/``then``/``else``
        and ``dependentSchemas``.
        """
        if not isinstance(path, str):
            return None
        node = self.schema
        for part in _path_parts(path):
            node = schema_types.find_property(self.schema, node, part, depth=0)
            if node is None:
                return None
        return node

    def field_type(self, path: str) -> str | None:
        """JSON type of a field (``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``) or None."""
        try:
            return self._field_types[path]
        except (KeyError, TypeError):
            pass
        if self.property_schema(path) is None:
            return None
        found = self._field_types[path] = schema_types.json_type_of(
            schema_types.field_types(self.schema, self.schema, _path_parts(path)))
        return found

    def not_a_field(self, path) -> str:
        """Why ``path`` names no field of this type, for an error message. A top-level
        property whose own name has a dot in it (``"a.b"``) is listed by :meth:`properties`
        but is no field: a dot always separates a path into nested objects, in filters,
        sorting, indexes and KPIs alike — the message says so and how to get a usable name."""
        said = f"{path!r} is not a field of {self.name}"
        if isinstance(path, str) and "." in path and self.property_type(path) is not None:
            said += (f": a dot separates a path into nested objects, so the property named {path!r} "
                     f"cannot be named here; rename it (e.g. {path.replace('.', '_')!r}) to filter or sort by it")
        return said

    def property_type(self, name: str) -> str | None:
        """JSON type of the top-level property ``name`` taken as written — a key of
        :meth:`properties`, even one with a dot in it (``"a.b"``) — or None."""
        if not isinstance(name, str) or schema_types.find_property(self.schema, self.schema, name, 0) is None:
            return None
        return schema_types.json_type_of(schema_types.field_types(self.schema, self.schema, [name]))

    def properties(self) -> dict[str, dict]:
        """Top-level properties of the schema (through $ref/allOf), in declaration order."""
        out: dict[str, dict] = {}
        schema_types.collect_properties(self.schema, self.schema, out, 0)
        return out

    def has_field(self, path: str) -> bool:
        if isinstance(path, str) and path in self._field_types:
            return True
        return self.property_schema(path) is not None

    # -- data --------------------------------------------------------------------------
    def is_valid(self, data) -> bool:
        return self.validator.is_valid(data)

    def errors(self, data, prefix: str = "") -> list[dict]:
        """Every schema error of ``data`` as ``{"pointer", "message"}``.

        In 2020-12 a subschema that fails keeps its properties from counting as evaluated,
        so with ``allOf: [{properties: {amount: …}}]`` and ``unevaluatedProperties: false``
        one bad ``amount`` also makes every property of that ``allOf`` part "unevaluated".
        Those echoes of a real error are left out at every depth (nested objects, objects in
        arrays, behind a ``$ref``, in ``then``/``else``, and items under ``unevaluatedItems``); a
        property or item no applied subschema declares is still reported
        (:mod:`xrm_core.unevaluated`).
        """
        return errors_of(self.validator, data, prefix, self.schema)

    def validate(self, data, prefix: str = "/data") -> None:
        """Raise ValidationError (every error with its pointer) unless ``data`` is valid."""
        if not self.validator.is_valid(data):
            raise self.invalid(data, prefix)

    def invalid(self, data, prefix: str = "/data") -> ValidationError:
        """The ValidationError of invalid ``data``: every error with its pointer, or for data
        past ``validation.ALL_ERRORS_UP_TO`` bytes its first, saying so in the message and
        with ``errors_incomplete`` (a member of the REST API's problem): a client fixing the
        one error listed would otherwise take its data for right."""
        errors = self.errors(data, prefix)
        if all_errors_listed(data):
            return ValidationError(f"{self.name} data is invalid", errors)
        return ValidationError(f"{self.name} data is invalid; only its first error is listed: data larger than "
                               f"{ALL_ERRORS_UP_TO // 1024} KiB is checked up to its first error", errors,
                               errors_incomplete=True)

    def to_dict(self) -> dict:
        return {**self.definition, "version": self.version, "source": self.source}


def value_label_key(value) -> str:
    """The key of ``value`` in a ``value_labels`` object: a text value is its own key, any
    other scalar its JSON text (``1``, ``true``)."""
    if isinstance(value, str):
        return value
    # str() for integers: orjson takes none beyond 64 bits
    return str(value) if type(value) is int else orjson.dumps(value).decode()


def dotted_properties(schema) -> list[str]:
    """Top-level properties of entity schema ``schema`` whose names hold a dot (``"a.b"``):
    stored and validated, but no filter, sort, index or KPI can name them
    (:meth:`EntityType.not_a_field`)."""
    if not isinstance(schema, dict):
        return []
    out: dict[str, dict] = {}
    schema_types.collect_properties(schema, schema, out, 0)
    return [name for name in out if "." in name]


def _path_parts(path: str) -> list[str]:
    """A field split at its dots; any other name is one property as written."""
    return path.split(".") if FIELD_RE.match(path) else [path]


#: Most bytes of text an indexed or unique field may hold (PostgreSQL's B-tree entries
#: end at 2,704 bytes, the record's id and the other key fields included).
KEY_TEXT_LIMIT = 2000


# -- indexes ----------------------------------------------------------------------------
def index_ddl(dialect: str, et: EntityType) -> dict[str, str]:
    """Index name -> CREATE INDEX statement for every declared index and unique key of ``et``.

    Each is a partial expression index (``WHERE type = '<name>'``) on
    ``(type, <field expressions>[, id])``, the expressions built by the same function as list
    queries (:func:`xrm_core.fields.field_sql`) so the planner matches them. ``type`` leads
    although the predicate fixes it: without statistics SQLite's planner otherwise prefers
    the (type, id) index, whose equality on ``type`` it can see. Plain indexes end with
    ``id``, the list order, so an equality filter reads its first page in order from the
    index alone. Names hash the type, the columns and uniqueness: a changed field type (a
    changed cast on PostgreSQL) yields a new name, so the old index is dropped and the new
    one built.
    """
    return {name: ddl for name, ddl, _ in _index_specs(dialect, et)}


def _index_specs(dialect: str, et: EntityType) -> list[tuple[str, str, int | None]]:
    """(name, DDL, position in ``unique`` or None) of each index of ``et``."""
    from .fields import sql_type  # date-time fields are indexed by their instant, as filtered
    specs = [(None, (f,)) for f in et.definition.get("indexes", [])]
    specs += list(enumerate(et.unique_keys()))
    out = []
    for position, fields in specs:
        unique = position is not None
        # SQLite needs the leading type column to use a partial index without statistics;
        # PostgreSQL would drop `type = 'T'` from the index condition (the index's WHERE
        # already implies it) and then scan the type's whole index, so it goes without.
        lead = ["type"] if dialect == "sqlite" else []
        columns = ", ".join(lead + [field_sql(dialect, f, sql_type(et, f)) for f in fields]
                            + ([] if unique else ["id"]))
        digest = hashlib.sha1(f"{et.name}|{unique}|{columns}".encode()).hexdigest()[:10]
        name = f"xrm_{'uq' if unique else 'ix'}_{digest}_{et.name}"[:63]
        out.append((name, f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} "
                          f"ON xrm_records ({columns}) WHERE type = '{et.name}'", position))
    return out


#: The ``WHERE type = '<name>'`` of a per-type index as the catalogs show it: SQLite keeps
#: the statement as written, PostgreSQL renders ``WHERE ((type)::text = '<name>'::text)``.
_INDEX_TYPE_RE = re.compile(r"WHERE\s+\(*\s*\(?type\)?(?:::\w+)?\s*=\s*'([a-z][a-z0-9_]*)'(?:::\w+)?\s*\)*\s*$")


def stored_indexes(conn: Connection, type_name: str) -> set[str]:
    """Names of the per-type indexes the database holds for ``type_name`` (read from its catalog)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND tbl_name = 'xrm_records' AND name LIKE 'xrm%'"))
    else:
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'xrm_records' "
                                 "AND schemaname = current_schema() AND indexname LIKE 'xrm%'"))
    out = set()
    for name, sql in rows:
        m = _INDEX_TYPE_RE.search(sql or "")
        if name.startswith(("xrm_ix_", "xrm_uq_")) and m and m.group(1) == type_name:
            out.add(name)
    return out


def apply_indexes(conn: Connection, name: str, new: EntityType | None, check_only: bool = False) -> None:
    """Make the database's indexes for type ``name`` exactly those of ``new`` (none if None).

    Reads what exists from the catalog rather than trusting the old definition, so a missing
    or stale index is repaired too. New unique keys are checked for duplicates before any DDL
    (Conflict naming the values); with ``check_only`` nothing else happens.
    """
    existing = stored_indexes(conn, name)
    specs = _index_specs(conn.dialect.name, new) if new else []
    for index, _, position in specs:
        if position is not None and index not in existing:
            _check_no_duplicates(conn, new, new.unique_keys()[position], position)
    if check_only:
        return
    wanted = {index: ddl for index, ddl, _ in specs}
    for index in sorted(existing - wanted.keys()):
        conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    for index in sorted(wanted.keys() - existing):
        conn.execute(text(wanted[index]))


def _check_no_duplicates(conn: Connection, et: EntityType, key: tuple[str, ...], position: int) -> None:
    """Refuse a unique key that stored records already violate, naming the values and records."""
    from .fields import sql_type  # as the unique index compares them: date-times by instant
    d = conn.dialect.name
    kinds = {f: sql_type(et, f) for f in key}
    exprs = [literal_column(field_sql(d, f, kinds[f], "xrm_records.data")) for f in key]
    q = (select(*exprs, func.count().label("n"))
         .select_from(db.records).where(db.records.c.type == et.name, *[e.isnot(None) for e in exprs])
         .group_by(*exprs).having(func.count() > 1).limit(10))
    dups = conn.execute(q).all()
    if not dups:
        return
    problems = []
    for row in dups:
        values = tuple(row[:-1])
        found = conn.execute(select(db.records.c.id, db.records.c.data).where(
            db.records.c.type == et.name, *[e == v for e, v in zip(exprs, values)])
            .order_by(db.records.c.id).limit(5)).all()
        ids = [r.id for r in found]
        shown = ", ".join(_shown_key(f, v, kinds[f], [r.data for r in found]) for f, v in zip(key, values))
        problems.append({"pointer": f"/unique/{position}",
                         "message": f"{shown} is shared by {row[-1]} records ({', '.join(ids)}"
                                    + (", …)" if row[-1] > len(ids) else ")")})
    raise Conflict(f"cannot make {' + '.join(key)} unique for {et.name}: stored records share values",
                   problems)


def _shown_key(field: str, v, kind: str | None, data: list) -> str:
    """``field=value`` of a duplicate key; for a date-time field, the instant and each stored
    spelling of it (``slot="2026-03-01T02:00:00+03:30" / "2026-02-28T22:30:00Z" (one instant,
    2026-02-28T22:30:00.000000Z)``), so the admin finds the records by the text they hold."""
    from .instants import INSTANT
    if kind != INSTANT:
        return f"{field}={_shown(v, kind)}"
    spellings = list(dict.fromkeys(value_at(d, field) for d in data))
    return f"{field}={' / '.join(_shown(s, None) for s in spellings)} (one instant, {v})"


def _shown(v, kind: str | None) -> str:
    """A value read through a field expression, shown as the JSON value it was stored as."""
    # PostgreSQL returns numerics as Decimal, SQLite booleans as 0/1.
    from decimal import Decimal
    if isinstance(v, Decimal):
        v = int(v) if v == v.to_integral_value() else float(v)
    elif kind == "boolean" and v in (0, 1):
        v = bool(v)
    return orjson.dumps(v).decode()


# -- storage ----------------------------------------------------------------------------
def load_all(conn: Connection) -> dict[str, EntityType]:
    """Every stored entity type, by name."""
    rows = conn.execute(select(db.entity_types.c.definition, db.entity_types.c.version,
                               db.entity_types.c.source))
    out = {}
    for definition, version, source in rows:
        et = EntityType(definition, version, source)
        out[et.name] = et
    return out


def get(conn: Connection, name: str, lock: bool = False) -> EntityType:
    """The stored entity type ``name`` (NotFound if there is none).

    ``lock`` holds its row until the transaction ends (PostgreSQL; SQLite writers are
    serialised anyway), so two concurrent changes of one type cannot both apply.
    """
    q = select(db.entity_types.c.definition, db.entity_types.c.version,
               db.entity_types.c.source).where(db.entity_types.c.name == name)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFound(f"unknown entity type {name!r}")
    return EntityType(row.definition, row.version, row.source)


def add(conn: Connection, definition: dict, source: str = "admin") -> EntityType:
    """Store a new entity type and create its indexes.

    Its version is 1, or one more than the last version of a removed type of the same name:
    versions never repeat, so the old definitions stay in the history and no cache keyed by
    (name, version) can serve a removed definition.
    """
    check_nesting(definition, "entity type")  # before the copy, which recurses
    et = EntityType(copy.deepcopy(definition), 1, source)
    et.check_keys()
    et.check_value_labels()
    schema_uris.check_type(et)
    if conn.execute(select(db.entity_types.c.name).where(db.entity_types.c.name == et.name)).first():
        raise Conflict(f"entity type {et.name!r} already exists; use update")
    V = db.entity_type_versions
    et.version = (conn.execute(select(func.max(V.c.version)).where(V.c.name == et.name)).scalar() or 0) + 1
    apply_indexes(conn, et.name, et)
    _store(conn, et, insert_current=True)
    return et


def last_definition_from(conn: Connection, name: str, source: str | None) -> dict | None:
    """The definition of the latest version of type ``name`` made by ``source`` (a plugin's
    name, or ``admin``; None: any plugin), or None."""
    V = db.entity_type_versions
    made_by = V.c.source != "admin" if source is None else V.c.source == source
    return conn.execute(select(V.c.definition).where(V.c.name == name, made_by)
                        .order_by(V.c.version.desc()).limit(1)).scalar()


def _store(conn: Connection, et: EntityType, insert_current: bool) -> None:
    now = db.utcnow()
    values = dict(version=et.version, definition=et.definition, source=et.source)
    if insert_current:
        conn.execute(insert(db.entity_types).values(name=et.name, updated_at=now, **values))
    else:
        conn.execute(db.entity_types.update().where(db.entity_types.c.name == et.name)
                     .values(updated_at=now, **values))
    conn.execute(insert(db.entity_type_versions).values(name=et.name, created_at=now, **values))


def impact(conn: Connection, new: EntityType, max_ids: int = 100, batch: int = 2000,
           old: EntityType | None = None) -> dict:
    """Check every stored record of ``new.name`` against the new schema (streamed in batches),
    and the text of its ``indexes`` and ``unique`` fields against :data:`KEY_TEXT_LIMIT` (a
    field newly indexed must not hold more than a write may store in it).

    Given the ``old`` definition, a record counts only for the errors the change brings: one
    the old definition finds too (a value stored before a release refused it, such as a
    date-time in the year 10000 in UTC) is not this change's doing, and refusing the change
    for it would refuse every change of the type — and ``xrm init``, which syncs them all.

    Returns ``{"type", "checked", "invalid": count, "records": [{"id", "errors": [...]}]}``
    with at most ``max_ids`` records listed; error pointers start with ``/data``.
    """
    checked = invalid = 0
    listed: list[dict] = []
    last = ""
    while True:
        rows = conn.execute(select(db.records.c.id, db.records.c.data)
                            .where(db.records.c.type == new.name, db.records.c.id > last)
                            .order_by(db.records.c.id).limit(batch)).all()
        if not rows:
            break
        if not checked and len(rows) == batch:
            # More pages to come: without statistics (a table PostgreSQL never analyzed) each
            # page read and sorted every record of the type after ``last`` (see exporter.export).
            db.GrowthStatistics(conn, "xrm_records", reads=("xrm_records",))
        for rid, data in rows:
            checked += 1
            too_long = new.key_text_errors(data)
            if too_long or not new.is_valid(data):
                errors = None
                if old is not None and not old.is_valid(data):
                    before = old.errors(data, "/data")
                    errors = [e for e in new.errors(data, "/data") if e not in before]
                    if not errors and not too_long:
                        continue  # invalid as it was: not this change's doing
                invalid += 1
                if len(listed) < max_ids:
                    errors = new.errors(data, "/data") if errors is None else errors
                    listed.append({"id": rid, "errors": sorted(errors + too_long, key=lambda e: e["pointer"])})
        last = rows[-1][0]
    return {"type": new.name, "checked": checked, "invalid": invalid, "records": listed}


def update(conn: Connection, definition: dict, dry_run: bool = False, source: str | None = None,
           if_version: int | None = None) -> dict:
    """Replace a type's definition if every stored record stays valid.

    Returns the impact report ``{"type", "checked", "invalid", "records", "changed",
    "applied", "version"}``. Refuses, changing nothing, when any stored record would become
    invalid (ValidationError whose ``extra["impact"]`` is the report and whose errors point
    at ``/records/<id>/data/...``) or a new unique key is already violated (Conflict, with
    the report and the duplicates as its ``errors`` in ``extra["impact"]``). With
    ``dry_run`` the same checks run and nothing is applied. An unchanged definition keeps
    its version (its indexes are still repaired if missing). With ``if_version``, refuses
    (Conflict at ``/version``) unless the stored type is at that version: the definition was
    edited from that version, and another change since would be undone silently.
    """
    check_nesting(definition, "entity type")  # before the copy, which recurses
    new = EntityType(copy.deepcopy(definition), 0, source or "admin")
    new.check_keys()
    new.check_value_labels()
    try:
        old = get(conn, new.name, lock=not dry_run)
    except NotFound:
        raise NotFound(f"unknown entity type {new.name!r}: add it first") from None
    if if_version is not None and if_version != old.version:
        raise Conflict(f"entity type {new.name!r} is at version {old.version}, not {if_version} as the "
                       "definition says: it changed since; show it again and redo the change",
                       [{"pointer": "/version", "message": f"stored version is {old.version}"}])
    if new.definition != old.definition:
        # An unchanged definition stored before these checks keeps working: `xrm init` syncs a
        # plugin's type it still declares as it is (schema_uris.stored_type_warnings says what to fix).
        schema_uris.check_type(new)
    report = impact(conn, new, old=old)
    report.update(changed=old.definition != new.definition, applied=False, version=old.version)
    if report["invalid"]:
        errors = [{"pointer": f"/records/{r['id']}{e['pointer']}", "message": e["message"]}
                  for r in report["records"] for e in r["errors"]]
        verb = "would be refused" if dry_run else "refused"
        listed = len(report["records"])
        shown = f" (the first {listed} are listed)" if listed < report["invalid"] else ""
        try:
            apply_indexes(conn, new.name, new, check_only=True)
        except Conflict as e:
            # A new unique key they break too is said now, not as a second refusal once the
            # records are fixed (the duplicates as the report's errors, as below).
            errors += e.errors
            report["errors"] = e.errors
            shown += f", and {e.message}"
        raise ValidationError(f"type change {verb}: {report['invalid']} of {report['checked']} stored "
                              f"{new.name} records would become invalid{shown}", errors, impact=report)
    try:
        apply_indexes(conn, new.name, new, check_only=dry_run)
    except Conflict as e:
        # A new unique key stored records already break: the report goes with the refusal
        # too (``types update --json`` prints it), the duplicates being its errors.
        raise Conflict(e.message, e.errors, impact={**report, "errors": e.errors}) from None
    if dry_run or not report["changed"]:
        return report
    new.version = old.version + 1
    # The version says who made it: a plugin's sync, or an admin (xrm init then keeps an
    # admin's change to a plugin's type while the plugin declares what it declared before).
    new.source = source or "admin"
    _store(conn, new, insert_current=False)
    report.update(applied=True, version=new.version)
    return report


def undeclared_values(conn: Connection, old: EntityType, new: EntityType) -> dict[str, int]:
    """How many stored records hold each top-level property ``old`` declares and ``new`` no
    longer allows by name (dropped from ``properties``, no ``patternProperties`` taking it);
    properties no record holds are left out. Such values stay valid — an open schema allows
    any name — and are kept as stored, but an admin removing a field should hear they are
    there (a CSV export leaves them out)."""
    gone = [n for n in old.properties() if schema_types.find_property(new.schema, new.schema, n, 0) is None]
    R = db.records
    out = {}
    for name in gone:
        if conn.dialect.name == "postgresql":
            held = R.c.data.op("?")(literal(name, String()))  # a text key, not a JSONB value
        else:  # json_each, not a JSON path: a name may hold any character
            keys = func.json_each(R.c.data).table_valued("key")
            held = exists(select(keys.c.key).where(keys.c.key == name))
        n = conn.execute(select(func.count()).select_from(R).where(R.c.type == new.name, held)).scalar()
        if n:
            out[name] = n
    return out


def remove(conn: Connection, name: str) -> int:
    """Delete a type that has no records and no relationship type naming it, with its indexes
    and the roles' grants on it; returns how many grants went.

    Its past definitions stay in ``xrm_entity_type_versions``. The grants go with the type:
    kept, they would apply again to whatever type is later added under the same name.
    """
    get(conn, name)
    n = conn.execute(select(func.count()).select_from(db.records).where(db.records.c.type == name)).scalar()
    if n:
        raise Conflict(f"entity type {name!r} still has {n} records; delete them first")
    for rname, rdef in conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.definition)):
        if name in (rdef["source"], rdef["target"]):
            raise Conflict(f"entity type {name!r} is used by relationship type {rname!r}; remove that first")
    apply_indexes(conn, name, None)
    conn.execute(delete(db.entity_types).where(db.entity_types.c.name == name))
    return conn.execute(delete(db.grants).where(db.grants.c.entity_type == name)).rowcount
