"""Plugins' own translations: the gettext catalogues a plugin package ships.

A plugin package may carry compiled catalogues beside its code::

    <package>/translations/<lang>/LC_MESSAGES/messages.mo      (and the .po they come from)

where ``<package>`` is the package of the plugin's module (the module the ``xrm.plugins``
entry point names, or the module a plugin object's class is defined in) and ``<lang>`` one
of the UI's languages (``fa``, ``zh``; ``en`` too when a plugin declares its text in
another language). The admin UI looks a declared text up in the catalogue of the plugin
that declared it (the ``source`` the core records with every definition) in the request's
language, and shows the text as declared when there is no translation.

Each plugin has a catalogue of its own rather than one merged catalogue: two plugins may
translate the same English word differently ("Status" of a case, "Status" of a delivery),
and one plugin's catalogue never changes another's text. Catalogues are read with Babel
(:class:`babel.support.Translations`) once per process, package and language, on first use;
a request reads no file.

Definitions made by an administrator (``source`` "admin") are shown as typed. The core's
own declared text (the ``admin`` role, the platform's common schemas) is translated by the
UI's catalogue, through :data:`CORE_TEXTS`.
"""
from __future__ import annotations

import functools
import logging
import sys
from importlib.resources import files
from types import ModuleType

from babel.support import NullTranslations, Translations
from flask import current_app
from flask_babel import gettext

DOMAIN = "messages"
FOLDER = "translations"
#: The ``source`` of what the platform itself declares.
CORE = "core"

log = logging.getLogger(__name__)


def N_(text: str) -> str:
    """Mark ``text`` for ``pybabel extract`` without translating it here."""
    return text


#: Text the core declares like a plugin (stored with ``source`` "core", or in the platform's
#: schemas that plugin types ``$ref``): translated by the UI's own catalogue.
CORE_TEXTS = frozenset({
    N_("Administrator"),
    N_("Id of another record."),
    N_("Telephone number, digits with optional +, spaces, dashes, parentheses."),
    N_("ISO 4217 code"),
    N_("ISO 3166-1 alpha-2"),
    N_("A language code: 2 or 3 lowercase letters, optionally followed by subtags after - (en, fa, zh-CN)."),
    # The titles of the members of the common schemas (money, address).
    N_("Amount"), N_("Currency"), N_("Address line 1"), N_("Address line 2"), N_("City"), N_("Region"),
    N_("Postal code"), N_("Country"),
})


def package_of(plugin) -> str | None:
    """The package whose ``translations`` folder holds ``plugin``'s catalogues: the plugin
    module's own package (or the package the module is in), else that of the module its
    class is defined in; None for a top-level module, which has no package to look in."""
    module = plugin if isinstance(plugin, ModuleType) else \
        sys.modules.get(getattr(plugin, "__module__", None) or type(plugin).__module__)
    if module is None:
        return None
    if hasattr(module, "__path__"):
        return module.__name__
    return module.__package__ or None


@functools.lru_cache(maxsize=None)
def catalogue(package: str, lang: str) -> NullTranslations:
    """The compiled catalogue of ``package`` for ``lang``, read once per process; a
    NullTranslations (every text as it is) when the package ships none. A catalogue that
    cannot be read is logged and left out: the page shows the declared text."""
    try:
        mo = files(package).joinpath(FOLDER, lang, "LC_MESSAGES", f"{DOMAIN}.mo")
        if not mo.is_file():
            return NullTranslations()
        with mo.open("rb") as fp:
            return Translations(fp, domain=DOMAIN)
    except Exception as e:  # noqa: BLE001 — a broken catalogue must not take the UI down
        log.warning("cannot read the %s catalogue of %s (%s: %s); its text is shown untranslated",
                    lang, package, type(e).__name__, e)
        return NullTranslations()


def translate(source: str | None, text: str, lang: str) -> str:
    """``text`` declared by ``source`` (a plugin's name, several joined by commas, "core" or
    "admin") in ``lang``: the declaring plugin's translation, else ``text`` itself."""
    if not isinstance(text, str) or not text.strip() or not source:
        return text  # gettext("") is the catalogue's header, never a translation
    if source == CORE:
        return gettext(text) if text in CORE_TEXTS else text
    pm = getattr(current_app.extensions.get("xrm"), "pm", None)
    # A role several plugins grant on is stored with their names joined ("sales,service"):
    # the first whose catalogue translates the text says it (one name only was looked up,
    # a plugin named "sales,service", so such a role's label was never translated).
    for name in source.split(","):
        plugin = pm.get_plugin(name.strip()) if pm is not None else None
        package = package_of(plugin) if plugin is not None else None
        if package is not None:
            translated = catalogue(package, lang).gettext(text)
            if translated != text:
                return translated
    return text


def core_text(text: str) -> str:
    """``text`` in the UI's language when the platform declares it (:data:`CORE_TEXTS`), a
    description of the common schemas for example; else as it is."""
    return gettext(text) if isinstance(text, str) and text in CORE_TEXTS else text
