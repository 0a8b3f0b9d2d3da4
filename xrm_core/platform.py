"""The Platform: engine + plugin manager + compiled-definition caches, built by a factory.

    platform = Platform("sqlite:///xrm.db")
    platform.init(admin_password="…")
    with platform.session("admin") as s:
        rec = s.create("contact", {"name": "Ada"})

Nothing here is a module global: tests build as many platforms as they like.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from operator import itemgetter
from typing import Iterator

from sqlalchemy import Connection, select

from . import accounts, db, entity_types, history, record_events, relationships, schema_uris
from .errors import Conflict, DefinitionError, NotFound, ValidationError, XrmError
from .plugin_kit import DEFINITION_FILES, misplaced_types, unshipped_definitions
from .plugins import call_each, declared_in, make_plugin_manager, unmatched_blocks
from .scope import load_actor
from .session import Session
from .validation import check_definition, compile_schema

DEFAULT_URL = "sqlite:///xrm.db"
ADMIN = "admin"
#: Roles the core stores itself: a plugin may not declare (and so replace) them.
CORE_ROLES = ("admin",)


def database_url(url: str | None = None) -> str:
    """``url``, else ``XRM_DATABASE_URL``, else ``sqlite:///xrm.db`` in the current directory."""
    return url or os.environ.get("XRM_DATABASE_URL") or DEFAULT_URL


class Platform:
    """One database and one set of plugins."""

    def __init__(self, url: str | None = None, pm=None, plugins=(), load_entry_points: bool = True,
                 engine=None):
        self.url = database_url(url)
        self.engine = engine if engine is not None else db.make_engine(self.url)
        self.pm = pm if pm is not None else make_plugin_manager(load_entry_points, plugins)
        self._compiled: dict[tuple[str, int], entity_types.EntityType] = {}
        self._event_impls = None
        self._kpis = None
        #: KPIs of plugins installed since the last `xrm init`, by name: why each waits for it.
        self._kpis_waiting: dict[str, str] = {}

    @property
    def shown_url(self) -> str:
        """The database URL as given, as shown to people (messages, logs): its password masked."""
        from sqlalchemy.engine import make_url
        return make_url(self.url).render_as_string(hide_password=True)

    # -- caches ------------------------------------------------------------------------
    def compiled_type(self, conn: Connection, name: str, version: int) -> entity_types.EntityType:
        """The compiled EntityType at ``version`` (compiled once per process)."""
        key = (name, version)
        et = self._compiled.get(key)
        if et is None:
            et = entity_types.get(conn, name)
            self._compiled[(name, et.version)] = et
        return et

    def record_event_impls(self, type_name: str | None = None):
        """(plugin name, call) of each ``xrm_record_event`` implementation, in call order —
        with ``type_name``, only those called for records of that type (an implementation
        marked with :func:`xrm_core.for_types` is called for its types only).

        ``call(event, record, changes, session)`` passes the implementation the arguments it
        declares, positionally as pluggy does: resolved once here, so that firing an event
        (twice per imported row) builds no keyword dict per implementation.
        """
        if self._event_impls is None:
            caller = self.pm.hook.xrm_record_event
            self._event_impls = [(self.pm.get_name(i.plugin) or repr(i.plugin), _positional(i.function, i.argnames),
                                  record_events.types_of(i.function))
                                 for i in reversed(caller.get_hookimpls())]
            self._event_impls_by_type = {}
        if type_name is None:
            return [(name, call) for name, call, _ in self._event_impls]
        found = self._event_impls_by_type.get(type_name)
        if found is None:
            found = self._event_impls_by_type[type_name] = [
                (name, call) for name, call, types in self._event_impls if types is None or type_name in types]
        return found

    # -- sessions ----------------------------------------------------------------------
    @contextmanager
    def session(self, user: str = ADMIN, write: bool = True) -> Iterator[Session]:
        """A transaction acting as ``user``: committed on success, rolled back on error."""
        conn = self.engine.connect()
        if write:
            conn = conn.execution_options(xrm_write=True)
        try:
            with conn.begin():
                actor = load_actor(conn, user)
                yield Session(self, conn, actor)
        finally:
            conn.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain transaction (administration that acts as nobody in particular)."""
        with self.engine.connect().execution_options(xrm_write=True) as conn, conn.begin():
            yield conn

    # -- setup -------------------------------------------------------------------------
    def init(self, admin_password: str | None = None) -> dict:
        """Create or upgrade the database, sync plugin definitions, ensure the admin user.

        Idempotent: a second run changes nothing unless plugins changed. All or nothing.
        """
        from . import migrations
        with self.connection() as conn:
            before = migrations.upgrade(conn)  # read once a concurrent init's upgrade ended
            if conn.execute(select(db.units.c.id).where(db.units.c.name == accounts.ROOT_UNIT)).first() is None:
                accounts.create_unit(conn, accounts.ROOT_UNIT)
            accounts.save_role(conn, {"name": CORE_ROLES[0], "label": "Administrator",
                                      "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"],
                                                  "depth": "all"}]}, source="core")
            created_admin = False
            if conn.execute(select(db.users.c.id).where(db.users.c.name == ADMIN)).first() is None:
                accounts.create_user(conn, ADMIN, accounts.ROOT_UNIT, ["admin"], admin_password, is_admin=True)
                created_admin = True
            elif admin_password:
                accounts.set_password(conn, ADMIN, admin_password)
            try:
                synced = self.sync_definitions(conn)
            except (Conflict, ValidationError) as e:
                refused_by_data = isinstance(e, Conflict) or "impact" in e.extra
                if refused_by_data and before is not None and before != migrations.HEAD:
                    # Every other command of this release refuses a database it has not
                    # upgraded: say the upgrade changed nothing and how to get past it.
                    e.message = (f"{e.message}; the upgrade from revision {before} was not applied "
                                 "(the database is unchanged): change those records with the release "
                                 "that made the database, then run `xrm init` again")
                raise
        self._compiled.clear()
        # Printed by `xrm init` and kept in logs: without its password.
        return {"database": self.shown_url, "migrated_from": before, "revision": migrations.HEAD,
                "admin_created": created_admin, **synced}

    def sync_definitions(self, conn: Connection) -> dict:
        """Store every plugin's entity types, relationship types, activity kinds and roles."""
        misplaced = [(plugin, f"plugin {plugin!r}: json_definitions reads entity types from types/*.json, and "
                               f"package {package!r} has no types/ folder, but {folder}/ holds entity types "
                               f"({', '.join(names)}): move them to types/")
                     for plugin, package, folder, names in misplaced_types(self.pm)]
        unshipped = [note for _, note in misplaced] + [
            f"plugin {plugin!r}: json_definitions found no definition file in package {package!r} "
            f"(types/*.json, {', '.join(DEFINITION_FILES.values())}); if it has them, ship them as "
            "package data ([tool.setuptools.package-data]): an installed wheel has only the files "
            "setuptools is told about" for plugin, package in unshipped_definitions(self.pm)
            if plugin not in dict(misplaced)]
        try:
            report = self._sync_definitions(conn)
        except XrmError as e:
            if unshipped:  # likely the cause: a KPI or role names a type that never arrived
                e.message += "; " + "; ".join(unshipped)
                e.args = (e.message,)
            raise
        report["warnings"] = unmatched_blocks(self.pm) + unshipped + report["warnings"]
        return report

    def _sync_definitions(self, conn: Connection) -> dict:
        report = {"types_added": [], "types_updated": [], "types_kept": [], "types_overridden": [],
                  "reltypes": 0, "reltypes_added": [], "reltypes_updated": [], "activity_kinds": 0, "roles": 0}
        stored = entity_types.load_all(conn)
        declared = set()  # types a plugin declares: their indexes are synced with them
        for plugin, defs in call_each(self.pm, "xrm_entity_types"):
            for i, d in enumerate(defs or []):
                try:
                    name = d.get("name") if isinstance(d, dict) else None
                    if name in stored and _changed_since_declared(conn, stored[name], plugin, d):
                        # An admin changed the plugin's type since the plugin last declared
                        # it, and the plugin still declares the same: the admin's version stays.
                        report["types_kept"].append(name)
                        entity_types.apply_indexes(conn, name, stored[name])
                    elif name in stored:
                        r = entity_types.update(conn, d, source=plugin)
                        if r["applied"]:
                            report["types_updated"].append(name)
                            if stored[name].source == "admin":
                                # The plugin declares something new: it wins (its code may
                                # need it); the admin's version stays in the type's history.
                                report["types_overridden"].append(name)
                    else:
                        et = entity_types.add(conn, d, source=plugin)
                        stored[et.name] = et
                        report["types_added"].append(et.name)
                    declared.add(name)
                except XrmError as e:
                    e.message = f"plugin {plugin!r}{declared_in(plugin, 'xrm_entity_types', d)}, entity type #{i} ({d.get('name') if isinstance(d, dict) else '?'}): {e.message}"
                    if "impact" in e.extra:  # stored records refuse the plugin's new definition
                        admins = name in stored and stored[name].source == "admin"
                        e.message += _stored_data_refusal(plugin, admins)
                    raise
        known = entity_types.load_all(conn)
        for name, et in known.items():
            if name not in declared:
                # A type no plugin declares (an admin's own, or one whose plugin is gone) keeps
                # the indexes an older release built: rebuild any whose name or shape this
                # release makes differently, or the planner would not use them.
                entity_types.apply_indexes(conn, name, et)
        # A type stored before its schema's URIs were checked still loads: said, not refused.
        ambiguous = schema_uris.stored_type_warnings(known)
        known = set(known)
        report["warnings"] = self._unknown_event_types(known) + _unchecked_formats(
            self.pm, set(report["types_added"]) | set(report["types_updated"])) + ambiguous
        # Which relationship types a run adds or changes: a plugin's upgrade is checked by it.
        stored_rels = dict(conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.definition)).all())
        # Counted by name: two plugins may share one identical definition, stored once.
        rel_names: set[str] = set()
        kind_names: set[str] = set()
        for plugin, defs in call_each(self.pm, "xrm_relationship_types"):
            for i, d in enumerate(defs or []):
                try:
                    saved = relationships.save(conn, d, known, source=plugin, replace=True)
                except XrmError as e:
                    # relationships.save names a relationship type by its name; one without
                    # a name (or no object at all) by its position.
                    named = isinstance(d, dict) and isinstance(d.get("name"), str)
                    e.message = (f"plugin {plugin!r}{declared_in(plugin, 'xrm_relationship_types', d)}"
                                 f"{'' if named else f', relationship type #{i}'}: {e.message}")
                    if isinstance(e, Conflict):  # stored relationships refuse the new definition
                        e.message += _stored_data_refusal(plugin)
                    raise
                if saved["name"] in rel_names:
                    continue  # another plugin's identical definition, reported already
                rel_names.add(saved["name"])
                if saved["name"] not in stored_rels:
                    report["reltypes_added"].append(saved["name"])
                elif stored_rels[saved["name"]] != saved:
                    report["reltypes_updated"].append(saved["name"])
        for plugin, defs in call_each(self.pm, "xrm_activity_kinds"):
            for i, d in enumerate(defs or []):
                try:
                    if isinstance(d, dict) and d.get("name") in history.RESERVED_KINDS:
                        # The schema's own error reads '{"enum": [...]} is not allowed for "created"'.
                        raise DefinitionError(
                            f"activity kind {d['name']!r} is the core's own: choose another name",
                            [{"pointer": "/name", "message": "reserved: " + ", ".join(history.RESERVED_KINDS)}])
                    check_definition("activity-kind.schema.json", d, "activity kind")
                    if "payload" in d:  # checked now, not by every later `xrm log` of the kind
                        base = f"https://xrm.dev/schemas/kinds/{d['name']}.json"
                        compile_schema(d["payload"], base, "/payload")
                        stored = conn.execute(select(db.activity_kinds.c.definition)
                                              .where(db.activity_kinds.c.name == d["name"])).scalar()
                        if stored != d:  # as entity types: a kind stored before the check still loads
                            schema_uris.check_uris(d["payload"], base, "/payload")
                except XrmError as e:
                    # Which of the plugin's kinds: a payload schema's error names none.
                    e.message = f"plugin {plugin!r}{declared_in(plugin, 'xrm_activity_kinds', d)}, {_which('activity kind', i, d)}: {e.message}"
                    raise
                row = conn.execute(select(db.activity_kinds.c.name).where(db.activity_kinds.c.name == d["name"])).first()
                if row is None:
                    conn.execute(db.activity_kinds.insert().values(name=d["name"], definition=d, source=plugin))
                else:
                    conn.execute(db.activity_kinds.update().where(db.activity_kinds.c.name == d["name"])
                                 .values(definition=d, source=plugin))
                kind_names.add(d["name"])
        report["reltypes"], report["activity_kinds"] = len(rel_names), len(kind_names)
        for role in self._merge_roles(known).values():
            report["warnings"] += _lost_grants(conn, role["definition"], role["source"])
            accounts.save_role(conn, role["definition"], source=role["source"])
            report["roles"] += 1
        # Validate plugin KPIs now, so a broken one fails init rather than a dashboard.
        from . import kpis
        self._kpis = None
        found = kpis.registry(self, conn)
        report["warnings"] += _hidden_admin_kpis(conn, found)
        return report

    def _unknown_event_types(self, known: set[str]) -> list[str]:
        """Warnings for ``@for_types`` names that are no entity type: the implementation is
        never called for them (a typo, or a type of a plugin that is not installed)."""
        out = []
        for impl in reversed(self.pm.hook.xrm_record_event.get_hookimpls()):
            unknown = sorted((record_events.types_of(impl.function) or set()) - known)
            if unknown:
                out.append(f"plugin {self.pm.get_name(impl.plugin)!r}: xrm_record_event is for "
                           f"{', '.join(map(repr, unknown))}, which {'is no entity type' if len(unknown) == 1 else 'are no entity types'}: "
                           "it is never called for "
                           + ("it" if len(unknown) == 1 else "them"))
        return out

    def _merge_roles(self, known: set[str]) -> dict:
        """Every plugin's roles, merged by name: several plugins may grant on one role
        (each on its own types); for the same type and action the widest depth wins."""
        from .scope import DEPTHS
        merged: dict[str, dict] = {}
        for plugin, defs in call_each(self.pm, "xrm_roles"):
            for i, d in enumerate(defs or []):
                try:
                    check_definition("role.schema.json", d, "role")
                    if d["name"] in CORE_ROLES:
                        # Stored "with exactly these grants", it would replace what the core's
                        # role grants every user who has it, on every init.
                        raise DefinitionError(f"role {d['name']!r} is the core's own: choose another name",
                                              [{"pointer": "/name", "message": "reserved: " + ", ".join(CORE_ROLES)}])
                except XrmError as e:
                    e.message = f"plugin {plugin!r}{declared_in(plugin, 'xrm_roles', d)}, {_which('role', i, d)}: {e.message}"
                    raise
                role = merged.setdefault(d["name"], {"definition": {"name": d["name"], "grants": []},
                                                     "source": plugin, "depths": {}})
                for key in ("label", "description"):
                    if key in d and key not in role["definition"]:
                        role["definition"][key] = d[key]
                if plugin not in role["source"].split(","):
                    role["source"] += f",{plugin}"
                for j, g in enumerate(d.get("grants", [])):
                    if g["type"] != "*" and g["type"] not in known:
                        raise DefinitionError(
                            f"plugin {plugin!r}{declared_in(plugin, 'xrm_roles', d)}: role {d['name']!r} grants on unknown entity type",
                            [{"pointer": f"/grants/{j}/type", "message": f"no entity type {g['type']!r}"}])
                    for action in g["actions"]:
                        key = (g["type"], action)
                        if DEPTHS[g["depth"]] > DEPTHS[role["depths"].get(key, "none")]:
                            role["depths"][key] = g["depth"]
        for role in merged.values():
            role["definition"]["grants"] = [{"type": t, "actions": [a], "depth": dep}
                                            for (t, a), dep in sorted(role["depths"].items())]
        return merged

    # -- KPIs --------------------------------------------------------------------------
    def kpi_registry(self, conn: Connection):
        from . import kpis
        return kpis.registry(self, conn)

    def user_exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(db.users.c.id).where(db.users.c.name == name)).first() is not None

    def dispose(self) -> None:
        self.engine.dispose()


def _lost_grants(conn: Connection, definition: dict, source: str) -> list[str]:
    """A warning when storing a plugin's role (exactly the grants it declares) removes or
    narrows grants the stored role has: an admin's grants on it (``xrm roles grant``), or an
    admin's own role of that name — init would else drop them without a word. (Grants an
    older version of the plugin declared are told too: they cannot be told apart.)"""
    from .scope import DEPTHS
    row = conn.execute(select(db.roles.c.id, db.roles.c.source).where(db.roles.c.name == definition["name"])).first()
    if row is None:
        return []
    wanted = {(g["type"], a): g["depth"] for g in definition["grants"] for a in g["actions"]}
    lost = []
    for etype, action, depth in conn.execute(select(db.grants.c.entity_type, db.grants.c.action, db.grants.c.depth)
                                             .where(db.grants.c.role_id == row.id)
                                             .order_by(db.grants.c.entity_type, db.grants.c.id)):
        now = wanted.get((etype, action))
        if now is None:
            lost.append(f"{etype}: {action} @ {depth}")
        elif DEPTHS[now] < DEPTHS[depth]:
            lost.append(f"{etype}: {action} @ {depth} (now @ {now})")
    if not lost:
        return []
    plugins = source.split(",")
    named = f"plugin {plugins[0]!r}" if len(plugins) == 1 else f"plugins {', '.join(map(repr, plugins))}"
    if row.source == "admin":
        return [f"role {definition['name']!r} was an admin's: it now has the grants {named} "
                f"declare{'s' if len(plugins) == 1 else ''}, and lost {', '.join(lost)} — give those through a "
                "role of another name"]
    return [f"role {definition['name']!r} of {named}: init gave it exactly the grants "
            f"{'it declares' if len(plugins) == 1 else 'they declare'}, and it lost {', '.join(lost)} (an admin's "
            "grant, or one an earlier version declared) — an admin's grants belong in a role of another name"]


def _hidden_admin_kpis(conn: Connection, found: dict) -> list[str]:
    """Warnings for KPIs an admin added (``xrm kpi add``) under a name a plugin installed
    since declares: the plugin's KPI is the one computed, so the admin's would otherwise
    vanish from every listing without a word (``xrm kpi add`` refuses such a name the other
    way round)."""
    out = []
    for name, source in conn.execute(select(db.kpi_definitions.c.name, db.kpi_definitions.c.source)
                                     .order_by(db.kpi_definitions.c.name)):
        kpi = found.get(name)
        owner = getattr(kpi, "source", None)
        if kpi is not None and owner != source:
            out.append(f"KPI {name!r} of plugin {owner!r} hides the one added by {source or 'an admin'} under the "
                       f"same name (its definition is kept: `xrm kpi remove {name}` drops it, then add it again "
                       "under another name)")
    return out


def _unchecked_formats(pm, names: set[str]) -> list[str]:
    """Warnings for each ``format`` of a type just added or changed that validation does not
    check — what `xrm types add` says of an admin's type: a typo such as "emial" would
    otherwise check nothing, silently."""
    from .validation import unchecked_formats
    out: list[str] = []
    if not names:
        return out
    for plugin, defs in call_each(pm, "xrm_entity_types"):
        for d in defs or []:
            if isinstance(d, dict) and d.get("name") in names:
                out += [f"plugin {plugin!r}, entity type {d['name']!r}: /schema{ptr}: format {fmt!r} is not one "
                        "xrm checks (date, date-time, email, uri, uuid… — JSON Schema's own); values are "
                        "accepted whatever they hold" for ptr, fmt in unchecked_formats(d.get("schema"))]
    return out


def _stored_data_refusal(plugin: str, admins: bool = False) -> str:
    """What to do when stored data refuses a plugin's changed definition: appended to the
    refusal, which lists the records (or relationships) in the way but not the ways out."""
    why = (" (the stored version is an admin's change, which the plugin's new definition "
           "replaces: the records use what the admin's version allowed)" if admins else "")
    return (f"{why}; nothing was applied. Change or remove what is listed and run `xrm init` again, "
            f"or run `XRM_DISABLE_PLUGINS={plugin} xrm init` to upgrade everything else while the "
            f"plugin's definitions stay as stored (its hooks do not run while it is blocked)")


def _which(what: str, i: int, d) -> str:
    """``activity kind #2 (call)``: which item of a plugin's definition hook an error is
    about — its position, and its name when it has one."""
    name = d.get("name") if isinstance(d, dict) else None
    return f"{what} #{i} ({name})" if isinstance(name, str) else f"{what} #{i}"


def _changed_since_declared(conn: Connection, stored: entity_types.EntityType, plugin: str,
                            declared: dict) -> bool:
    """Whether the stored type is a change made since ``plugin`` declared ``declared``:
    then ``xrm init`` keeps it.

    A version made by an admin is labelled ``admin``. Releases before that label existed
    stored an admin's change to a plugin's type under the plugin's name, so a change is
    also recognised by its history: a version from ``plugin`` held exactly ``declared``,
    and every version since (the stored one included) carries the plugin's name but holds
    something else. (A plugin that went back to a definition it had declared before looks
    the same, and is kept and reported alike.)
    """
    if stored.definition == declared:
        return False
    if stored.source == "admin":
        last = entity_types.last_definition_from(conn, stored.name, plugin)
        if last is None:
            # The plugin declares this type under a new entry-point name for the first time:
            # its earlier declarations carry the old name.
            last = entity_types.last_definition_from(conn, stored.name, None)
        return last == declared
    if stored.source != plugin:
        return False
    V = db.entity_type_versions
    since = conn.execute(select(V.c.definition, V.c.source).where(V.c.name == stored.name)
                         .order_by(V.c.version.desc())).all()
    for definition, source in since:
        if source != plugin:
            return False
        if definition == declared:
            return True
    return False


#: The arguments of ``xrm_record_event``, in the order :meth:`Session.fire` passes them.
_EVENT_ARGS = ("event", "record", "changes", "session")


def _positional(function, argnames):
    """``function`` as a callable of ``(event, record, changes, session)``.

    An implementation may declare any of those arguments, in any order (pluggy checks
    they belong to the spec); most declare all four in order and are returned as they are.
    """
    order = tuple(_EVENT_ARGS.index(a) for a in argnames)
    if order == (0, 1, 2, 3):
        return function
    if not order:
        return lambda *args: function()
    if len(order) == 1:
        i = order[0]
        return lambda *args: function(args[i])
    pick = itemgetter(*order)
    return lambda *args: function(*pick(args))


def open_platform(url: str | None = None, **kwargs) -> Platform:
    """Build a Platform for ``url`` (see :func:`database_url`)."""
    return Platform(url, **kwargs)


__all__ = ["Platform", "open_platform", "database_url", "NotFound"]
