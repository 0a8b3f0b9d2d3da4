"""The dashboard: one section per plugin with a card per KPI — the value over all time and a
monthly trend of the last 12 months, drawn as an inline SVG sparkline on the server.

Each value is ``kpis.compute`` as the logged-in user, so the cards respect their scope.
"""
from __future__ import annotations

import math
from datetime import date, timedelta

from babel.numbers import format_decimal
from flask import current_app, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup, escape

from ... import kpis
from ...errors import PluginError, XrmError
from .common import acting, blueprint
from .core_messages import explain
from .i18n import RTL, digits, lang, month_text, tr
from .listing import type_label
from .plugin_catalogues import translate
from .plugin_texts import plugin_summary

bp = blueprint("dashboard", __name__)
MONTHS = 12
WIDTH, HEIGHT, PAD = 160, 36, 3


def months(today: date, n: int = MONTHS) -> list[tuple[str, str]]:
    """The last ``n`` calendar months up to ``today``'s, oldest first, as (first, last) ISO dates."""
    out = []
    y, m = today.year, today.month
    for _month in range(n):
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        out.append((first.isoformat(), (nxt - timedelta(days=1)).isoformat()))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def sparkline(values: list, label: str = "") -> Markup:
    """An inline SVG polyline of ``values`` (None leaves a gap); no script, no inline CSS."""
    known = [v for v in values if v is not None]
    parts = [f'<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{escape(label)}">']
    if known:
        lo, hi = min(known), max(known)
        span = (hi - lo) or 1
        step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)
        segment: list[str] = []
        segments = [segment]
        for i, v in enumerate(values):
            if v is None:
                segment = []
                segments.append(segment)
                continue
            x = PAD + i * step
            y = HEIGHT - PAD - (v - lo) / span * (HEIGHT - 2 * PAD)
            segment.append(f"{x:.1f},{y:.1f}")
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{" ".join(seg)}"/>')
            elif seg:
                x, y = seg[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="1.8" fill="currentColor"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(value) -> str:
    """``value`` with at most two decimals and the separators of the UI's language: Persian
    groups with ٬ and marks the decimals with ٫ (its digits come from the ``digits`` filter).
    With a comma for both, a wrapped 18,499,084,761.9 read as 18,499,084.76 and 1.9."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = format_decimal(value, format="#,##0.##", locale=lang(), numbering_system="default")
    # Persian (CLDR) keeps a minus sign left of the digits with a left-to-right mark;
    # without it the right-to-left card showed -12.5 as 12.5-.
    return "\u200e" + text if lang() in RTL and text.startswith("-") else text


def unit_label(unit, plugin: str | None = None) -> str:
    """A KPI's unit in the UI's language: a ``{lang: text}`` dict like a label, the
    translation of the declaring ``plugin``'s catalogue, or one of the common unit words
    (``percent``, ``score (1–7)``…), else the plugin's text as written."""
    if isinstance(unit, dict):
        return tr(unit, "", plugin)
    if not isinstance(unit, str):
        return ""
    translated = tr(unit, "", plugin)
    if translated != unit:
        return translated
    words = {"percent": _("percent"), "hours": _("hours"), "days": _("days"), "minutes": _("minutes"),
             "score": _("score"), "count": _("count"), "amount": _("amount")}
    head, sep, rest = unit.partition(" (")
    if head not in words or (sep and not rest.endswith(")")):
        return unit
    return words[head] + (sep + digits(rest) if sep else "")


def trend_label(label: str, values: list, periods) -> str:
    """What the trend chart shows, for a screen reader (it reads the chart's name only):
    the KPI, the months it covers and each month's value, as the card writes values."""
    shown = _(", ").join(_("no value") if v is None else digits(_fmt(v)) for v in values)
    return _("%(kpi)s by month, %(first)s to %(last)s: %(values)s", kpi=label,
             first=month_text(periods[0][0]), last=month_text(periods[-1][0]), values=shown)


def card(s, kpi, periods) -> dict:
    """Value, unit and trend of one KPI for the session's user; a failure is shown on the
    card, not raised, so one broken KPI does not take the dashboard down."""
    d = kpi.to_dict()
    source = getattr(kpi, "source", None)
    out = {"name": kpi.name, "label": tr(d.get("label"), kpi.name, source),
           "unit": unit_label(d.get("unit"), source), "description": tr(d.get("description"), "", source),
           "value": "—", "n": 0, "spark": None, "error": None}
    try:
        # A savepoint per card: on PostgreSQL a failed query would abort the whole transaction.
        with s.conn.begin_nested():
            result = kpis.compute(s, kpi.name)
            out.update(value=_fmt(result["value"]), n=result["n"])
            if getattr(kpi, "time_field", None):
                trend = kpis.compute_periods(s, kpi.name, periods)  # (one grouped query where it can)
                out["spark"] = sparkline(trend, trend_label(out["label"], trend, periods))
    except PluginError as e:  # a crash: its details are for the log, not for every viewer
        current_app.logger.error("KPI %s failed: %s", kpi.name, e.message, exc_info=e.__cause__)
        out["error"] = _("KPI %(name)s failed in plugin %(plugin)s (see the server log)",
                         name=kpi.name, plugin=repr(e.plugin))
    except XrmError as e:  # a refusal of the core's: said in the user's language, its message as detail
        out["error"] = explain(e).said()
    except Exception:  # noqa: BLE001 — a plugin's Python KPI may fail in any way
        current_app.logger.exception("KPI %s failed", kpi.name)
        out["error"] = _("KPI %(name)s failed (see the server log)", name=kpi.name)
    return out


def plugin_title(name: str) -> str:
    """What the dashboard calls the plugin registered as ``name`` (an entry-point name, or
    "admin" for the KPIs administrators added): its docstring's summary
    (:func:`.plugin_texts.plugin_summary`, which says why that source) translated by its own
    catalogue, else the name itself. The page shows the name beside it: administrators
    block a plugin by that name (``XRM_DISABLE_PLUGINS``)."""
    if name == "admin":
        return _("Added by administrators")
    pm = getattr(current_app.extensions.get("xrm"), "pm", None)
    plugin = pm.get_plugin(name) if pm is not None else None
    summary = plugin_summary(plugin) if plugin is not None else None
    return translate(name, summary, lang()) if summary else name


@bp.get("/")
def index():
    chosen = request.args.get("plugin") or None
    periods = months(date.today())
    sections: dict[str, list] = {}
    with acting() as s:
        # Only KPIs of types the user may read: any other would be refused (403).
        shown = [k for k in kpis.registry(s.platform, s.conn).values() if kpis.may_compute(s, k)]
        plugins = sorted({getattr(k, "source", "") or "admin" for k in shown})
        for kpi in shown:
            source = getattr(kpi, "source", "") or "admin"
            if chosen and source != chosen:
                continue
            sections.setdefault(source, []).append(card(s, kpi, periods))
        types = [(name, type_label(s.entity_type(name), plural=True)) for name in sorted(s.entity_types_map())
                 if s.actor.can(name, "read")]
    titles = {name: plugin_title(name) for name in plugins}
    return render_template("dashboard.html", sections=sorted(sections.items()), plugins=plugins, chosen=chosen,
                           periods=periods, types=types, titles=titles)
