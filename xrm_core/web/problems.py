"""RFC 9457 problem details for every API error."""
from __future__ import annotations

from flask import Response, json

from ..errors import XrmError

PROBLEM = "application/problem+json"


#: The most ``errors`` one problem lists; past it, ``errors_omitted`` says how many more there
#: were. A 4 MB body holding an array of two million wrong items drew two million errors: a
#: 150 MB answer that kept a worker busy for over a minute, from one request.
MAX_ERRORS = 100


#: The longest error message a problem carries. A schema library's message may quote the
#: value it is about ("[1,1,…] has non-unique elements"): a 2 MB array made a 2 MB message,
#: once for every schema keyword the value failed.
MAX_MESSAGE = 1000


def _short(error):
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and len(message) > MAX_MESSAGE:
        return {**error, "message": message[:MAX_MESSAGE - 1] + "…"}
    return error


def problem(status: int, title: str, detail: str, errors: list | None = None, **extra) -> Response:
    """An RFC 9457 ``application/problem+json`` response; ``errors`` lists ``{pointer, message}``
    (the first :data:`MAX_ERRORS` of them, with ``errors_omitted``: the number left out). A
    422 always has ``errors``: one for the whole document (pointer ``""``) when none is given.

    ``errors_incomplete`` (true) says that ``errors`` is not every error there is, whoever
    left some out: this function past :data:`MAX_ERRORS` (it counts them), or the core, which
    checks large data up to its first error (it cannot count the rest, and sets the member
    itself). One member for a client to test, whichever way the list was cut short.
    """
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if status == 422 and not errors:
        # The contract gives every validation problem its errors: a refusal without any (a
        # plugin's ValidationError("message")) is about the whole document.
        errors = [{"pointer": "", "message": detail}]
    if errors:
        body["errors"] = [_short(e) for e in errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            body["errors_omitted"] = len(errors) - MAX_ERRORS
            body["errors_incomplete"] = True
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
