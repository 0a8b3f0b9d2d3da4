"""JSON Schema validation: compiled validators (jsonschema-rs) with the platform's registry.

Why jsonschema-rs: it implements Draft 2020-12 completely (``$dynamicRef``,
``unevaluatedProperties``, ``if/then/else``), asserts ``format`` when asked, and validates
millions of small objects per second — the pure-Python ``jsonschema`` package manages about
33k/s here, which alone would exceed the import budget. It also reports each error's
instance path, so one library serves both the hot path (``is_valid``) and error detail
(``iter_errors``).
"""
from __future__ import annotations

from functools import cache

import jsonschema_rs
import xrm_schemas

from .errors import DefinitionError, ValidationError

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def pointer(path) -> str:
    """RFC 6901 JSON pointer for a sequence of keys/indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@cache
def registry() -> jsonschema_rs.Registry:
    """Every schema of ``schemas/`` under its ``$id`` (https://xrm.dev/schemas/NAME)."""
    resources = []
    for name in xrm_schemas.names():
        doc = xrm_schemas.load(name)
        resources.append((doc.get("$id", xrm_schemas.BASE_URI + name), doc))
    return jsonschema_rs.Registry(resources)


def compile_schema(schema: dict, base_uri: str, where: str = "/schema"):
    """Check ``schema`` is valid JSON Schema 2020-12 and return a compiled validator.

    Raises DefinitionError naming the pointer (inside the definition) of the problem.
    """
    if not isinstance(schema, dict):
        raise DefinitionError("schema must be a JSON object", [{"pointer": where, "message": "not an object"}])
    declared = schema.get("$schema", DRAFT_2020_12)
    if declared.rstrip("#") != DRAFT_2020_12:
        raise DefinitionError(
            "only JSON Schema 2020-12 is supported",
            [{"pointer": where + "/$schema", "message": f"{declared!r} is not {DRAFT_2020_12!r}"}])
    schema = {"$schema": DRAFT_2020_12, **schema}
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as e:
        raise DefinitionError("schema is not valid JSON Schema 2020-12",
                              [{"pointer": where + pointer(e.instance_path), "message": e.message}]) from None
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True, registry=registry(),
                                           base_uri=base_uri, offline=True)
    except jsonschema_rs.ReferencingError as e:
        raise DefinitionError("schema has an unresolvable $ref",
                              [{"pointer": where, "message": str(e).splitlines()[0]}]) from None
    except (jsonschema_rs.ValidationError, ValueError) as e:
        raise DefinitionError("schema cannot be compiled",
                              [{"pointer": where, "message": str(e).splitlines()[0]}]) from None


@cache
def meta_validator(name: str):
    """Compiled validator of one of the platform's own meta-schemas (e.g. ``kpi.schema.json``)."""
    return jsonschema_rs.validator_for(xrm_schemas.load(name), validate_formats=True,
                                       registry=registry(), offline=True)


def errors_of(validator, instance, prefix: str = "") -> list[dict]:
    """Every error of ``instance`` as ``{"pointer", "message"}``, pointers prefixed."""
    out = [{"pointer": prefix + pointer(e.instance_path), "message": e.message}
           for e in validator.iter_errors(instance)]
    out.sort(key=lambda e: e["pointer"])
    return out


def check_definition(meta: str, definition, what: str) -> None:
    """Validate a definition against meta-schema ``meta``; raise DefinitionError with pointers."""
    if not isinstance(definition, dict):
        raise DefinitionError(f"{what} must be a JSON object", [{"pointer": "", "message": "not an object"}])
    v = meta_validator(meta)
    if not v.is_valid(definition):
        name = definition.get("name")
        label = f"{what} {name!r}" if isinstance(name, str) else what
        raise DefinitionError(f"{label} is invalid", errors_of(v, definition))


def validate(validator, instance, what: str, prefix: str = "") -> None:
    """Raise ValidationError with every pointer if ``instance`` fails ``validator``."""
    if not validator.is_valid(instance):
        raise ValidationError(f"{what} is invalid", errors_of(validator, instance, prefix))
