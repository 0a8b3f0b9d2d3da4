"""The text a plugin declares that the admin UI shows, and the Babel extraction method for it.

A definition's labels are plain strings or ``{lang: text}`` dicts (DESIGN §3). What the
UI shows of each kind of definition is listed in :data:`SHOWN`; JSON Schema ``title`` and
``description`` of a type's properties are shown by the record forms too. The same list
serves three purposes:

- it documents what the UI looks up in the declaring plugin's catalogue
  (:func:`.i18n.tr`, :mod:`.plugin_catalogues`);
- :func:`extract_plugin`, a Babel extraction method named in a plugin's ``babel.cfg``,
  gives ``pybabel extract`` these strings, from what the plugin's hooks return;
- a plugin's tests can check that its catalogues translate all of them
  (:func:`plugin_texts`).

A message id is the declared text itself: a plain string, or the English (``en``) text of a
dict that lacks one of the UI's languages (the catalogue fills in what the dict does not
say). A dict with every language is complete as it is and needs no catalogue entry.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from types import ModuleType

from ...validation import pointer as _pointer
from .i18n import LANGUAGES


def _token(key) -> str:
    """``key`` as one JSON-pointer token (RFC 6901 escapes, as everywhere in the core)."""
    return _pointer([key])[1:]

#: Where each kind of definition (by the hook that declares it) holds text the admin UI
#: shows, as JSON pointers; ``*`` stands for any key. The description of a type (its list,
#: type page and the types list), an activity kind (the picker that logs one) and a role
#: (the roles list, the users' role pickers) is shown, and so is a relationship type's (the
#: record page's related records and link picker, the link page, the type page).
SHOWN = {
    "xrm_entity_types": ("/label", "/plural_label", "/description", "/field_labels/*", "/value_labels/*/*"),
    "xrm_relationship_types": ("/label", "/inverse_label", "/description"),
    "xrm_activity_kinds": ("/label", "/description"),
    "xrm_kpis": ("/label", "/description", "/unit"),
    "xrm_roles": ("/label", "/description"),
}

#: The "hook" under which :func:`plugin_texts` reports a plugin's own name (:func:`plugin_summary`).
PLUGIN_NAME = "plugin"

#: A name longer than this is no name (a docstring that starts with a paragraph).
SUMMARY_LIMIT = 80


#: A docstring's first line that names its module: ``NAME — Title…`` (an em dash, en dash
#: or spaced hyphen), the form of the Python library reference's module headings.
TITLED = re.compile(r"^[A-Za-z_][\w.]*\s+(?:—|–|-{1,2})\s+(?P<title>\S.*)$")


def plugin_summary(plugin) -> str | None:
    """The human name of ``plugin`` (a module, or an object): the title its docstring (the
    module's, or its class's) gives itself, or None when it gives none.

    Why the docstring: it is the one text every plugin already has, per plugin (a
    distribution may ship several, as this one ships four, so its ``Summary`` names none of
    them), in the package whose catalogue translates the plugin's text, and it needs nothing
    added to the plugin API. Only a docstring whose first paragraph reads ``NAME — title``
    names the plugin: a docstring that starts with a sentence ("Hooks that add tickets.")
    describes it, and the entry-point name is the better chip. The title runs to the first
    ``:`` or the end of the first sentence, capitalised: ``helpdesk — the help desk:
    tickets, agents…`` gives "The help desk"."""
    if isinstance(plugin, ModuleType):
        doc = plugin.__doc__
    else:
        cls = type(plugin)
        # A class of the standard library (a SimpleNamespace standing in for a plugin) says
        # what that class is, not what the plugin is.
        doc = None if cls.__module__.split(".")[0] in sys.stdlib_module_names else cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return None
    titled = TITLED.match(" ".join(doc.strip().split("\n\n", 1)[0].split()))
    if titled is None:
        return None
    title = re.split(r":\s|\.(?:\s|$)", titled["title"], maxsplit=1)[0].strip().rstrip(".:")
    if not title or len(title) > SUMMARY_LIMIT:
        return None
    return title[0].upper() + title[1:]

#: The UI's languages, English (the language of message ids) first.
UI_LANGUAGES = tuple(LANGUAGES)

#: The metadata of a Python KPI object that the UI shows (the ``xrm_kpis`` entries of SHOWN).
KPI_ATTRIBUTES = ("label", "description", "unit")


def shown_texts(hook: str, definition) -> Iterator[tuple[str, object]]:
    """``(pointer, text)`` for every text of ``definition`` (a dict, or a Python KPI object)
    that the UI shows; ``text`` is a string or a ``{lang: text}`` dict."""
    if not isinstance(definition, dict):
        definition = {a: getattr(definition, a, None) for a in KPI_ATTRIBUTES}
    for pattern in SHOWN.get(hook, ()):
        yield from _matches(definition, pattern.split("/")[1:], "")
    if hook == "xrm_entity_types" and isinstance(definition.get("schema"), dict):
        yield from _schema_texts(definition["schema"], "/schema")


def _matches(value, parts: list[str], pointer: str) -> Iterator[tuple[str, object]]:
    if not parts:
        if isinstance(value, (str, dict)):
            yield pointer, value
        return
    if not isinstance(value, dict):
        return
    head, rest = parts[0], parts[1:]
    keys = list(value) if head == "*" else [head] if head in value else []
    for key in keys:
        yield from _matches(value[key], rest, f"{pointer}/{_token(key)}")


def _schema_texts(schema, pointer: str) -> Iterator[tuple[str, object]]:
    """The ``title`` and ``description`` of every property subschema, at any depth."""
    if isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from _schema_texts(sub, f"{pointer}/{i}")
        return
    if not isinstance(schema, dict):
        return
    for key, sub in schema.items():
        here = f"{pointer}/{_token(key)}"
        if key == "properties" and isinstance(sub, dict):
            for name, prop in sub.items():
                prop_pointer = f"{here}/{_token(name)}"
                if isinstance(prop, dict):
                    for word in ("title", "description"):
                        if isinstance(prop.get(word), str):
                            yield f"{prop_pointer}/{word}", prop[word]
                yield from _schema_texts(prop, prop_pointer)
        elif isinstance(sub, (dict, list)):
            yield from _schema_texts(sub, here)


def catalogue_id(text) -> str | None:
    """The message id under which a catalogue translates ``text``: a plain string itself,
    the English of a dict lacking one of the UI's languages, else None (nothing to look up)."""
    if isinstance(text, str):
        return text.strip() and text or None
    if isinstance(text, dict) and any(not text.get(lang) for lang in UI_LANGUAGES[1:]):
        english = text.get("en")
        return english if isinstance(english, str) and english.strip() else None
    return None


def catalogue_ids(hook: str, definition) -> Iterator[tuple[str, str]]:
    """``(pointer, message id)`` of the texts of ``definition`` a catalogue should translate."""
    for pointer, text in shown_texts(hook, definition):
        msgid = catalogue_id(text)
        if msgid is not None:
            yield pointer, msgid


# -- the Babel extraction method ----------------------------------------------------------

def plugin_texts(module) -> Iterator[tuple[str, str, str, str]]:
    """``(hook, definition name, pointer, message id)`` of every text a catalogue of the
    plugin ``module`` should translate, from what its definition hooks return (the JSON
    files of ``json_definitions``, Python KPI objects, definitions built in code alike), and
    the plugin's name (:func:`plugin_summary`, as ``("plugin", module name, "/__doc__", name)``)."""
    summary = plugin_summary(module)
    if summary is not None:
        yield PLUGIN_NAME, str(getattr(module, "__name__", type(module).__name__)), "/__doc__", summary
    for hook in SHOWN:
        implementation = getattr(module, hook, None)
        if not callable(implementation):
            continue
        for definition in implementation() or []:
            name = definition.get("name") if isinstance(definition, dict) else getattr(definition, "name", None)
            for pointer, msgid in catalogue_ids(hook, definition):
                yield hook, str(name), pointer, msgid


#: What a definition of each hook is called in a translator's comment.
KINDS = {PLUGIN_NAME: "the name of plugin", "xrm_entity_types": "entity type", "xrm_relationship_types": "relationship type",
         "xrm_activity_kinds": "activity kind", "xrm_kpis": "KPI", "xrm_roles": "role"}


def extract_plugin(fileobj, keywords, comment_tags, options):
    """Babel extraction method giving ``pybabel extract`` the text a plugin declares for the UI.

    Map it to the package's ``__init__.py`` in the plugin's ``babel.cfg`` (the pattern only
    makes ``pybabel`` call it once); the option ``module`` names the plugin module, the one
    its entry point names (``xrm_crm`` for ``plugins/crm``, ``my_plugin.plugin``), else it is
    the package of that ``__init__.py``. The module is imported and its definition hooks
    called, so every text counts however it is declared: the JSON files of
    ``json_definitions``, a Python KPI's computed description. Each message's comment says
    what it labels (``KPI nps: /description``) for the translator."""
    name = options.get("module") or _module_name(getattr(fileobj, "name", ""))
    if not name:
        raise ValueError("the xrm plugin extraction method needs the option module = PLUGIN_MODULE (babel.cfg)")
    module = importlib.import_module(name)
    for hook, definition, pointer, msgid in plugin_texts(module):
        yield 0, None, msgid, [f"{KINDS[hook]} {definition}: {pointer}"]


def _module_name(path: str) -> str | None:
    """The package an ``__init__.py`` belongs to, by its folder's name (``my_plugin/__init__.py``)."""
    folder = os.path.basename(os.path.dirname(os.path.abspath(path))) if path else ""
    return folder if folder.isidentifier() else None
