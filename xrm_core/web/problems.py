"""RFC 9457 problem details for every API error."""
from __future__ import annotations

from flask import Response, json

from ..errors import XrmError

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, errors: list | None = None, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM)


def from_error(e: XrmError, status: int | None = None) -> Response:
    d = e.to_dict()
    extra = {k: v for k, v in d.items() if k not in ("title", "status", "detail", "errors")}
    extra.pop("report", None)
    extra.pop("impact", None)
    extra.pop("existing", None)
    return problem(status or e.status, d["title"], d["detail"], d.get("errors"), **extra)
