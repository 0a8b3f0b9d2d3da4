"""RFC 9457 problem details for every API error."""
from __future__ import annotations

from flask import Response, json

from ..errors import XrmError

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, errors: list | None = None, **extra) -> Response:
    """An RFC 9457 ``application/problem+json`` response; ``errors`` lists ``{pointer, message}``."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM)


def from_error(e: XrmError, status: int | None = None) -> Response:
    """The problem for a platform error (its status unless ``status`` is given).

    Extra members pass through (``existing``: the id of the record a unique key clashes
    with, set by the core only when the caller may read it), except the CLI's bulky reports.
    """
    d = e.to_dict()
    extra = {k: v for k, v in d.items() if k not in ("title", "status", "detail", "errors", "report", "impact")}
    return problem(status or e.status, d["title"], d["detail"], d.get("errors"), **extra)
