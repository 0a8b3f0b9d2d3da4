"""The layout of a record form's nested inputs for the template (``form.html``): each group's
and list's fieldsets, rows and inputs with their values, and each error at the input it is
about (:mod:`.nested_inputs` reads and shows the values; this module places them)."""
from __future__ import annotations

import re

from flask_babel import gettext as _

from . import listing
from .i18n import digits
from .nested_inputs import (MAX_ROWS, Inputs, _escape_token, _row_blank, default_inputs, dom, json_box, name_of,
                            row_limit, rows)


class FormView:
    """What the template shows of a form: ``nodes`` (a group or list field's inputs, by field
    name), ``texts`` (a one-input field's message, by name) and ``entries`` (the summary: each
    refused input's ``{"id", "label", "text", "pointer"}``, in the form's order; ``pointer``
    is the JSON pointer into the record of what the input holds, ``/data/address/city``).

    A message about a part of a value deeper than its input (a member inside a JSON box, an
    undeclared key of a group) says where it is with the labels the form would give it
    (``item 1 › Quantity: …``), not the keys of its path."""

    def __init__(self, fields, values, errors):
        self.nodes, self.texts, self.entries = {}, {}, []
        #: The entity type the fields are of (:func:`.forms.build`), for the labels of paths.
        self.et = getattr(fields, "et", None)
        self.ref_titles = getattr(fields, "ref_titles", {})
        #: The records each nested reference input offers, one list per entity type (the
        #: template writes one <datalist> per type, which every such input names).
        self.ref_options = getattr(fields, "ref_options", {})
        nested = getattr(errors, "nested", {})
        for f in fields:
            mine = {k: m for k, m in nested.items() if k[0] == f.name}
            if f.widget in ("group", "list"):
                node = self._layout(f, values)
                self._bind(node, f, mine, errors)
                self.nodes[f.name] = node
                self._collect(node, f.label)
            elif f.name in errors:
                self.texts[f.name] = self._said(errors[f.name])
                self.entries.append({"id": "f-" + f.dom_id, "label": f.label, "text": self.texts[f.name],
                                     "pointer": _pointer((f.name,))})

    # -- layout --
    def _layout(self, f, values):
        shown = values.get(f.input)
        if isinstance(shown, str) or (shown is not None and not isinstance(shown, Inputs)):
            box = json_box(f)
            return {"kind": "json", "f": box, "name": f.input, "id": "f-" + f.dom_id, "value": shown,
                    "keys": (f.name,), "errors": [], "label": f.label,
                    "example": f.example}
        source = shown if isinstance(shown, Inputs) else values
        return self._node(f, f.path, (f.name,), source, f.label, top=True)

    def _node(self, f, names, keys, source, label, top=False):
        name = name_of(names)
        ident = "f-" + (f.dom_id if top else dom(name))
        if f.widget == "group":
            return {"kind": "group", "f": f, "id": ident, "name": name, "label": label, "keys": keys, "errors": [],
                    "children": [self._node(c, names + (c.name,), None if keys is None else keys + (c.name,),
                                            source, c.label) for c in f.children]}
        if f.widget == "list":
            out, count = [], 0
            numbers = rows(source, name)[:MAX_ROWS]  # more is refused (overflow), not shown
            new = None
            if not numbers or (len(numbers) < row_limit(f) and not _row_blank(source, f.item, names + (numbers[-1],))):
                # One row to type a new item in, numbered after the last, as the defaults fill
                # it; none in a list as long as it may be.
                new = str(max([int(n) for n in numbers] + [-1]) + 1)
                numbers.append(new)
            for position, n in enumerate(numbers, 1):
                empty = _row_blank(source, f.item, names + (n,))
                row_keys = None if empty or keys is None else keys + (str(count),)
                count += 0 if empty else 1
                row_label = _("%(field)s, item %(n)s", field=label, n=digits(position))
                inputs = default_inputs(f.item, names + (n,)) if n == new else source
                item = self._node(f.item, names + (n,), row_keys, inputs, row_label)
                item["in_row"] = True
                out.append({"node": item,
                            "remove": name_of(names + (n,)), "label": row_label})
            template = self._node(f.item, names + ("__row__",), None, default_inputs(f.item, names + ("__row__",)),
                                  _("%(field)s, new item", field=label))
            template["in_row"] = True
            return {"kind": "list", "f": f, "id": ident, "name": name, "label": label, "keys": keys, "errors": [],
                    "rows": out, "add": name, "template": template, "limit": row_limit(f),
                    "full": _("%(field)s holds at most %(n)s items.", field=label, n=digits(row_limit(f)))}
        value = source.get(name, "")
        value = value if isinstance(value, str) else ""
        node = {"kind": "input", "f": f, "name": name, "id": ident, "value": value, "label": label,
                "keys": keys, "errors": []}
        if f.widget == "ref":
            # A picker as at the top level (form.html): the records offered, and which one
            # the value names now. Nothing to offer (a type the user cannot read): typed.
            node["options"] = "dl-ref-" + dom(f.ref) if self.ref_options.get(f.ref) is not None else None
            node["current"] = self.ref_titles.get(value, "")
        return node

    # -- errors --
    def _bind(self, node, f, mine, errors):
        at = {}

        def index(n):
            if n.get("keys") is not None:
                at[n["keys"]] = n
            for c in n.get("children", []):
                index(c)
            for r in n.get("rows", []):
                index(r["node"])
        index(node)
        if not mine and f.name in errors:
            node["errors"].append(errors[f.name])  # said of the field as a whole
        for path, message in mine.items():
            for cut in range(len(path), 0, -1):
                target = at.get(path[:cut])
                if target is not None:
                    target["errors"].append(self._at(path, cut, message))
                    break

    # -- where in a value a message is ---------------------------------------------------
    def _at(self, path: tuple, cut: int, message: str) -> str:
        """``message`` about ``path``, said at the input of ``path[:cut]``: after the labels
        of the rest of the path (``Geo › Latitude: …``) when there is a rest."""
        if cut >= len(path):
            return message
        if self.et is None:
            rest = "/".join(_escape_token(str(p)) for p in path[cut:])
        else:
            rest = " › ".join(listing.path_labels(self.et, path)[cut:])
        return f"{rest}: {message}"

    def _said(self, text):
        """A one-input field's messages (an :class:`.nested_inputs.Said` keeps each with its
        path): each one inside the value after the labels of where it is."""
        labelled = {}  # each message as ErrorMap.add wrote it (its keys first) -> with labels
        for path, message in getattr(text, "parts", ()):
            if len(path) > 1:
                labelled["/".join(_escape_token(str(p)) for p in path[1:]) + ": " + message] = \
                    self._at(path, 1, message)
        if not labelled:
            return text
        # One pass over the messages ("; " between them), the longest first: "street: …"
        # is also the end of "geo/street: …".
        found = "|".join(re.escape(k) for k in sorted(labelled, key=len, reverse=True))
        return re.sub(f"(?:^|(?<=; ))(?:{found})", lambda m: labelled[m.group(0)], str(text))

    def _collect(self, node, trail):
        if node["errors"]:
            self.entries.append({"id": node["id"], "label": trail, "text": "; ".join(node["errors"]),
                                 "pointer": _pointer(node["keys"])})
        for c in node.get("children", []):
            self._collect(c, f"{trail} › {c['label']}")
        for r in node.get("rows", []):
            self._collect(r["node"], r["label"])


def _pointer(keys) -> str | None:
    """The JSON pointer into a record of the value at ``keys`` (a field's name, then members
    and item numbers), or None for a row that is no item yet."""
    if keys is None:
        return None
    return "/data/" + "/".join(_escape_token(str(k)) for k in keys)
