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
from ...keys import KEY_TYPES
from . import listing
from .common import acting
from .form_errors import FormErrors
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
                errors.add(f"{nothing} {refused}", "file")
                if report is None:  # refused before any row was read (a key that is no field…)
                    return render_template("import.html", refused=refused, **page), 422
    status = 422 if refused else 200
    return render_template("import.html", report=report, refused=refused, dry_run=dry_run, name=name,
                           **page), status
