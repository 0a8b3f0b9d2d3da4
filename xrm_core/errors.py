"""Errors the platform raises. Each carries what was wrong and where.

Every error has a ``status`` (the HTTP status the REST API answers with), a message, and
optionally ``errors``: a list of ``{"pointer": "/data/email", "message": "..."}`` (or with a
``line`` for imports) that says exactly where.
"""
from __future__ import annotations


class XrmError(Exception):
    """Base class of every error meant for users (CLI prints it, REST turns it into a problem)."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str, errors: list[dict] | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])
        self.extra = extra

    def to_dict(self) -> dict:
        """The error as a JSON-ready dict (an RFC 9457 problem without the ``type`` URI)."""
        out = {"title": self.title, "status": self.status, "detail": self.message}
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        lines = [self.message]
        for e in self.errors[:50]:
            if not isinstance(e, dict):  # a plugin's malformed refusal still prints, and says what it got
                lines.append(f"  /: {e!r}")
                continue
            where = str(e.get("pointer", ""))
            if "line" in e:
                where = f"line {e['line']} {where}".strip()
            lines.append(f"  {where or '/'}: {e.get('message', '')}")
        if len(self.errors) > 50:
            lines.append(f"  … and {len(self.errors) - 50} more errors")
        return "\n".join(lines)


class ValidationError(XrmError):
    """Data does not satisfy a schema or a rule. Plugins raise it to refuse a change."""

    status = 422
    title = "Validation failed"


class DefinitionError(ValidationError):
    """An entity type, relationship type, KPI or role definition is malformed or invalid."""

    title = "Invalid definition"


class NotFound(XrmError):
    """Unknown, or outside the caller's scope: the two are indistinguishable on purpose."""

    status = 404
    title = "Not found"


class PermissionDenied(XrmError):
    """The caller sees the thing but holds no grant for the action."""

    status = 403
    title = "Forbidden"


class Conflict(XrmError):
    """A uniqueness, cardinality or referential rule refuses the change."""

    status = 409
    title = "Conflict"


class PreconditionFailed(XrmError):
    """A conditional write (``--if-version`` / ``If-Match``) saw another version."""

    status = 412
    title = "Precondition failed"


class AuthenticationError(XrmError):
    """No, unknown or wrong credentials."""

    status = 401
    title = "Unauthorized"


class DatabaseBusy(XrmError):
    """The database gave this change up so that another could go on: a deadlock, a
    serialization failure or a lock timeout on PostgreSQL, SQLite's write lock held past its
    busy timeout. The transaction was rolled back, so nothing was saved, and the same change
    may well succeed when tried again (REST: 503 with ``Retry-After``)."""

    status = 503
    title = "Database busy"
    #: Seconds a client should wait before trying again (REST ``Retry-After``).
    retry_after = 1


class PluginError(XrmError):
    """A plugin hook raised something other than ValidationError; the change was rolled back."""

    status = 500
    title = "Plugin failed"

    def __init__(self, plugin: str, hook: str, exc: BaseException):
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}")
        self.plugin = plugin
        self.hook = hook
        self.__cause__ = exc
