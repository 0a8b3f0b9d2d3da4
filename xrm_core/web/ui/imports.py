"""Importing a CSV or JSONL file from a type's list page: what ``xrm import`` does, for
staff who do not use the command line.

The upload is written to a temporary directory under its own (base) name, so the records'
history says which file they came from, and imported as the logged-in user: their create
grant and unit decide, as everywhere. The options are the command's: check only (a dry
run), import the valid rows and skip the others, and update the records a key field names.
The report lists every invalid row with its line and field (the first :data:`SHOWN`).
"""
from __future__ import annotations

import os
import tempfile

from flask import abort, render_template, request
from flask_babel import gettext as _

from ... import importer
from ...errors import ValidationError
from ...import_files import FileRefused, csv_rows, jsonl_rows
from ...keys import KEY_TYPES
from . import core_messages, listing, required_reasons, schema_messages
from .common import acting
from .form_errors import FormErrors
from .i18n import digits
from .pages import bp

#: Invalid rows listed on the page (the counts cover them all).
SHOWN = 200
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _key_fields(et) -> list[str]:
    """Top-level fields that can name a record to update: one string, number or boolean."""
    return [f for f in et.properties() if et.property_type(f) in KEY_TYPES and "." not in f]


#: Bytes (UTF-8) of an upload's name kept: file systems allow 255 bytes, not characters.
NAME_BYTES = 200


def _upload_name(filename: str | None) -> str:
    """The uploaded file's base name, safe to create in a directory of our own: no path
    separators, control characters or leading dots, at most :data:`NAME_BYTES` bytes of
    UTF-8 (a longer name is shortened before its extension, which decides the format);
    "upload" if nothing is left."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().lstrip(".")
    stem, ext = os.path.splitext(name)
    if len(ext.encode()) > 16:  # no extension of ours: shorten the name as a whole
        stem, ext = name, ""
    room = NAME_BYTES - len(ext.encode())
    stem = stem.encode()[:room].decode(errors="ignore").strip()
    return stem + ext if stem else "upload" + ext if ext else "upload"


@bp.route("/<type_name>/import", methods=["GET", "POST"])
def import_page(type_name: str):
    with acting(write=request.method == "POST") as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        if not s.actor.can(et.name, "create"):
            abort(403)
        keys = _key_fields(et)
        # A problem of the file (none chosen, not CSV or JSONL, refused) is said at its input.
        errors = FormErrors("import", {"file": _("File (CSV or JSON Lines)"),
                                       "update_by": _("Rows that name an existing record by")})
        page = {"et": et, "type_label": listing.type_label(et, True), "keys": keys, "errors": errors,
                "label": lambda n: listing.field_label(et, n), "form": request.form, "shown": SHOWN}
        if request.method == "GET":
            return render_template("import.html", **page)
        upload = request.files.get("file")
        update_by = request.form.get("update_by") or None
        if update_by is not None and update_by not in keys:
            abort(400)
        name = _upload_name(upload.filename if upload else None)
        fmt = FORMATS.get(os.path.splitext(name)[1].lower())
        if upload is None or not upload.filename:
            problem = _("Choose a file to import.")
        elif fmt is None:
            problem = _("Import reads CSV (.csv) and JSON Lines (.jsonl) files; %(name)s is neither.", name=name)
        else:
            problem = None
        if problem:
            errors.add(problem, "file")
            return render_template("import.html", **page), 422
        dry_run = bool(request.form.get("dry_run"))
        with tempfile.TemporaryDirectory(prefix="xrm-import-") as tmp:
            path = os.path.join(tmp, name)
            upload.save(path)
            try:
                report = importer.import_file(s, et.name, path, fmt, bool(request.form.get("skip_invalid")),
                                              dry_run, update_by=update_by)
                refused = None
            except ValidationError as e:
                report = e.extra.get("report")
                refused = e.message
                # The rows' errors are the report's table (there may be thousands): the
                # summary and the file input say that nothing was imported, and why.
                nothing = _("Nothing was imported.")  # outside the f-string, where pybabel finds it
                if report is not None and report.get("invalid"):
                    # Said for this page: the core's message speaks of the command's --skip-invalid.
                    total = report.get("total", 0)
                    why = _("%(invalid)s of %(total)s rows are invalid: correct them, or tick “Import the "
                            "valid rows and skip the invalid ones”.",
                            invalid=digits(total - report.get("valid", 0)), total=digits(total))
                    errors.add(f"{nothing} {why}", "file")
                else:
                    errors.add(f"{nothing} {refused}", "file")
                if report is None:  # refused before any row was read (a key that is no field…)
                    return render_template("import.html", refused=refused, **page), 422
            if report and report.get("invalid"):
                report = {**report, "invalid": _worded(et, path, fmt, name, report["invalid"])}
    status = 422 if refused else 200
    return render_template("import.html", report=report, refused=refused, dry_run=dry_run, name=name,
                           **page), status


def _worded(et, path: str, fmt: str, source: str, invalid: list[dict]) -> list[dict]:
    """The report's invalid rows (the first :data:`SHOWN`) with each schema error said in the
    UI's language, as a form says it: the core words them in English, from the validator,
    and the report keeps no row's data, so the file's rows of those lines are read again and
    validated once more (:func:`.schema_messages.translate`). A cell the file could not
    convert keeps the core's words, translated where the core's fixed words are
    (:func:`.core_messages.pointer_word`); a file that cannot be read again keeps them all."""
    wanted = {r.get("line") for r in invalid[:SHOWN]}
    data_of: dict[int, object] = {}
    try:
        with open(path, "rb") as f:
            rows = csv_rows(f, et, source) if fmt == "csv" else jsonl_rows(f, source, et)
            for line, data, _cells in rows:
                if line in wanted:
                    data_of[line] = data
                    if len(data_of) == len(wanted):
                        break
    except (FileRefused, OSError, ValueError):
        pass
    out = []
    for r in invalid[:SHOWN]:
        errs = r.get("errors", [])
        data = data_of.get(r.get("line"))
        if isinstance(data, dict):
            errs = schema_messages.translate(errs, et.validator, data, prefix="", schema=et.schema,
                                             hint=lambda ptr, pat: listing.pattern_hint(et, ptr, pat, prefix=""),
                                             reason=required_reasons.reason_for(et, prefix=""))
        errs = [{**e, "message": core_messages.pointer_word(e.get("message")) or e.get("message", "")}
                for e in errs]
        out.append({**r, "errors": errs})
    return out + invalid[SHOWN:]
