"""Which record types an ``xrm_record_event`` implementation is called for.

By default an implementation is called for every record event of every type. Most answer
only a few types and return at once for the rest — which still costs a call per event, two
per imported row. ``@for_types`` says so up front: the platform then never calls the
implementation for other types, and an import of a type no implementation asks for runs
without hooks at all (one validation per row, no per-row savepoints).
"""
from __future__ import annotations

from typing import Callable

#: The attribute ``for_types`` sets on the implementation.
ATTRIBUTE = "xrm_record_types"


def for_types(*names: str) -> Callable:
    """Decorate an ``xrm_record_event`` implementation to be called only for records of the
    entity types ``names``::

        @hookimpl
        @for_types("ticket", "visit")
        def xrm_record_event(event, record, changes, session): ...
    """
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError("for_types() takes one or more entity type names")

    def mark(function: Callable) -> Callable:
        setattr(function, ATTRIBUTE, frozenset(names))
        return function
    return mark


def types_of(function: Callable) -> frozenset[str] | None:
    """The types ``function`` was marked with, or None (called for every type)."""
    return getattr(function, ATTRIBUTE, None)
