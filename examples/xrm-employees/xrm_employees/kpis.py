"""A Python KPI, for what the declarative form cannot say."""
from __future__ import annotations

from sqlalchemy import and_, case, func, null, or_, select

from xrm_core import KPI, DefinitionError, KPIContext


class AttritionRate(KPI):
    """Employees who left during the period, per hundred employed at any time in it.

    Declarative KPIs window on one ``time_field``; attrition needs two (employed from
    ``start_date`` to ``end_date``), so it is written in Python. Its queries start from
    ``ctx.base(...)``, which carries the caller's scope, and it applies the period itself.
    """

    name = "attrition"
    label = {"en": "Attrition rate", "fa": "نرخ ترک خدمت", "zh": "流失率"}
    unit = "percent"
    higher_is_better = False
    description = "100 × (employees whose end_date is in the period) / (employees employed at any time in it)"
    entity = "employee"

    def compute(self, ctx: KPIContext) -> dict:
        start = ctx.field("employee", "start_date")
        end = ctx.field("employee", "end_date")
        # Dates are ISO strings of fixed width, so comparing them as text is chronological.
        employed = [ctx.base("employee")]
        left = [end.isnot(None)]
        if ctx.date_to:
            employed.append(start <= ctx.date_to)
            left.append(end <= ctx.date_to)
        if ctx.date_from:
            employed.append(or_(end.is_(None), end >= ctx.date_from))
            left.append(end >= ctx.date_from)
        # One row per employee employed in the period: its --by key and whether it left.
        # No FROM needed: SQLAlchemy takes the records table from the ctx conditions.
        key = ctx.group_key("employee")
        rows = select((key if key is not None else null()).label("k"),
                      case((and_(*left), 1), else_=0).label("left")).where(*employed).subquery()
        # summarise() groups by k in one order on both engines (an ORDER BY of our own would
        # put employees without the --by field first on SQLite and last on PostgreSQL).
        return ctx.summarise(rows, 100.0 * func.sum(rows.c.left) / func.nullif(func.count(), 0), func.count())

    def check(self, known_types: set[str]) -> None:
        super().check(known_types)
        if self.entity not in known_types:
            raise DefinitionError(f"KPI {self.name!r} needs the {self.entity!r} entity type")
