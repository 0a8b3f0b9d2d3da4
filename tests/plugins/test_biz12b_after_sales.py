"""The dealers' after-sales satisfaction KPI (DESIGN §7, AFS-CS): ``after_sales_satisfaction``
of the voc plugin, the CSI (0–100) over the CSAT answers of the after-sales touchpoint, ranked
``--by dealer_code``. On a small data set of its own, every figure worked out by hand in the
comments and written as a literal, computed through ``xrm kpi compute … --json``: the period
(inclusive calendar days, a value's written day deciding whatever its offset), an empty
period, the grouping, and the scope of a dealer's, a region's and an outsider's user. Runs on
SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

from xrm_core.cli.main import build_cli  # noqa: E402

KPI = "after_sales_satisfaction"
MARCH = ("--from", "2024-03-01", "--to", "2024-03-31")
BY_DEALER = ("--by", "dealer_code")


def run(p, *args):
    """``xrm ARGS`` on the platform's database: click's result."""
    return CliRunner().invoke(build_cli(p.pm), ["--db", p.url, *args])


def kpi(p, *args):
    """``xrm kpi compute after_sales_satisfaction ARGS --json``: the parsed result."""
    result = run(p, "kpi", "compute", KPI, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def vn(result):
    return result["value"], result["n"]


def groups(result):
    """The groups as (key, value, n), in the order answered."""
    return [(g["key"], g["value"], g["n"]) for g in result["groups"]]


def _answer(score, at, dealer, kind="csat", touchpoint="after_sales", **extra):
    """A survey response filed in its dealer's unit (``hq`` when it names no dealer)."""
    row = {"question_kind": kind, "score": score, "answered_at": at, "touchpoint": touchpoint,
           "_unit": dealer or "hq", **extra}
    if dealer:
        row["dealer_code"] = dealer
    return row


def _seed(p):
    """CSAT 1–5 on 0–100: (s − 1) / 4 × 100 → 5: 100, 4: 75, 3: 50, 2: 25, 1: 0."""
    add(p, "survey_response", [
        # counted in March
        _answer(5, "2024-03-01T00:00:00+03:30", "D01"),   # 100; written 1 March (UTC: 29 February)
        _answer(4, "2024-03-10T10:00:00Z", "D01"),        # 75
        _answer(2, "2024-03-31T23:59:00-08:00", "D01"),   # 25; written 31 March (UTC: 1 April)
        _answer(3, "2024-03-15T10:00:00Z", "D02"),        # 50
        _answer(5, "2024-03-16T10:00:00Z", "D02"),        # 100
        _answer(1, "2024-03-20T10:00:00Z", "D03"),        # 0
        _answer(4, "2024-03-05T10:00:00Z", None),         # 75, no dealer (filed at hq)
        # outside March
        _answer(1, "2024-04-01T00:30:00+03:30", "D01"),   # written 1 April (UTC: 31 March)
        _answer(1, "2024-02-29T23:59:59Z", "D02"),
        # not after-sales CSAT answers: never counted
        _answer(5, "2024-03-12T10:00:00Z", "D03", touchpoint="purchase"),
        _answer(1, "2024-03-12T10:00:00Z", "D03", touchpoint="pre_purchase"),
        _answer(10, "2024-03-12T10:00:00Z", "D02", kind="nps"),
        _answer(7, "2024-03-12T10:00:00Z", "D01", kind="ces"),
        _answer(5, "2024-03-12T10:00:00Z", "D03", kind="csm", importance=3),
    ])


def test_ranks_dealers_on_their_after_sales_answers_in_the_period(net):
    _seed(net)
    r = kpi(net, *MARCH, *BY_DEALER)
    assert list(r) == ["kpi", "value", "unit", "n", "from", "to", "groups"]
    assert (r["kpi"], r["unit"], r["from"], r["to"]) == (KPI, "score (0–100)", "2024-03-01", "2024-03-31")
    # 100 + 75 + 25 + 50 + 100 + 0 + 75 = 425 over 7 answers
    assert vn(r) == (60.714286, 7)
    assert groups(r) == [("D01", 66.666667, 3),   # (100 + 75 + 25) / 3
                         ("D02", 75, 2),          # (50 + 100) / 2
                         ("D03", 0, 1),
                         (None, 75, 1)]           # the answer naming no dealer
    ranked = sorted((g for g in r["groups"] if g["key"]), key=lambda g: -g["value"])
    assert [g["key"] for g in ranked] == ["D02", "D01", "D03"]
    # the after_sales group of the CSI per touchpoint, as a user had to read it before
    csat = json.loads(run(net, "kpi", "compute", "csat", *MARCH, "--by", "touchpoint", "--json").stdout)
    assert [(g["value"], g["n"]) for g in csat["groups"] if g["key"] == "after_sales"] == [(60.714286, 7)]


def test_all_time_boundary_days_and_an_empty_period(net):
    _seed(net)
    # every after-sales CSAT answer: the 7 of March and the two 1s outside it → 425 / 9
    assert vn(kpi(net)) == (47.222222, 9)
    assert vn(kpi(net, "--from", "2024-03-01", "--to", "2024-03-01")) == (100, 1)   # the +03:30 one
    assert vn(kpi(net, "--from", "2024-03-31", "--to", "2024-03-31")) == (25, 1)    # the −08:00 one
    assert vn(kpi(net, "--from", "2024-04-01", "--to", "2024-04-01")) == (0, 1)     # the 1 of 1 April
    assert vn(kpi(net, "--from", "2024-02-29", "--to", "2024-02-29")) == (0, 1)
    assert vn(kpi(net, "--to", "2024-03-09")) == (58.333333, 3)   # 0 (29 Feb) + 100 + 75 (hq, 5 March)
    empty = kpi(net, "--from", "2030-01-01", "--to", "2030-01-31", *BY_DEALER)
    assert (vn(empty), empty["groups"]) == ((None, 0), [])


def test_a_dealer_sees_its_own_figure_and_a_region_its_dealers(net):
    _seed(net)
    for user in ("mgr1", "agent1"):   # D01's manager and agent
        r = kpi(net, *MARCH, *BY_DEALER, "--as", user)
        assert (vn(r), groups(r)) == ((66.666667, 3), [("D01", 66.666667, 3)])
    r = kpi(net, *MARCH, *BY_DEALER, "--as", "mgr3")
    assert (vn(r), groups(r)) == ((0, 1), [("D03", 0, 1)])
    # north = D01 + D02: (100 + 75 + 25 + 50 + 100) / 5
    r = kpi(net, *MARCH, *BY_DEALER, "--as", "north_rm")
    assert (vn(r), groups(r)) == ((70, 5), [("D01", 66.666667, 3), ("D02", 75, 2)])
    assert vn(kpi(net, *MARCH, "--as", "vocan")) == (60.714286, 7)   # voc analyst: every response
    # another dealer's answers do not exist for D02's manager, in any period
    assert vn(kpi(net, "--from", "2024-03-01", "--to", "2024-03-01", "--as", "mgr2")) == (None, 0)


def test_a_user_who_may_not_read_survey_responses_is_refused(net):
    _seed(net)
    result = run(net, "kpi", "compute", KPI, *MARCH, "--as", "sqe", "--json")
    assert result.exit_code != 0
    assert "survey_response" in result.output and "Traceback" not in result.output
