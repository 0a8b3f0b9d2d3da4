"""Kano classification of requirements (Berger et al. 1993) — pure functions.

A respondent answers two questions per requirement: how they would feel if it were present
(the *functional* answer) and if it were absent (the *dysfunctional* answer), each one of
``like``, ``must_be``, ``neutral``, ``live_with``, ``dislike``. The evaluation table turns
the pair into a category:

========================  ====  =======  =======  =========  =======
functional \\ dysfunct.    like  must_be  neutral  live_with  dislike
========================  ====  =======  =======  =========  =======
like                      Q     A        A        A          O
must_be                   R     I        I        I          M
neutral                   R     I        I        I          M
live_with                 R     I        I        I          M
dislike                   R     R        R        R          Q
========================  ====  =======  =======  =========  =======

A attractive, O one-dimensional, M must-be, I indifferent, R reverse, Q questionable.
Per requirement: the category counts, the dominant category and the customer-satisfaction
coefficients CS (better) = (A + O) / (A + O + M + I) and DS (worse) = −(O + M) / (A + O + M + I).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

ANSWERS = ("like", "must_be", "neutral", "live_with", "dislike")
CATEGORIES = ("A", "O", "M", "I", "R", "Q")
CATEGORY_NAMES = {"A": "attractive", "O": "one-dimensional", "M": "must-be", "I": "indifferent",
                  "R": "reverse", "Q": "questionable"}

#: Tie rule for the dominant category: the category with the stronger effect on the
#: product decision wins (Berger et al.'s "M > O > A > I"), then R before Q.
TIE_ORDER = ("M", "O", "A", "I", "R", "Q")

_ROWS = {  # functional answer -> categories by dysfunctional answer, in ANSWERS order
    "like":      "QAAAO",
    "must_be":   "RIIIM",
    "neutral":   "RIIIM",
    "live_with": "RIIIM",
    "dislike":   "RRRRQ",
}
EVALUATION = {(f, d): _ROWS[f][j] for f in ANSWERS for j, d in enumerate(ANSWERS)}


def classify(functional: str, dysfunctional: str) -> str:
    """The Kano category (one of :data:`CATEGORIES`) of one functional/dysfunctional pair.

    ValueError for an answer outside :data:`ANSWERS`.
    """
    try:
        return EVALUATION[(functional, dysfunctional)]
    except KeyError:
        bad = functional if functional not in ANSWERS else dysfunctional
        raise ValueError(f"not a Kano answer: {bad!r} (expected one of {', '.join(ANSWERS)})") from None


def count_categories(pairs: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Category counts from ``(functional, dysfunctional, n)`` triples (``n`` answers each)."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for functional, dysfunctional, n in pairs:
        counts[classify(functional, dysfunctional)] += int(n)
    return counts


def dominant(counts: Mapping[str, int]) -> str | None:
    """The most frequent category; ties broken by :data:`TIE_ORDER`. None without answers."""
    best = max(TIE_ORDER, key=lambda c: (counts.get(c, 0), -TIE_ORDER.index(c)))
    return best if counts.get(best, 0) > 0 else None


def coefficients(counts: Mapping[str, int]) -> tuple[float | None, float | None]:
    """``(CS, DS)``: CS = (A+O)/(A+O+M+I) in 0…1, DS = −(O+M)/(A+O+M+I) in −1…0.

    R and Q answers do not count. ``(None, None)`` when A+O+M+I is 0.
    """
    a, o, m, i = (counts.get(c, 0) for c in "AOMI")
    total = a + o + m + i
    if total == 0:
        return None, None
    # 0.0 - …: a DS of zero prints as 0.0, not -0.0
    return (a + o) / total, 0.0 - (o + m) / total


def evaluate(pairs: Iterable[tuple[str, str, int]]) -> dict:
    """One requirement's evaluation from its ``(functional, dysfunctional, n)`` triples:
    ``{"n", "counts": {A…Q}, "category", "category_name", "cs", "ds"}``."""
    counts = count_categories(pairs)
    category = dominant(counts)
    cs, ds = coefficients(counts)
    return {"n": sum(counts.values()), "counts": counts, "category": category,
            "category_name": CATEGORY_NAMES.get(category), "cs": cs, "ds": ds}
