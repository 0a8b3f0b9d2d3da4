"""The record form: create and edit a record (routes on ``pages.bp``), the schema's and
the core's refusals said at the inputs they concern."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ... import records
from ...errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError
from . import core_messages, forms, listing, required_reasons, schema_messages
from .common import acting
from .i18n import digits
from .pages import _fields, _RowView, bp
from .record_titles import _title_of
from .reference_inputs import _check_refs, _with_choices


def _render_form(et, fields, values, errors, general, rec=None, status=200):
    """The form page of ``et`` (editing ``rec`` when given) showing ``values``, the field
    ``errors`` and ``general`` messages, with its HTTP ``status``."""
    return render_template("form.html", et=et, fields=fields, values=values, errors=errors, general=general,
                           rec=rec, type_label=listing.type_label(et), input_type=forms.input_type,
                           date_hint=forms.date_hint,
                           title=_title_of(et, rec) if rec else None), status


@bp.route("/<type_name>/new", methods=["GET", "POST"])
def create(type_name: str):
    with acting(write=request.method == "POST") as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        if not s.actor.can(et.name, "create"):
            abort(403)
        fields = _fields(s, et)
        if request.method == "GET":
            _with_choices(s, fields, {})
            return _render_form(et, fields, forms.defaults(fields), {}, [])
        data, errors = forms.read_form(fields, request.form)
        _check_refs(s, fields, data, errors)
        general = []
        if errors:
            _schema_errors_too(et, data, fields, errors)
        else:
            try:
                rec = s.create(et.name, data)
            except (ValidationError, Conflict) as e:
                errors, general = _errors(e, fields, et, data)
            else:
                flash(_("Created."), "ok")
                return redirect(url_for("pages.show", type_name=et.name, record_id=rec.id))
        _with_choices(s, fields, request.form)
    return _render_form(et, fields, request.form, errors, general, status=422)


@bp.route("/<type_name>/<record_id>/edit", methods=["GET", "POST"])
def edit(type_name: str, record_id: str):
    with acting(write=request.method == "POST") as s:
        rec = s.get(record_id)
        if rec.type != type_name:
            raise NotFound(f"no record {record_id!r}")
        if not s.allows(rec.type, "update", _RowView(rec)):
            abort(403)
        et = s.entity_type(rec.type)
        fields = _fields(s, et)
        if request.method == "GET":
            values = {f.input: forms.shown(f, rec.data.get(f.name)) for f in fields}
            _with_choices(s, fields, values)
            return _render_form(et, fields, values, {}, [], rec)
        # The form carries the version it was built from: a stale form is refused (If-Match
        # semantics) instead of silently overwriting someone else's change.
        version = forms.version_of(request.form.get("version"))
        patch, errors = forms.read_form(fields, request.form, rec.data)
        _check_refs(s, fields, patch, errors, rec.data)
        general, status = [], 422
        if errors:
            _schema_errors_too(et, records.with_members(rec.data, patch), fields, errors)
        else:
            try:
                s.update(rec.id, patch, if_version=version, replace_members=True)
            except PreconditionFailed:
                status = 409
                general = [_("This record was changed by someone else since you opened the form "
                             "(it is now at version %(v)s). Reload it and make your change again.",
                             v=digits(rec.version))]
            except PermissionDenied as e:
                # The user may update the record (checked above): what refused is the change
                # itself — a plugin moving the record where the user may not place it. Said on
                # the form, whose input is kept, not on an error page that loses it.
                status = 403
                said = core_messages.explain(e)
                general = [said.text] + ([said.detail] if said.detail else [])
            except (ValidationError, Conflict) as e:
                errors, general = _errors(e, fields, et, records.with_members(rec.data, patch))
            else:
                flash(_("Saved."), "ok")
                return redirect(url_for("pages.show", type_name=et.name, record_id=rec.id))
        _with_choices(s, fields, request.form)
    return _render_form(et, fields, request.form, errors, general, rec, status=status)


def _schema_errors_too(et, data: dict, fields, errors: dict) -> None:
    """Add the schema's errors for the other inputs to ``errors`` (the form's own checks
    refused some), so every field's problem shows on the first submit. Nothing is written;
    an input already refused keeps its own message."""
    found = schema_messages.translate(et.errors(data, "/data"), et.validator, data, hint=_pattern_hint(et),
                                      schema=et.schema, reason=required_reasons.reason_for(et))
    more, _general = forms.field_errors(ValidationError("", found), {f.name for f in fields})
    for name, message in more.items():
        errors.setdefault(name, message)


def _pattern_hint(et):
    """``hint(pointer, pattern)`` for :func:`.schema_messages.translate`: the schema's words
    for the form a pattern asks for (:func:`.listing.pattern_hint`)."""
    return lambda pointer, pattern: listing.pattern_hint(et, pointer, pattern)


def _errors(e, fields, et, data: dict) -> tuple[dict, list]:
    """Field errors and form-level messages of a refused create or update of ``data``, in
    the UI's language: the schema's errors, the core's fixed words at a field ("already
    used"), and a conflict said from its class and pointers with the core's message as detail."""
    found = e.errors
    if isinstance(e, ValidationError) and found:
        # Worded from the data checked: a plugin's before_* hook may have changed what was posted.
        checked = getattr(e, "checked_data", None)
        found = schema_messages.translate(found, et.validator, checked if isinstance(checked, dict) else data,
                                          hint=_pattern_hint(et), schema=et.schema,
                                          reason=required_reasons.reason_for(et))
    found = [{**err, "message": core_messages.pointer_word(err.get("message")) or err.get("message", "")}
             if isinstance(err, dict) else err for err in found]
    errors, general = forms.field_errors(ValidationError(e.message, found), {f.name for f in fields},
                                         where=lambda ptr: listing.record_pointer_label(et, ptr))
    if isinstance(e, Conflict) and not general:
        # e.g. "a person with national_id='X' already exists": the field is marked, the page says why
        general = [core_messages.explain(e, lambda n: listing.field_label(et, n)).said()]
    return errors, general
