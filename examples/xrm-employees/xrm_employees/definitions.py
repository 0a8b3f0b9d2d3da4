"""Declarations: entity types (JSON files in ``schemas/``), relationship types, activity
kinds, roles and declarative KPIs. ``xrm init`` stores them in the database."""
from __future__ import annotations

import json
from importlib.resources import files

ENTITY_TYPE_FILES = ("employee.json", "training.json")


def entity_types() -> list[dict]:
    """The entity-type definitions, read from the JSON files shipped with the package."""
    folder = files(__package__).joinpath("schemas")
    return [json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in ENTITY_TYPE_FILES]


RELATIONSHIP_TYPES = [
    {"name": "attended", "label": "attended", "inverse_label": "attended by",
     "source": "employee", "target": "training", "cardinality": "many-to-many"},
    # one-to-many: a manager has many reports, an employee at most one manager.
    {"name": "manager_of", "label": "manages", "inverse_label": "reports to",
     "source": "employee", "target": "employee", "cardinality": "one-to-many",
     "on_delete": "restrict"},
]

ACTIVITY_KINDS = [
    {"name": "one_on_one", "label": {"en": "One-on-one meeting", "fa": "جلسه دونفره", "zh": "一对一面谈"}},
]

ROLES = [
    {"name": "hr_partner", "label": "HR partner", "grants": [
        {"type": "employee", "actions": ["read", "create", "update", "delete"], "depth": "subtree"},
        {"type": "training", "actions": ["read", "create", "update", "delete"], "depth": "subtree"},
    ]},
    {"name": "team_lead", "label": "Team lead", "grants": [
        {"type": "employee", "actions": ["read"], "depth": "unit"},
        {"type": "training", "actions": ["read"], "depth": "all"},
    ]},
]

KPIS = [
    {"name": "training_completion", "label": "Training completion", "unit": "percent",
     "description": "Trainings held in the period that were completed, as a percent of those "
                    "not cancelled.",
     "entity": "training", "time_field": "date", "where": {"status": {"ne": "cancelled"}},
     "measure": {"share": {"status": "completed"}}},
    {"name": "headcount", "label": "Headcount", "unit": "employees",
     "description": "Employees currently employed (status active).",
     "entity": "employee", "where": {"status": "active"}, "measure": {"count": True}},
]
