"""The ten-step customer satisfaction measure (CSM) of the railway CRM workshop — pure functions.

The workshop lists ten steps (گام های اندازه گیری رضایت مشتریان): 1 train the staff,
2 write the VOC collection procedure, 3 collect the VOC, 4 analyse it, 5 make the
corrections, 6 weight each VOC item by its importance, 7 score each item against the
organisation's performance, 8 compute each customer's CSM, 9 normalise, 10 compute the
overall CSM. Steps 1–5 are work for people; this module computes steps 6–10 from CSM item
answers, each with a performance score ``s`` and the customer's importance ``w`` (both 1–5):

- step 6, importance:   an item's weight for a customer is their importance ``w``; across
  customers an item's weight is its mean importance, and its share of the sum of the means;
- step 7, performance:  the item's score ``s``; across customers its mean score;
- step 8, CSM per customer:  ``CSM_c = Σ w·s / Σ w`` over the customer's items (1–5);
- step 9, normalise:   ``(CSM_c − 1) / 4 × 100`` (0 = all items worst, 100 = all best);
- step 10, overall:    the mean of the normalised ``CSM_c`` over customers.

The ``csm`` KPI computes the same steps 8–10 in SQL (see ``queries.csm_per_customer``).
"""
from __future__ import annotations

from collections.abc import Iterable

#: The answer scale of a CSM item's performance score and importance (inclusive).
SCALE = (1, 5)


def customer_csm(items: Iterable[tuple[float, float]]) -> float | None:
    """Step 8: the importance-weighted mean score ``Σ w·s / Σ w`` of ``(w, s)`` pairs.

    None when there is no item (or the weights sum to 0).
    """
    total_w = total_ws = 0.0
    for w, s in items:
        total_w += w
        total_ws += w * s
    return total_ws / total_w if total_w else None


def normalise(value: float | None, scale: tuple[float, float] = SCALE) -> float | None:
    """Step 9: ``value`` on ``scale`` mapped linearly onto 0–100."""
    if value is None:
        return None
    low, high = scale
    return (value - low) * 100.0 / (high - low)


def overall(values: Iterable[float | None]) -> float | None:
    """Step 10: the mean of the customers' normalised CSM (None values skipped; None if empty)."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def item_weights(mean_importance: dict[str, float]) -> dict[str, float]:
    """Step 6 across customers: each item's share of the summed mean importances (sums to 1)."""
    total = sum(mean_importance.values())
    return {k: (v / total if total else None) for k, v in mean_importance.items()}


def from_sums(sum_ws: float, sum_w: float) -> float | None:
    """Steps 8 and 9 from a customer's sums ``Σ w·s`` and ``Σ w`` (as SQL returns them)."""
    return normalise(sum_ws / sum_w) if sum_w else None
