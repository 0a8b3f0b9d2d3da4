"""Entity types: JSON-Schema-defined kinds of record, versioned in the database.

An :class:`EntityType` wraps a validated definition with its compiled validator and knows
the JSON type of each field (for SQL casts and CSV conversion). The functions below store
types and keep their expression indexes in step with ``indexes`` and ``unique``.
"""
from __future__ import annotations

import copy
import hashlib
from urllib.parse import urldefrag

import xrm_schemas
from sqlalchemy import Connection, delete, func, insert, select, text

from . import db
from .errors import Conflict, DefinitionError, NotFound, ValidationError
from .fields import check_field, field_sql
from .validation import check_definition, compile_schema, errors_of, pointer


class EntityType:
    """A loaded entity type. ``definition`` is the contract JSON; treat it as read-only."""

    def __init__(self, definition: dict, version: int = 1, source: str = "admin"):
        check_definition("entity-type.schema.json", definition, "entity type")
        self.definition = definition
        self.name: str = definition["name"]
        self.version = version
        self.source = source
        self.schema: dict = definition["schema"]
        self.validator = compile_schema(self.schema, f"{xrm_schemas.BASE_URI}{self.name}.type.json")
        for where, f in self._declared_fields():
            if self.property_schema(f) is None:
                raise DefinitionError(f"entity type {self.name!r} names a field its schema does not have",
                                      [{"pointer": where, "message": f"{f!r} is not a property of the schema"}])

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

    def property_schema(self, path: str) -> dict | None:
        """The subschema describing dotted field ``path``, or None if the schema has no such field.

        Follows ``$ref`` (local and to the platform's schemas) and looks through
        ``allOf``/``anyOf``/``oneOf``/``if``/``then``/``else``.
        """
        node = self.schema
        for part in check_field(path):
            node = _find_property(self.schema, node, part, depth=0)
            if node is None:
                return None
        return node

    def field_type(self, path: str) -> str | None:
        """JSON type of a field (``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``) or None."""
        sub = self.property_schema(path)
        return _json_type(self.schema, sub) if sub is not None else None

    def properties(self) -> dict[str, dict]:
        """Top-level properties of the schema (through $ref/allOf), in declaration order."""
        out: dict[str, dict] = {}
        _collect_properties(self.schema, self.schema, out, 0)
        return out

    def has_field(self, path: str) -> bool:
        return self.property_schema(path) is not None

    # -- data --------------------------------------------------------------------------
    def is_valid(self, data) -> bool:
        return self.validator.is_valid(data)

    def errors(self, data, prefix: str = "") -> list[dict]:
        """Every schema error of ``data`` as ``{"pointer", "message"}``."""
        return errors_of(self.validator, data, prefix)

    def validate(self, data, prefix: str = "/data") -> None:
        """Raise ValidationError (every error with its pointer) unless ``data`` is valid."""
        if not self.validator.is_valid(data):
            raise ValidationError(f"{self.name} data is invalid", errors_of(self.validator, data, prefix))

    def to_dict(self) -> dict:
        return {**self.definition, "version": self.version, "source": self.source}


def _resolve(root: dict, node: dict, depth: int) -> dict:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not ref or depth > 20:
        return node
    url, frag = urldefrag(ref)
    doc = root
    if url:
        name = url.rsplit("/", 1)[-1]
        try:
            doc = xrm_schemas.load(name)
        except (FileNotFoundError, OSError):
            return node
    target = doc
    for part in [p for p in frag.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return node
        target = target[part]
    return _resolve(doc, target, depth + 1)


def _find_property(root, node, name, depth):
    if not isinstance(node, dict) or depth > 20:
        return None
    node = _resolve(root, node, depth)
    props = node.get("properties", {})
    if name in props:
        return _resolve(root, props[name], depth)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            found = _find_property(root, sub, name, depth + 1)
            if found is not None:
                return found
    for key in ("if", "then", "else"):
        if isinstance(node.get(key), dict):
            found = _find_property(root, node[key], name, depth + 1)
            if found is not None:
                return found
    return None


def _collect_properties(root, node, out, depth):
    if not isinstance(node, dict) or depth > 20:
        return
    node = _resolve(root, node, depth)
    for k, v in node.get("properties", {}).items():
        out.setdefault(k, _resolve(root, v, depth))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            _collect_properties(root, sub, out, depth + 1)
    for key in ("then", "else"):
        _collect_properties(root, node.get(key), out, depth + 1)


def _json_type(root, sub) -> str | None:
    sub = _resolve(root, sub, 0)
    t = sub.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "enum" in sub and sub["enum"]:
        first = sub["enum"][0]
        t = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(first))
    if t is None and "const" in sub:
        t = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(sub["const"]))
    if t is None:
        for key in ("allOf", "anyOf", "oneOf"):
            for s in sub.get(key, []):
                t = _json_type(root, s)
                if t:
                    return t
    return t


# -- indexes ----------------------------------------------------------------------------
def index_ddl(dialect: str, et: EntityType) -> dict[str, str]:
    """Index name -> CREATE INDEX statement for every declared index and unique key of ``et``.

    Names hash the type, fields and expression, so a changed field type (a changed cast on
    PostgreSQL) yields a new index and the old one is dropped.
    """
    out = {}
    specs = [(False, (f,)) for f in et.definition.get("indexes", [])]
    specs += [(True, key) for key in et.unique_keys()]
    for unique, fields in specs:
        exprs = ", ".join(field_sql(dialect, f, et.field_type(f)) for f in fields)
        digest = hashlib.sha1(f"{et.name}|{unique}|{exprs}".encode()).hexdigest()[:10]
        name = f"xrm_{'uq' if unique else 'ix'}_{digest}_{et.name}"[:63]
        out[name] = (f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} "
                     f"ON xrm_records ({exprs}) WHERE type = '{et.name}'")
    return out


def _apply_indexes(conn: Connection, old: EntityType | None, new: EntityType | None) -> None:
    dialect = conn.dialect.name
    before = index_ddl(dialect, old) if old else {}
    after = index_ddl(dialect, new) if new else {}
    for name in before.keys() - after.keys():
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    if new:
        for key in new.unique_keys():
            _check_no_duplicates(conn, new, key)
    for name in sorted(after.keys() - before.keys()):
        conn.execute(text(after[name]))


def _check_no_duplicates(conn: Connection, et: EntityType, key: tuple[str, ...]) -> None:
    """Refuse a unique key that stored records already violate, naming the duplicates."""
    d = conn.dialect.name
    exprs = [text(field_sql(d, f, et.field_type(f), "xrm_records.data")) for f in key]
    q = (select(*exprs, func.count().label("n"))
         .select_from(db.records).where(db.records.c.type == et.name)
         .group_by(*exprs).having(func.count() > 1).limit(10))
    dups = [r for r in conn.execute(q) if all(v is not None for v in r[:-1])]
    if dups:
        raise Conflict(
            f"cannot make {', '.join(key)} unique for {et.name}: stored records already share values",
            [{"pointer": "/" + "/".join(key), "message": f"value {list(r[:-1])!r} is used by {r[-1]} records"}
             for r in dups])


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


def get(conn: Connection, name: str) -> EntityType:
    row = conn.execute(select(db.entity_types.c.definition, db.entity_types.c.version,
                              db.entity_types.c.source).where(db.entity_types.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown entity type {name!r}")
    return EntityType(row.definition, row.version, row.source)


def add(conn: Connection, definition: dict, source: str = "admin") -> EntityType:
    """Store a new entity type (version 1) and create its indexes."""
    et = EntityType(copy.deepcopy(definition), 1, source)
    if conn.execute(select(db.entity_types.c.name).where(db.entity_types.c.name == et.name)).first():
        raise Conflict(f"entity type {et.name!r} already exists; use update")
    now = db.utcnow()
    conn.execute(insert(db.entity_types).values(name=et.name, version=1, definition=et.definition,
                                                source=source, updated_at=now))
    conn.execute(insert(db.entity_type_versions).values(name=et.name, version=1, definition=et.definition,
                                                        source=source, created_at=now))
    _apply_indexes(conn, None, et)
    return et


def impact(conn: Connection, new: EntityType, max_ids: int = 100, batch: int = 2000) -> dict:
    """Check every stored record of ``new.name`` against the new schema (streamed in batches).

    Returns ``{"type", "checked", "invalid": count, "records": [{"id", "errors": [...]}]}``
    with at most ``max_ids`` records listed.
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
        for rid, data in rows:
            checked += 1
            if not new.is_valid(data):
                invalid += 1
                if len(listed) < max_ids:
                    listed.append({"id": rid, "errors": new.errors(data, "/data")})
        last = rows[-1][0]
    return {"type": new.name, "checked": checked, "invalid": invalid, "records": listed}


def update(conn: Connection, definition: dict, dry_run: bool = False, source: str | None = None) -> dict:
    """Replace a type's definition if every stored record stays valid.

    Returns the impact report plus ``applied`` and the new ``version``. Refuses (raises
    ValidationError carrying the report) when any record would become invalid.
    """
    new = EntityType(copy.deepcopy(definition), 0, source or "admin")
    old = get(conn, new.name)
    report = impact(conn, new)
    report.update(applied=False, version=old.version, changed=old.definition != new.definition)
    if report["invalid"]:
        errors = [{"pointer": f"/records/{r['id']}{e['pointer']}", "message": e["message"]}
                  for r in report["records"] for e in r["errors"]]
        raise ValidationError(
            f"type change refused: {report['invalid']} of {report['checked']} stored {new.name} "
            f"records would become invalid", errors, impact=report)
    if dry_run or not report["changed"]:
        return report
    version = old.version + 1
    now = db.utcnow()
    src = source or old.source
    _apply_indexes(conn, old, new)
    conn.execute(db.entity_types.update().where(db.entity_types.c.name == new.name)
                 .values(version=version, definition=new.definition, source=src, updated_at=now))
    conn.execute(insert(db.entity_type_versions).values(name=new.name, version=version,
                                                        definition=new.definition, source=src,
                                                        created_at=now))
    report.update(applied=True, version=version)
    return report


def remove(conn: Connection, name: str) -> None:
    """Delete a type that has no records and no relationship type naming it."""
    et = get(conn, name)
    n = conn.execute(select(func.count()).select_from(db.records).where(db.records.c.type == name)).scalar()
    if n:
        raise Conflict(f"entity type {name!r} still has {n} records; delete them first")
    for rname, rdef in conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.definition)):
        if name in (rdef["source"], rdef["target"]):
            raise Conflict(f"entity type {name!r} is used by relationship type {rname!r}; remove that first")
    _apply_indexes(conn, et, None)
    conn.execute(delete(db.entity_types).where(db.entity_types.c.name == name))
