"""KPIs: declarative measures compiled to one SQL aggregate, and Python KPI objects.

Either kind runs inside the database over the records the caller may read, within the period
``--from``/``--to`` (inclusive calendar dates on the KPI's ``time_field``), optionally grouped
by a field. Result (contract): ``{"kpi", "value", "unit", "n", "from", "to", "groups":
[{"key", "value", "n"}]}``; ``value`` is null when ``n`` is 0.
"""
from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, case, func, insert, literal_column, select, true
from sqlalchemy.sql.elements import ColumnElement

from . import db
from .errors import Conflict, DefinitionError, NotFound, ValidationError, XrmError
from .fields import NUMERIC, field_expr, type_literal
from .filters import compile_filter
from .plugins import call_each
from .validation import check_definition

if TYPE_CHECKING:
    from .session import Session

R = db.records
DURATION_DIVISOR = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class KPI:
    """Base class of Python KPIs, for what the declarative form cannot say.

    Set ``name``, ``label``, ``unit``, ``higher_is_better``, ``description`` (with the
    formula) and optionally ``entity`` and ``time_field``; implement :meth:`compute`, which
    must build its queries from ``ctx`` so scope and period apply.
    """

    name: str = ""
    label: str | dict = ""
    unit: str = ""
    higher_is_better: bool = True
    description: str = ""
    entity: str | None = None
    time_field: str | None = None

    def compute(self, ctx: "KPIContext") -> dict:
        """Return ``{"value": number|None, "n": int, "groups": [{"key", "value", "n"}]}``."""
        raise NotImplementedError

    def check(self, known_types: set[str]) -> None:
        """Called at registration; raise DefinitionError if the KPI cannot work."""
        if not self.name:
            raise DefinitionError(f"{type(self).__name__} has no name")

    def to_dict(self) -> dict:
        out = {"name": self.name, "label": self.label or self.name, "unit": self.unit,
               "higher_is_better": self.higher_is_better, "description": self.description, "kind": "python"}
        if self.entity:
            out["entity"] = self.entity
        if self.time_field:
            out["time_field"] = self.time_field
        return out


class KPIContext:
    """What a KPI computes within: the session (scope), the period and the grouping field."""

    def __init__(self, session: "Session", kpi, date_from: str | None, date_to: str | None, by: str | None):
        self.session = session
        self.kpi = kpi
        self.date_from = date_from
        self.date_to = date_to
        self.by = by
        self.dialect = session.dialect

    def entity_type(self, name: str):
        return self.session.entity_type(name)

    def field(self, entity: str, path: str) -> ColumnElement:
        """SQL expression of a data field of ``entity`` (typed by its schema)."""
        et = self.entity_type(entity)
        if not et.has_field(path):
            raise ValidationError(f"{path!r} is not a field of {entity}", [{"pointer": f"/{path}", "message": "unknown field"}])
        return field_expr(self.dialect, path, et.field_type(path))

    def base(self, entity: str, where: dict | None = None, time_field: str | None = None) -> ColumnElement:
        """Condition: records of ``entity``, readable by the caller, matching ``where`` and,
        when ``time_field`` is given, inside the period."""
        et = self.entity_type(entity)
        conds = [R.c.type == type_literal(et.name), self.session.actor.clause(et.name, "read")]
        if where:
            conds.append(compile_filter(self.dialect, et, where))
        if time_field:
            conds.append(self.period(entity, time_field))
        return and_(*conds)

    def period(self, entity: str, time_field: str) -> ColumnElement:
        """``time_field`` within [from, to] inclusive (ISO strings compared byte-wise)."""
        expr = field_expr(self.dialect, time_field, "string")
        if self.dialect == "postgresql":
            expr = expr.collate("C")
        conds = []
        if self.date_from:
            conds.append(expr >= self.date_from)
        if self.date_to:
            conds.append(expr < (date.fromisoformat(self.date_to) + timedelta(days=1)).isoformat())
        if conds:
            conds.append(expr.isnot(None))
        return and_(*conds) if conds else true()

    def group_key(self, entity: str) -> ColumnElement | None:
        if not self.by:
            return None
        et = self.entity_type(entity)
        if not et.has_field(self.by):
            raise ValidationError(f"cannot group by {self.by!r}: not a field of {entity}",
                                  [{"pointer": "/by", "message": "unknown field"}])
        return field_expr(self.dialect, self.by, et.field_type(self.by))

    def scalar(self, stmt):
        return self.session.conn.execute(stmt).scalar()

    def execute(self, stmt):
        return self.session.conn.execute(stmt)


class DeclarativeKPI:
    """A KPI given as data (``schemas/kpi.schema.json``), compiled to SQL."""

    def __init__(self, definition: dict, source: str = "admin"):
        check_definition("kpi.schema.json", definition, "KPI")
        self.definition = copy.deepcopy(definition)
        self.source = source
        d = self.definition
        self.name = d["name"]
        self.label = d.get("label", self.name)
        self.unit = d.get("unit", "")
        self.higher_is_better = d.get("higher_is_better", True)
        self.description = d.get("description", "")
        self.entity = d["entity"]
        self.time_field = d.get("time_field")

    def check(self, session_or_types) -> None:
        """Check fields against the entity type (needs compiled types: a Session or a dict)."""
        get = session_or_types.entity_type if hasattr(session_or_types, "entity_type") else session_or_types.__getitem__
        try:
            et = get(self.entity)
        except (KeyError, NotFound):
            raise DefinitionError(f"KPI {self.name!r} measures unknown entity type {self.entity!r}",
                                  [{"pointer": "/entity", "message": "unknown entity type"}]) from None
        d = self.definition
        fields = []
        if self.time_field:
            fields.append(("/time_field", self.time_field, None))
        m = d["measure"]
        kind = next(iter(m))
        if kind in ("sum", "avg", "median", "nps"):
            fields.append((f"/measure/{kind}", m[kind], NUMERIC))
        if kind == "avg_duration":
            fields += [(f"/measure/avg_duration/{i}", f, None) for i, f in enumerate(m[kind])]
        for where, f, types in fields:
            if not et.has_field(f):
                raise DefinitionError(f"KPI {self.name!r} names a field {self.entity} does not have",
                                      [{"pointer": where, "message": f"{f!r} is not a field of {self.entity}"}])
            if types and et.field_type(f) not in types:
                raise DefinitionError(f"KPI {self.name!r}: {kind} needs a numeric field",
                                      [{"pointer": where, "message": f"{f!r} is {et.field_type(f)}"}])
        try:
            for ptr, flt in [("/where", d.get("where"))] + (
                    [("/measure/share", m["share"])] if kind == "share" else
                    [("/measure/ratio/numerator", m["ratio"]["numerator"]),
                     ("/measure/ratio/denominator", m["ratio"]["denominator"])] if kind == "ratio" else []):
                if flt:
                    compile_filter("sqlite", et, flt, ptr)
        except ValidationError as e:
            raise DefinitionError(f"KPI {self.name!r} has an invalid filter: {e.message}", e.errors) from None

    def to_dict(self) -> dict:
        return {**self.definition, "label": self.label, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "kind": "declarative", "source": self.source}

    # -- compilation -------------------------------------------------------------------
    def _aggregates(self, ctx: KPIContext):
        """(value expression, n expression) for the measure."""
        d, dialect = self.definition, ctx.dialect
        m = d["measure"]
        kind = next(iter(m))
        et = ctx.entity_type(self.entity)
        scale = d.get("scale")
        one = literal_column("1")
        if kind == "count":
            return func.count(), func.count()
        if kind in ("sum", "avg"):
            f = field_expr(dialect, m[kind], et.field_type(m[kind]))
            agg = func.sum(f) if kind == "sum" else func.avg(f)
            return (agg * scale if scale else agg), func.count(f)
        if kind == "nps":
            f = field_expr(dialect, m[kind], et.field_type(m[kind]))
            n = func.count(f)
            promoters = func.sum(case((f >= 9, 1), else_=0))
            detractors = func.sum(case((f <= 6, 1), else_=0))
            return 100.0 * (promoters - detractors) / func.nullif(n, 0), n
        if kind == "share":
            hit = func.sum(case((compile_filter(dialect, et, m["share"]), 1), else_=0))
            return (scale if scale is not None else 100.0) * hit / func.nullif(func.count(), 0), func.count()
        if kind == "ratio":
            num = func.sum(case((compile_filter(dialect, et, m["ratio"]["numerator"]), 1), else_=0))
            den = func.sum(case((compile_filter(dialect, et, m["ratio"]["denominator"]), 1), else_=0))
            return (scale if scale is not None else 100.0) * num / func.nullif(den, 0), func.coalesce(den, 0)
        if kind == "avg_duration":
            start, end = (field_expr(dialect, f, "string") for f in m[kind])
            divisor = DURATION_DIVISOR[d.get("in", "hours")]
            if dialect == "postgresql":
                secs = literal_column(f"EXTRACT(EPOCH FROM (({end})::timestamptz - ({start})::timestamptz))")
            else:
                secs = (func.julianday(end) - func.julianday(start)) * 86400.0
            dur = secs / divisor
            return func.avg(dur), func.count(dur)
        if kind == "median":
            raise AssertionError("median is computed by _median")
        raise DefinitionError(f"unknown measure {kind!r}")

    def compute(self, ctx: KPIContext) -> dict:
        base = ctx.base(self.entity, self.definition.get("where"), self.time_field)
        key = ctx.group_key(self.entity)
        if "median" in self.definition["measure"]:
            return self._median(ctx, base, key)
        value, n = self._aggregates(ctx)
        total = ctx.execute(select(value, n).select_from(R).where(base)).first()
        groups = []
        if key is not None:
            rows = ctx.execute(select(key.label("k"), value, n).select_from(R).where(base)
                               .group_by(key).order_by(key))
            groups = [{"key": _num(r[0]), "value": _num(r[1]), "n": int(r[2] or 0)} for r in rows]
        return {"value": _num(total[0]), "n": int(total[1] or 0), "groups": groups}

    def _median(self, ctx: KPIContext, base, key) -> dict:
        et = ctx.entity_type(self.entity)
        fname = self.definition["measure"]["median"]
        f = field_expr(ctx.dialect, fname, et.field_type(fname))
        scale = self.definition.get("scale") or 1
        part = [key] if key is not None else []
        inner = (select((key if key is not None else literal_column("NULL")).label("k"), f.label("v"),
                        func.row_number().over(partition_by=part or None, order_by=f).label("rn"),
                        func.count().over(partition_by=part or None).label("c"))
                 .select_from(R).where(base, f.isnot(None)).subquery())
        mid = and_(inner.c.rn >= (inner.c.c + 1) / 2, inner.c.rn <= (inner.c.c + 2) / 2)
        if ctx.dialect == "postgresql":
            # integer division on both engines: (c+1)/2 .. (c+2)/2 are the middle row(s)
            mid = and_(inner.c.rn >= func.div(inner.c.c + 1, 2), inner.c.rn <= func.div(inner.c.c + 2, 2))
        q = (select(inner.c.k, func.avg(inner.c.v) * scale, func.max(inner.c.c))
             .where(mid).group_by(inner.c.k).order_by(inner.c.k))
        rows = ctx.execute(q).all()
        if key is None:
            r = rows[0] if rows else (None, None, 0)
            return {"value": _num(r[1]), "n": int(r[2] or 0), "groups": []}
        groups = [{"key": _num(r[0]), "value": _num(r[1]), "n": int(r[2] or 0)} for r in rows]
        # overall median needs its own pass
        overall = self._median(KPIContext(ctx.session, self, ctx.date_from, ctx.date_to, None), base, None)
        return {**overall, "groups": groups}


def _num(v):
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float):
        return round(v, 6)
    return v


def _check_date(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)).isoformat() if len(str(value)) == 10 else _raise()
    except (ValueError, TypeError):
        raise ValidationError(f"{where.strip('/')} must be a calendar date YYYY-MM-DD, got {value!r}",
                              [{"pointer": where, "message": "not a YYYY-MM-DD date"}]) from None


def _raise():
    raise ValueError


# -- registry ---------------------------------------------------------------------------
def registry(platform, conn: Connection) -> dict:
    """Every KPI by name: plugin KPIs (dicts or objects) and admin-declared ones."""
    if platform._kpis is not None:
        return platform._kpis
    from . import entity_types
    types = entity_types.load_all(conn)
    out: dict = {}
    for plugin, items in call_each(platform.pm, "xrm_kpis"):
        for item in items or []:
            try:
                kpi = DeclarativeKPI(item, plugin) if isinstance(item, dict) else item
                if isinstance(kpi, DeclarativeKPI):
                    kpi.check(types)
                else:
                    kpi.check(set(types))
                    kpi.source = plugin
            except XrmError as e:
                e.message = f"plugin {plugin!r}: {e.message}"
                raise
            if kpi.name in out:
                raise DefinitionError(f"KPI {kpi.name!r} is declared twice (plugins {out[kpi.name].source!r} and {plugin!r})")
            out[kpi.name] = kpi
    for name, definition, source in conn.execute(select(db.kpi_definitions.c.name, db.kpi_definitions.c.definition,
                                                        db.kpi_definitions.c.source)):
        if name not in out:
            kpi = DeclarativeKPI(definition, source)
            try:
                kpi.check(types)
            except XrmError:
                continue  # its type changed since; `kpi list` still shows plugin KPIs
            out[name] = kpi
    platform._kpis = out
    return out


def add(platform, conn: Connection, definition: dict) -> dict:
    """Store an admin-declared KPI after checking it against its entity type."""
    from . import entity_types
    kpi = DeclarativeKPI(definition, "admin")
    kpi.check(entity_types.load_all(conn))
    existing = registry(platform, conn).get(kpi.name)
    if existing is not None and getattr(existing, "source", None) != "admin":
        raise Conflict(f"KPI {kpi.name!r} is provided by plugin {existing.source!r}")
    now = db.utcnow()
    if conn.execute(select(db.kpi_definitions.c.name).where(db.kpi_definitions.c.name == kpi.name)).first():
        conn.execute(db.kpi_definitions.update().where(db.kpi_definitions.c.name == kpi.name)
                     .values(definition=kpi.definition, updated_at=now))
    else:
        conn.execute(insert(db.kpi_definitions).values(name=kpi.name, definition=kpi.definition, source="admin",
                                                       updated_at=now))
    platform._kpis = None
    return kpi.to_dict()


def compute(session: "Session", name: str, date_from: str | None = None, date_to: str | None = None,
            by: str | None = None) -> dict:
    """Compute KPI ``name`` as the session's user (scope applied)."""
    kpis = registry(session.platform, session.conn)
    kpi = kpis.get(name)
    if kpi is None:
        raise NotFound(f"unknown KPI {name!r}")
    date_from = _check_date(date_from, "/from")
    date_to = _check_date(date_to, "/to")
    if date_from and date_to and date_from > date_to:
        raise ValidationError("--from is after --to", [{"pointer": "/from", "message": "after /to"}])
    entity = getattr(kpi, "entity", None)
    if entity and not session.actor.can(entity, "read"):
        # No grant: the KPI sees nothing, rather than leaking that records exist.
        result = {"value": None, "n": 0, "groups": []}
    else:
        result = kpi.compute(KPIContext(session, kpi, date_from, date_to, by))
    n = int(result.get("n") or 0)
    groups = [{"key": _num(g.get("key")), "value": _num(g.get("value")) if g.get("n") else None,
               "n": int(g.get("n") or 0)} for g in result.get("groups") or []]
    return {"kpi": kpi.name, "value": _num(result.get("value")) if n else None, "unit": kpi.unit, "n": n,
            "from": date_from, "to": date_to, "groups": groups}
