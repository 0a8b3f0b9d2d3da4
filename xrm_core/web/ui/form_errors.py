"""The errors of a refused form, each tied to the input it is about.

The core points its errors at what they are about (``/password``, ``/unit``, ``/name``, and
``/schema/properties/age`` inside a type definition): the first token of a pointer names one
of a form's inputs. A view names its form's inputs once, in a :class:`FormErrors`, and the
macros of ``macros.html`` render from it

- each input's id (``{form}-{name}``), with ``aria-invalid="true"`` and ``aria-describedby``
  naming its message when it is refused (``control``);
- the message next to the input (``field_error``, id ``{form}-{name}-error``);
- the summary at the top of the form (``error_summary``, ``role="alert"``): what happened,
  then one entry per refused input linking to it (``href="#{form}-{name}"``).

An error that names no input of the form (a conflict, a stale form, a pointer the form has
no input for) is said in the summary only. This is the one place where pointers become
inputs; the generated record forms (``forms.field_errors``) do the same for ``/data/NAME``.
"""
from __future__ import annotations

from ...errors import XrmError
from .forms import unescape_token


class FormErrors:
    """What one form says of a refused submission.

    ``form`` prefixes the form's element ids (a page may hold two forms with a ``name``
    input each); ``inputs`` maps each input's name to its label, in the form's order (the
    summary lists the refused inputs in that order). A message is a text, or ``{"text",
    "detail", "lang", "where"}`` as the ``said`` macro renders it."""

    def __init__(self, form: str, inputs: dict[str, str]):
        self.form = form
        self.inputs = dict(inputs)
        self.fields: dict[str, list] = {}
        self.general: list = []

    # -- element ids -------------------------------------------------------------------
    def id(self, name: str) -> str:
        return f"{self.form}-{name}"

    def error_id(self, name: str) -> str:
        return f"{self.form}-{name}-error"

    @property
    def summary_id(self) -> str:
        return f"{self.form}-errors"

    # -- what the templates read ---------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def invalid(self, name: str) -> bool:
        return name in self.fields

    def messages(self, name: str) -> list:
        return self.fields.get(name, [])

    def entries(self) -> list[dict]:
        """The refused inputs in the form's order: ``{"id", "label", "messages"}``."""
        return [{"id": self.id(name), "label": label, "messages": self.fields[name]}
                for name, label in self.inputs.items() if name in self.fields]

    # -- filling it ----------------------------------------------------------------------
    def add(self, message, name: str | None = None) -> "FormErrors":
        """Say ``message`` at the input ``name``, or in the summary when the form has no such input."""
        if name in self.inputs:
            self.fields.setdefault(name, []).append(message)
        else:
            self.general.append(message)
        return self

    def add_pointer(self, pointer: str, message: str, lang: str | None = None) -> "FormErrors":
        """Say ``message`` at the input the pointer's first token names (the rest of the
        pointer, if any, shown before it), else in the summary with the whole pointer."""
        name = self._input_of(pointer)
        if name is not None:
            tokens = pointer.split("/")
            rest = "/" + "/".join(tokens[2:]) if len(tokens) > 2 else None
            return self.add({"text": message, "lang": lang, "where": rest}, name)
        return self.add({"text": message, "lang": lang, "where": pointer or None})

    def refused(self, e: XrmError, at: dict | None = None, wrap=None) -> "FormErrors":
        """Add a refusal of the core: what happened, in the UI's language (the core's English
        message as its detail), then each of its pointers at its input.

        ``at`` maps an error class to the input a refusal of that class without a pointer of
        the form's is about (``{Conflict: "name"}``: a name already taken), when the view
        knows it; otherwise such a refusal is said in the summary only. ``wrap(text)`` puts
        what happened in a sentence of the page's (``"Not logged: %(msg)s"``)."""
        from .core_messages import explain  # core_messages imports forms, as this does
        said = explain(e)
        tied = [i for i in said.items if self._input_of(i.get("pointer", "")) is not None]
        name = None
        if not tied and at:
            name = next((n for cls, n in at.items() if isinstance(e, cls)), None)
        self.add(said.said(wrap), name)
        for item in said.items:
            self.add_pointer(item.get("pointer", ""), item.get("message", ""), item.get("lang"))
        return self

    def _input_of(self, pointer: str) -> str | None:
        tokens = pointer.split("/")
        name = unescape_token(tokens[1]) if pointer.startswith("/") else None
        return name if name in self.inputs else None
