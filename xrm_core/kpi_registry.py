"""The KPIs a database knows: its plugins' (dicts and KPI objects) and the ones admins
declared (``xrm kpi add``), each checked against the entity type it measures.

A KPI that no longer fits its type after a type change is refused with the change
(:func:`check_type_change`); a plugin installed since the last ``xrm init`` leaves its own
KPIs waiting (:func:`waiting`) while the others still work. :mod:`xrm_core.kpis` computes
them and re-exports these functions (``kpis.registry``, ``kpis.add`` …).
"""
from __future__ import annotations

import re

from sqlalchemy import Connection, insert, select

from . import db
from .errors import Conflict, DefinitionError, NotFound, PluginError, ValidationError, XrmError
from .kpi_measures import DeclarativeKPI, _describe_field, _is_time_field
from .plugins import PLUGIN_FAILURES, call_each, declared_in


def registry(platform, conn: Connection) -> dict:
    """Every KPI by name: plugin KPIs (dicts or objects) and admin-declared ones.

    Kept per process while what it is built from stays the same: the entity types' current
    versions and the admin-declared KPIs, read again on every call (two small tables) so
    that a KPI added or removed, or a type changed, by another process — ``xrm kpi add``
    beside a running ``xrm serve``, another worker — is seen by the next request.
    """
    stamp = _stamp(conn)
    if platform._kpis is not None and getattr(platform, "_kpis_stamp", None) == stamp:
        return platform._kpis
    from . import entity_types
    types = entity_types.load_all(conn)
    out: dict = {}
    waiting: dict[str, str] = {}
    for plugin, items in call_each(platform.pm, "xrm_kpis"):
        for i, item in enumerate(items or []):
            try:
                kpi = _plugin_kpi(item, i, plugin, types)
            except PluginError:
                raise
            except XrmError as e:
                hint = _unsynced_hint(platform, plugin, types)
                e.message = f"plugin {plugin!r}{declared_in(plugin, 'xrm_kpis', item)}: {e.message}{hint}"
                e.args = (e.message,)
                if not hint:
                    raise
                # The plugin was installed (or upgraded) since the last `xrm init`: its KPIs
                # wait for it (computing one says so), the other plugins' KPIs still work.
                waiting[str(item.get("name") if isinstance(item, dict) else getattr(item, "name", i))] = e.message
                continue
            if kpi.name in out:
                raise DefinitionError(f"KPI {kpi.name!r} is declared twice (plugins {out[kpi.name].source!r} and {plugin!r})")
            out[kpi.name] = kpi
    for name, definition, source in conn.execute(select(db.kpi_definitions.c.name, db.kpi_definitions.c.definition,
                                                        db.kpi_definitions.c.source)):
        if name not in out:
            try:
                kpi = DeclarativeKPI(definition, source)
                # Filter values are checked when a KPI is added: one stored before that check
                # existed keeps computing, rather than vanish from every listing without a word.
                kpi.check(types, values=False)
            except XrmError:
                continue  # its type changed since; `kpi list` still shows the others
            out[name] = kpi
    platform._kpis, platform._kpis_waiting, platform._kpis_stamp = out, waiting, stamp
    return out


def _stamp(conn: Connection) -> tuple:
    """What :func:`registry` is built from that any process may change: each entity type's
    current version and each admin-declared KPI's last change."""
    T, K = db.entity_types, db.kpi_definitions
    return (tuple(sorted(conn.execute(select(T.c.name, T.c.version)).all())),
            tuple(sorted(conn.execute(select(K.c.name, K.c.updated_at)).all())))


def waiting(platform, conn: Connection) -> dict[str, str]:
    """The KPIs of plugins installed or upgraded since the last `xrm init`, by name: why
    each is not in :func:`registry` until then (the message says to run it)."""
    registry(platform, conn)
    return dict(platform._kpis_waiting)


def _unsynced_hint(platform, plugin: str, types: dict) -> str:
    """``"; run `xrm init` …"`` when ``plugin`` declares entity types this database does not
    hold yet — installed or upgraded since the last `xrm init`, which stores them — so its
    KPIs name types that are "unknown" only until then; else ""."""
    declared = []
    for name, defs in call_each(platform.pm, "xrm_entity_types"):
        if name == plugin:
            declared += [d.get("name") for d in defs or [] if isinstance(d, dict) and isinstance(d.get("name"), str)]
    missing = sorted(n for n in declared if n not in types)
    if not missing:
        return ""
    return (f"; the plugin declares entity type(s) {', '.join(missing)} that this database does not hold yet: "
            "run `xrm init` to store its definitions")


def _plugin_kpi(item, index: int, plugin: str, types: dict):
    """The KPI a plugin's ``xrm_kpis`` returned at ``index``, checked against ``types``.

    A dict becomes a :class:`DeclarativeKPI`; anything else must be a KPI *object* (a class
    is a common slip). A Python KPI whose ``check`` crashes is reported as the plugin's
    failure rather than as a bare exception.
    """
    if isinstance(item, dict):
        kpi = DeclarativeKPI(item, plugin)
        kpi.check(types)
        return kpi
    if isinstance(item, type) or not callable(getattr(item, "compute", None)):
        shown = f"the class {item.__name__}" if isinstance(item, type) else f"a {type(item).__name__}"
        raise DefinitionError(f"KPI #{index} is {shown}: xrm_kpis returns KPI dicts and KPI objects "
                              "(instances of a xrm_core.KPI subclass, or objects with its metadata and a "
                              "compute(ctx) method)",
                              [{"pointer": f"/{index}", "message": "not a KPI dict or KPI object"}])
    from .kpis import KPI  # here: xrm_core.kpis imports this module before it defines KPI
    try:
        if not isinstance(item, KPI):
            item = ObjectKPI(item)  # reads the object's metadata, which is plugin code too
        item.check(set(types))
    except XrmError:
        raise
    except PLUGIN_FAILURES as e:  # noqa: BLE001 — name the plugin, not a traceback
        raise PluginError(plugin, f"KPI {getattr(item, 'name', '?')!r} check()", e) from e
    _check_texts(item)
    _check_fields(item, types)
    item.source = plugin
    return item


class ObjectKPI:
    """A plugin's KPI object that is no ``xrm_core.KPI`` subclass — DESIGN §3 asks only for
    "an object with the same metadata and a ``compute(ctx)`` method" — with what the platform
    reads of a KPI (``check``, ``to_dict``, ``source``) taken from ``KPI``: the object's own
    metadata where it has it, ``KPI``'s defaults where not."""

    _METADATA = ("name", "label", "unit", "higher_is_better", "description", "entity", "time_field")

    def __init__(self, obj):
        from .kpis import KPI
        self.obj = obj
        for attr in self._METADATA:
            setattr(self, attr, getattr(obj, attr, getattr(KPI, attr)))
        self.source = None

    def compute(self, ctx) -> dict:
        return self.obj.compute(ctx)

    def check(self, known_types: set[str]) -> None:
        from .kpis import KPI
        if not self.name:
            raise DefinitionError(f"{type(self.obj).__name__} has no name")
        KPI.check(self, known_types)
        own = getattr(self.obj, "check", None)
        if callable(own):
            own(known_types)

    def to_dict(self) -> dict:
        from .kpis import KPI
        return KPI.to_dict(self)


#: A language code, as ``schemas/label.schema.json`` has the keys of a text by language.
_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]+)*")


def _check_texts(kpi) -> None:
    """A Python KPI's ``label``, ``unit`` and ``description`` as the platform shows them: text,
    or (``label``, ``unit``) text by language — ``{"en": "items", "zh": "件"}``, which
    the admin UI translates and the REST API returns as declared. Anything else (a list, a
    number, a dict of numbers) would reach API clients as a value their document does not
    allow, so it fails ``xrm init`` with the attribute's pointer (the caller adds the plugin)."""
    name = getattr(kpi, "name", "?")
    for attr, by_language in (("label", True), ("unit", True), ("description", False)):
        value = getattr(kpi, attr, "")
        if isinstance(value, str):
            continue
        if by_language and isinstance(value, dict) and value and all(
                isinstance(k, str) and _LANG.fullmatch(k) and isinstance(v, str) and v for k, v in value.items()):
            continue
        shape = "text, or text by language ({\"en\": …, \"zh\": …})" if by_language else "text"
        raise DefinitionError(f"KPI {name!r}: {attr} must be {shape}, not {value!r}",
                              [{"pointer": f"/{attr}", "message": f"not {shape}"}])


def _check_fields(kpi, types: dict) -> None:
    """What the platform itself reads of a Python KPI, checked against the compiled ``types``
    as a declarative KPI's fields are: its ``entity`` must be a known type and its
    ``time_field`` (which :meth:`KPIContext.base` limits that type's records by) one of its
    date, date-time or plain string fields. ``KPI.check`` gets only the type names, so it
    cannot see fields; without this a misnamed ``time_field`` failed only when computed.
    Raises DefinitionError naming the KPI and the field (the caller adds the plugin)."""
    name = getattr(kpi, "name", "?")
    entity, time_field = getattr(kpi, "entity", None), getattr(kpi, "time_field", None)
    if entity is not None and not isinstance(entity, str):
        raise DefinitionError(f"KPI {name!r}: entity must be the name of an entity type, not {entity!r}",
                              [{"pointer": "/entity", "message": "not a string"}])
    if time_field is not None and not isinstance(time_field, str):
        raise DefinitionError(f"KPI {name!r}: time_field must be the name of a field, not {time_field!r}",
                              [{"pointer": "/time_field", "message": "not a string"}])
    if not entity:
        return  # no type of its own: base() applies a time field only where its compute names one
    et = types.get(entity)
    if et is None:  # a check() overridden without calling super()
        raise DefinitionError(f"KPI {name!r} measures unknown entity type {entity!r}",
                              [{"pointer": "/entity", "message": "unknown entity type"}])
    if not time_field:
        return
    if not et.has_field(time_field):
        raise DefinitionError(f"KPI {name!r} has time_field {time_field!r}, which is not a field of {entity}",
                              [{"pointer": "/time_field", "message": f"{time_field!r} is not a field of {entity}"}])
    if not _is_time_field(et, time_field):
        raise DefinitionError(f"KPI {name!r} has time_field {time_field!r}, which is {_describe_field(et, time_field)} "
                              f"in {entity}: it must be a date or date-time string field",
                              [{"pointer": "/time_field",
                                "message": f"{time_field!r} is {_describe_field(et, time_field)}; it must be a date "
                                           "or date-time string field"}])


def check_type_change(platform, conn: Connection, before: dict, name: str, definition: dict | None) -> None:
    """Refuse a change of entity type ``name`` — a new ``definition``, or its removal when
    None — after which a KPI that works with the entity types ``before`` (as loaded before
    the change) would fail: a field it measures gone or of another type, its entity type
    removed. Raises ValidationError with one error per such KPI, pointing at
    ``/kpis/<name>``; KPIs that failed already are not held against the change."""
    from . import entity_types
    after = dict(before)
    if definition is None:
        after.pop(name, None)
    else:
        after[name] = entity_types.EntityType(definition, 0, "admin")
    # The declarations are read once and checked against both sets of types.
    declared = call_each(platform.pm, "xrm_kpis")
    stored = conn.execute(select(db.kpi_definitions.c.name, db.kpi_definitions.c.definition,
                                 db.kpi_definitions.c.source)).all()
    failing_before = _failing_kpis(declared, stored, before)
    broken = {k: v for k, v in _failing_kpis(declared, stored, after).items() if k not in failing_before}
    if broken:
        change = "removing" if definition is None else "this change to"
        raise ValidationError(f"{change} entity type {name!r} would break {len(broken)} KPI(s): "
                              f"{', '.join(sorted(broken))}; change or remove them first",
                              [{"pointer": f"/kpis/{k}", "message": v} for k, v in sorted(broken.items())])
    platform._kpis = None  # KPIs compile against the types: the change may alter their SQL


def _failing_kpis(declared: list, stored: list, types: dict) -> dict[str, str]:
    """``{kpi name: why}`` of the plugin KPIs ``declared`` (``call_each`` results) and the
    admin KPI rows ``stored`` that do not check against ``types``."""
    out = {}
    for plugin, items in declared:
        for i, item in enumerate(items or []):
            kpi_name = item.get("name") if isinstance(item, dict) else getattr(item, "name", f"#{i}")
            try:
                _plugin_kpi(item, i, plugin, types)
            except PluginError:
                raise
            except XrmError as e:
                why = _why(e) if isinstance(item, dict) else e.message  # a Python KPI's message names its field
                out[str(kpi_name)] = f"KPI {kpi_name!r} of plugin {plugin!r}: {why}"
    for kpi_name, definition, source in stored:
        try:
            DeclarativeKPI(definition, source).check(types)
        except XrmError as e:
            out.setdefault(kpi_name, f"KPI {kpi_name!r} ({source}): {_why(e)}")
    return out


def _why(e: XrmError) -> str:
    """Why a declarative KPI fails its check, in one line: each error's pointer into the KPI
    and message (``/measure/sum: 'beds' is not a field of site``) — the check's message
    alone names neither the field nor where the KPI uses it."""
    parts = [f"{err['pointer']}: {err['message']}" if err.get("pointer") else err["message"]
             for err in e.errors if isinstance(err, dict) and err.get("message")]
    return "; ".join(parts) or e.message


def add(platform, conn: Connection, definition: dict) -> dict:
    """Store an admin-declared KPI, or replace the admin KPI of that name, after checking it
    against its entity type.

    Returns the KPI as :meth:`DeclarativeKPI.to_dict` gives it plus ``"replaced"``: True when
    an admin KPI of that name was stored before (and is now overwritten). Raises
    DefinitionError with pointers, or Conflict when a plugin provides the name (a plugin's
    KPI always wins in :func:`registry`, so a replacement would never be used); either way
    nothing is stored.
    """
    from . import entity_types
    kpi = DeclarativeKPI(definition, "admin")
    kpi.check(entity_types.load_all(conn))
    existing = registry(platform, conn).get(kpi.name)
    if existing is not None and getattr(existing, "source", None) != "admin":
        raise Conflict(f"KPI {kpi.name!r} is provided by plugin {existing.source!r} and cannot be replaced",
                       [{"pointer": "/name", "message": "a plugin KPI has this name: choose another name"}])
    now = db.utcnow()
    # The stored row, not the registry, says whether this replaces: an admin KPI that no
    # longer fits its (changed) entity type is left out of the registry but still stored.
    replaced = conn.execute(select(db.kpi_definitions.c.name)
                            .where(db.kpi_definitions.c.name == kpi.name)).first() is not None
    if replaced:
        conn.execute(db.kpi_definitions.update().where(db.kpi_definitions.c.name == kpi.name)
                     .values(definition=kpi.definition, updated_at=now))
    else:
        conn.execute(insert(db.kpi_definitions).values(name=kpi.name, definition=kpi.definition, source="admin",
                                                       updated_at=now))
    platform._kpis = None
    return {**kpi.to_dict(), "replaced": replaced}


def remove(platform, conn: Connection, name: str) -> dict:
    """Remove the admin-declared KPI ``name`` (added with :func:`add`); returns its definition.

    Raises NotFound when no KPI has that name, and Conflict when a plugin provides it: a
    plugin's KPI comes back from the plugin on every start (XRM_DISABLE_PLUGINS blocks the
    whole plugin). An admin KPI that no longer fits its entity type — left out of
    :func:`registry` — can still be removed; that is how a type it names is freed for
    ``types remove``.
    """
    row = conn.execute(select(db.kpi_definitions.c.definition, db.kpi_definitions.c.source)
                       .where(db.kpi_definitions.c.name == name)).first()
    if row is None:
        # The registry is consulted only to word the refusal: a plugin's KPI is no row here.
        provided = registry(platform, conn).get(name)
        if provided is not None:
            raise Conflict(f"KPI {name!r} is provided by plugin {provided.source!r} and cannot be removed",
                           [{"pointer": "/name", "message": "a plugin KPI: only admin-declared KPIs can be removed"}])
        raise NotFound(f"unknown admin KPI {name!r}")
    conn.execute(db.kpi_definitions.delete().where(db.kpi_definitions.c.name == name))
    platform._kpis = None
    return row.definition
