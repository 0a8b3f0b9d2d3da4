"""The :class:`DemoSession` of ``xrm demo`` (apart from the command, so that loading the
``xrm`` commands does not import the platform's session and SQLAlchemy)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import accounts, db
from ..session import Session

if TYPE_CHECKING:
    from .demo_cmds import _Progress


class DemoSession(Session):
    """The session the ``xrm_demo_data`` hooks get: the admin's :class:`Session` on the
    demo's one transaction. It counts the records created for the progress display, and
    its users with one password share one hash. ``scale`` is the size factor the data set
    should have (``xrm demo --scale``, default 1)."""

    def __init__(self, platform, conn, actor, progress: "_Progress", scale: float = 1.0):
        super().__init__(platform, conn, actor)
        self.scale = scale
        self._progress = progress
        self._hashes: dict[str, str] = {}

    def create_many(self, type_name: str, rows, unit: str | None = None) -> list:
        created = super().create_many(type_name, rows, unit)
        self._progress.add(type_name, len(created))
        return created

    def create(self, type_name: str, data: dict, unit: str | None = None):
        created = super().create(type_name, data, unit)
        self._progress.add(type_name, 1)
        return created

    def create_user(self, name: str, unit: str, roles=(), password: str | None = None) -> dict:
        """Create user ``name`` in ``unit`` with ``roles``; see ``xrm users create``. Users given
        the same password share one hash: argon2 is slow on purpose, a demo has many users."""
        user = super().create_user(name, unit, roles)
        if password is not None:
            if password not in self._hashes:
                self._hashes[password] = accounts.hash_password(password)
            self.conn.execute(db.users.update().where(db.users.c.name == name)
                              .values(password_hash=self._hashes[password]))
        self.invalidate()
        return user
