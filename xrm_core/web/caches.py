"""Per-process caches of the REST API: what every request needs besides its own records.

Each app process (gunicorn worker) keeps its own; all of them are either immutable facts
(user and unit names: users and units are never renamed or deleted; documents built from
entity-type versions, which never repeat) or short-lived (``API_AUTH_CACHE_SECONDS``), so
several processes on one database stay correct. Users may
be moved to another unit (``accounts.move_user``) or deactivated: ``api.session`` reads
each user's current unit and active flag on every request, so neither waits for a cache.
"""
from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime, timezone

from sqlalchemy import select

from .. import accounts, db
from ..scope import load_actor
from ..session import Session


class ActorCache:
    """Bearer token -> resolved Actor, kept for ``ttl`` seconds per process.

    Resolving a token costs three queries (token, user + unit, grants); a client sending
    many requests pays them once per ``ttl``. The price is staleness: a revoked token, a
    deactivated user or a changed grant takes effect in every worker within ``ttl``
    seconds (``API_AUTH_CACHE_SECONDS``, default 2; 0 turns the cache off). A token's
    expiry is known in advance, so an expiring token is kept no longer than it works. Only
    tokens that resolved are kept, so guessing tokens still costs a query each.
    """

    def __init__(self, platform, ttl: float, size: int = 10_000):
        self.platform, self.ttl, self.size = platform, ttl, size
        self._items: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, token: str):
        now = time.monotonic()
        hit = self._items.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.platform.engine.connect() as conn, conn.begin():
            user, expires_at = accounts.token_holder(conn, token)
            actor = load_actor(conn, user)
        until = now + self.ttl
        if expires_at is not None:
            until = min(until, now + _seconds_until(expires_at))
        if until > now:
            with self._lock:
                if len(self._items) >= self.size:
                    self._items = {k: v for k, v in self._items.items() if v[0] > now}
                    if len(self._items) >= self.size:
                        self._items.clear()
                self._items[token] = (until, actor)
        return actor


def _seconds_until(stamp: str) -> float:
    """Seconds from now to a stored UTC stamp (``2026-01-31T12:00:00.000000Z``); negative
    once it has passed."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - datetime.now(timezone.utc)).total_seconds()


class _Names(dict):
    """An id -> name (or (name, path)) map that reloads itself on a miss.

    Users and units are never renamed or deleted (accounts.py offers no way to), so an id
    once seen keeps its name; only new ids appear, and looking one up reloads.
    """

    def __init__(self, load):
        super().__init__()
        self._load = load
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        with self._lock:
            fresh = self._load()
            self.update(fresh)

    def __missing__(self, key):
        self.refresh()
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key, default=None):
        if not dict.__contains__(self, key):
            self.refresh()
        return dict.get(self, key, default)

    # Iterate over a copy (taken atomically in C): another thread may be adding ids.
    def __iter__(self):
        return iter(dict.copy(self))

    def keys(self):
        return dict.copy(self).keys()

    def values(self):
        return dict.copy(self).values()

    def items(self):
        return dict.copy(self).items()


class Definitions:
    """Per-process copies of what every request needs besides its records: user names,
    units, and the entity-type versions (kept ``ttl`` seconds; only read-only requests use
    them, so a type changed elsewhere is seen by reads within ``ttl``, by writes at once)."""

    def __init__(self, platform, ttl: float):
        self.platform, self.ttl = platform, ttl

        def load(q):
            def run():
                with platform.engine.connect() as conn, conn.begin():
                    return {r[0]: (r[1] if len(r) == 2 else tuple(r[1:])) for r in conn.execute(q)}
            return run

        self.users = _Names(load(select(db.users.c.id, db.users.c.name)))
        self.units = _Names(load(select(db.units.c.id, db.units.c.name, db.units.c.path)))
        self.unit_names = _Names(load(select(db.units.c.id, db.units.c.name)))
        self._types: tuple[float, dict] | None = None
        self._types_query = select(db.entity_types.c.name, db.entity_types.c.version)

    def types(self, conn) -> dict:
        now = time.monotonic()
        if self._types is None or self._types[0] <= now:
            self._types = (now + self.ttl, dict(conn.execute(self._types_query).all()))
        return self._types[1]


class ReadSession(Session):
    """A read-only Session served from :class:`Definitions` (users, units, type versions)."""

    def __init__(self, platform, conn, actor, definitions: Definitions):
        super().__init__(platform, conn, actor)
        self._defs = definitions

    def entity_types_map(self) -> dict[str, int]:
        if self._types is None:
            self._types = self._defs.types(self.conn) if self._defs.ttl > 0 else super().entity_types_map()
        return self._types

    def user_names(self) -> dict[int, str]:
        return self._defs.users

    def _unit_rows(self) -> dict[int, tuple[str, str]]:
        return self._defs.units

    def unit_names(self) -> dict[int, str]:
        return self._defs.unit_names


class DocumentCache:
    """Documents built from the entity types (the OpenAPI document), kept per process and
    keyed by the type versions they were built from.

    A type's version changes with every change of its definition and never repeats, not even
    after the type is removed and added again (entity_types.add), so ``{name: version}``
    names the definitions exactly: a changed, added or removed type makes a new key, and the
    next request builds anew. The document is public and may be costly to build, so it is
    built once per set of definitions instead of on every request.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._items: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def get(self, types: dict[str, int], extra: tuple, build):
        """What ``build()`` returns for the types at these versions and ``extra`` (other
        inputs, such as the largest page size): built on the first call, then shared (the
        caller must not change it)."""
        key = (tuple(sorted(types.items())), extra)
        hit = self._items.get(key)
        if hit is None:
            # Two threads may both build it; the second result simply replaces the first.
            hit = build()
            with self._lock:
                if len(self._items) >= self.size:  # older definitions: not asked for again
                    self._items.clear()
                self._items[key] = hit
        return hit


_documents: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_documents_lock = threading.Lock()


def documents(platform) -> DocumentCache:
    """The :class:`DocumentCache` of ``platform`` (one per Platform object, gone with it)."""
    with _documents_lock:
        cache = _documents.get(platform)
        if cache is None:
            cache = _documents[platform] = DocumentCache()
        return cache
