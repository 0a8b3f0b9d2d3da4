"""The platform's own JSON Schemas, shipped as package data.

``load(name)`` returns a parsed schema file, e.g. ``load("entity-type.schema.json")``.
"""
import json
from functools import cache
from importlib.resources import files

#: Base URI under which every schema of this folder can be ``$ref``-ed.
BASE_URI = "https://xrm.dev/schemas/"


@cache
def load(name: str) -> dict:
    """Return the parsed schema file ``name`` of this folder (cached; do not mutate)."""
    return json.loads(files(__name__).joinpath(name).read_text(encoding="utf-8"))


def names() -> list[str]:
    """File names of every schema shipped here."""
    return sorted(p.name for p in files(__name__).iterdir() if p.name.endswith(".json"))
