"""What a file import runs inside, whatever it imports (records: :mod:`xrm_core.importer`;
links: :mod:`xrm_core.relationship_files`): its FILE opened, a progress bar, the exception
that rolls its savepoint back, and the report settled at the end.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys

from .errors import ValidationError

PROGRESS_BYTES = 1_000_000


class Rollback(Exception):
    """Rolls back the import's savepoint (dry run, or refused)."""


class Progress:
    """A bytes-read progress bar on stderr, for files over PROGRESS_BYTES."""

    def __init__(self, f, enabled: bool):
        self.f, self.bar, self.last = f, None, 0
        try:
            size = os.fstat(f.fileno()).st_size if enabled else 0  # 0 for a pipe
        except (OSError, ValueError, io.UnsupportedOperation):  # standard input that is no file
            size = 0
        if enabled and size > PROGRESS_BYTES:
            import click
            self.bar = click.progressbar(length=size, label="importing", file=sys.stderr, show_eta=True)

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def tick(self):
        if self.bar is not None:
            pos = self.f.tell()
            self.bar.update(pos - self.last)
            self.last = pos

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def open_input(path: str) -> tuple:
    """``(context, file, name)`` of an import's FILE, opened for reading bytes: ``-`` is
    standard input (left open by the context), named ``stdin``; a file is named by its base
    name (in messages and history). A file that cannot be read is a ValidationError."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer), sys.stdin.buffer, "stdin"
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}") from None
    return f, f, os.path.basename(path)


def finish_report(report: dict, refused: str | None, skip_invalid: bool, dry_run: bool, verb: str,
                  done: str) -> dict:
    """Sort an import's invalid rows by line and settle it: raise the refusal (a whole-file
    problem ``refused``, or invalid rows without ``skip_invalid``) as a ValidationError with
    the report as ``extra["report"]``, else set ``imported`` and return the report.
    ``verb`` (import) and ``done`` (imported) word the messages."""
    invalid = report["invalid"]
    invalid.sort(key=lambda r: r["line"])
    if refused is None and invalid and not skip_invalid:
        refused = (f"{len(invalid)} of {report['total']} rows are invalid; use --skip-invalid to {verb} the "
                   f"valid rows")
    if refused is not None:
        prefix = "dry run: the import would be refused" if dry_run else "import refused"
        raise ValidationError(f"{prefix}: {refused} (nothing {done})",
                              [{"line": r["line"], **e} for r in invalid for e in r["errors"]], report=report)
    report["imported"] = 0 if dry_run else report["valid"]
    return report
