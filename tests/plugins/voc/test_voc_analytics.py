"""VOC analytics: the Kano evaluation (Berger et al.) and the ten-step CSM as pure functions on
hand-computed examples, and the ``xrm voc kano`` / ``xrm voc csm`` commands (scope, period,
JSON, errors; the CSM command agrees with the ``csm`` KPI). The command tests run on SQLite
and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager
from xrm_voc import csm, kano

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import PLUGINS, add, business_platform, kpi, net  # noqa: E402, F401


# -- Kano: pure functions -----------------------------------------------------------------
def test_the_evaluation_table_is_berger_et_al():
    rows = {f: "".join(kano.classify(f, d) for d in kano.ANSWERS) for f in kano.ANSWERS}
    assert rows == {"like": "QAAAO", "must_be": "RIIIM", "neutral": "RIIIM", "live_with": "RIIIM",
                    "dislike": "RRRRQ"}
    assert kano.classify("like", "dislike") == "O"         # wanted present, hated absent
    assert kano.classify("neutral", "dislike") == "M"      # taken for granted
    assert kano.classify("like", "neutral") == "A"         # a delighter


def test_an_unknown_answer_is_refused():
    with pytest.raises(ValueError, match="'love'"):
        kano.classify("love", "dislike")


def test_a_requirement_is_counted_classified_and_given_cs_and_ds():
    pairs = [("like", "neutral", 3), ("like", "live_with", 2),   # A 5
             ("like", "dislike", 3),                             # O 3
             ("neutral", "dislike", 1), ("live_with", "dislike", 1),  # M 2
             ("neutral", "neutral", 1),                          # I 1
             ("dislike", "like", 1), ("like", "like", 1)]        # R 1, Q 1
    e = kano.evaluate(pairs)
    assert e["counts"] == {"A": 5, "O": 3, "M": 2, "I": 1, "R": 1, "Q": 1}
    assert (e["n"], e["category"], e["category_name"]) == (13, "A", "attractive")
    assert e["cs"] == pytest.approx(8 / 11)                     # (A + O) / (A + O + M + I)
    assert e["ds"] == pytest.approx(-5 / 11)                    # −(O + M) / (A + O + M + I)


@pytest.mark.parametrize("counts, expected", [
    ({"A": 2, "O": 2, "M": 2, "I": 2}, "M"),                    # M > O > A > I
    ({"A": 2, "O": 2, "I": 2}, "O"),
    ({"A": 1, "I": 1}, "A"),
    ({"I": 3, "R": 3, "Q": 3}, "I"),
    ({"R": 1, "Q": 1}, "R"),
    ({"Q": 2, "A": 1}, "Q"),                                    # the mode, whatever it is
    ({}, None),
])
def test_the_dominant_category_and_its_tie_rule(counts, expected):
    assert kano.dominant(counts) == expected


def test_coefficients_without_usable_answers_are_none_and_a_zero_ds_is_not_negative():
    assert kano.coefficients({"R": 2, "Q": 1}) == (None, None)
    cs, ds = kano.coefficients({"A": 1, "I": 1})
    assert (cs, ds) == (0.5, 0.0) and str(ds) == "0.0"


# -- CSM: pure functions ------------------------------------------------------------------
def test_the_csm_steps_on_a_hand_computed_example():
    x = [(5, 4), (3, 2), (2, 5)]                                # (importance, score) per item
    assert csm.customer_csm(x) == pytest.approx(3.6)            # (20 + 6 + 10) / 10
    assert csm.normalise(3.6) == pytest.approx(65.0)            # (3.6 − 1) / 4 × 100
    assert csm.from_sums(36, 10) == pytest.approx(65.0)
    assert (csm.normalise(1), csm.normalise(5)) == (0.0, 100.0)
    assert csm.overall([65.0, 25.0, 100.0, None]) == pytest.approx(63.333333)
    assert csm.customer_csm([]) is None and csm.overall([]) is None and csm.from_sums(0, 0) is None
    assert csm.item_weights({"q1": 4.0, "q2": 1.0}) == {"q1": 0.8, "q2": 0.2}


# -- the commands -------------------------------------------------------------------------
@pytest.fixture
def voc(net):
    """Run ``xrm`` against the module's platform: ``voc("voc", "kano", "--json")``."""
    def run(*args):
        cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=PLUGINS))
        return CliRunner().invoke(cli, ["--db", net.url, *args], catch_exceptions=False)
    return run


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)                            # exactly one document


def _kano(f, d, req="R1", survey="K-1", day="03-10", **extra):
    return {"requirement_code": req, "functional": f, "dysfunctional": d, "survey_code": survey,
            "answered_at": f"2024-{day}T10:00:00Z", **extra}


def _kano_answers(p):
    add(p, "kano_answer", [
        _kano("like", "dislike", _unit="D01", requirement="Free car wash"),
        _kano("like", "dislike", _unit="D01"),
        _kano("neutral", "dislike", _unit="D03"),
        _kano("like", "neutral"),                                   # R1: O 2, M 1, A 1
        _kano("neutral", "neutral", "R2"), _kano("dislike", "like", "R2"),     # R2: I 1, R 1
        _kano("like", "neutral", "R3", survey="K-2"),               # another survey
        _kano("like", "neutral", "R1", day="05-02"),                # answered in May
    ])


def test_kano_classifies_each_requirement(net, voc):
    _kano_answers(net)
    out = _json(voc("voc", "kano", "--survey", "K-1", "--to", "2024-03-31", "--json"))
    assert (out["survey"], out["to"], out["n"]) == ("K-1", "2024-03-31", 6)
    r1, r2 = out["requirements"]
    assert (r1["requirement_code"], r1["requirement"], r1["n"]) == ("R1", "Free car wash", 4)
    assert r1["counts"] == {"A": 1, "O": 2, "M": 1, "I": 0, "R": 0, "Q": 0}
    assert (r1["category"], r1["cs"], r1["ds"]) == ("O", 0.75, -0.75)
    assert (r2["requirement_code"], r2["category"], r2["cs"], r2["ds"]) == ("R2", "I", 0.0, 0.0)
    everything = _json(voc("voc", "kano", "--json"))
    assert [(r["requirement_code"], r["n"]) for r in everything["requirements"]] == [("R1", 5), ("R2", 2), ("R3", 1)]


def test_kano_sees_only_the_callers_answers(net, voc):
    _kano_answers(net)
    mine = _json(voc("voc", "kano", "--survey", "K-1", "--as", "mgr1", "--json"))
    assert [(r["requirement_code"], r["counts"]["O"], r["n"]) for r in mine["requirements"]] == [("R1", 2, 2)]
    assert _json(voc("voc", "kano", "--as", "vocan", "--json"))["n"] == 8


def test_kano_text_output_is_a_table(net, voc):
    _kano_answers(net)
    result = voc("voc", "kano", "--survey", "K-1")
    assert result.exit_code == 0, result.stderr
    header, r1, r2 = result.stdout.splitlines()
    assert header.split()[:3] == ["REQUIREMENT", "LABEL", "A"]
    assert "O one-dimensional" in r1 and "0.80  -0.60" in r1        # A 2 = O 2 (May included): O wins
    assert r2.startswith("R2") and "I indifferent" in r2
    assert voc("voc", "kano", "--survey", "nope").stdout.startswith("no Kano answers")


@pytest.mark.parametrize("args, message", [
    (["voc", "kano", "--as", "sqe"], "'sqe' may not read kano_answer records"),
    (["voc", "csm", "--as", "sqe"], "'sqe' may not read survey_response records"),
    (["voc", "kano", "--as", "ghost"], "ghost"),
    (["voc", "csm", "--from", "2024-13-01"], "--from"),
    (["voc", "csm", "--from", "2024-04-01", "--to", "2024-03-01"], "after --to"),
])
def test_errors_are_clear_on_stderr(net, voc, args, message):
    result = voc(*args, "--json")
    assert result.exit_code != 0
    assert message in result.stderr and result.stdout == ""


def _csm(score, importance, day="03-10", **extra):
    return {"question_kind": "csm", "score": score, "importance": importance, "touchpoint": "after_sales",
            "answered_at": f"2024-{day}T10:00:00Z", **extra}


def _csm_answers(p):
    add(p, "survey_response", [
        # customer X at D01: (5·4 + 3·2 + 2·5) / 10 = 3.6 → 65
        _csm(4, 5, customer_id="X", question_code="q1", _unit="D01"),
        _csm(2, 3, customer_id="X", question_code="q2", _unit="D01"),
        _csm(5, 2, customer_id="X", question_code="q3", _unit="D01"),
        # an anonymous questionnaire: (1·1 + 3·1) / 2 = 2 → 25
        _csm(1, 1, submission_id="S-9", question_code="q1"), _csm(3, 1, submission_id="S-9", question_code="q2"),
        # customer Z: 5 → 100
        _csm(5, 4, customer_id="Z", question_code="q1"),
        _csm(1, 5, customer_id="Z", question_code="q1", day="04-20"),     # April
    ])


def test_csm_follows_the_steps_and_agrees_with_the_kpi(net, voc):
    _csm_answers(net)
    out = _json(voc("voc", "csm", "--from", "2024-03-01", "--to", "2024-03-31", "--customers", "--json"))
    assert (out["csm"], out["n"], out["answers"]) == (63.333333, 3, 6)
    assert out["csm"] == kpi(net, "csm", date_from="2024-03-01", date_to="2024-03-31")["value"]
    assert out["customers"] == [{"customer": "S-9", "csm": 25.0, "items": 2},
                                {"customer": "X", "csm": 65.0, "items": 3},
                                {"customer": "Z", "csm": 100.0, "items": 1}]
    q1, q2, q3 = out["items"]
    # step 6: mean importance (5, 1, 4) → 10/3 and its share of 10/3 + 2 + 2; step 7: mean score
    assert (q1["question_code"], q1["n"], q1["importance"], q1["performance"]) == ("q1", 3, 3.333333, 3.333333)
    assert (q1["weight"], q2["weight"], q3["weight"]) == (0.454545, 0.272727, 0.272727)
    assert (q2["performance"], q2["performance_pct"], q3["performance_pct"]) == (2.5, 37.5, 100.0)


def test_csm_in_a_dealers_scope_and_over_all_time_matches_the_kpi(net, voc):
    _csm_answers(net)
    mine = _json(voc("voc", "csm", "--as", "mgr1", "--json"))
    assert (mine["csm"], mine["n"]) == (65.0, 1) and "customers" not in mine
    assert mine["csm"] == kpi(net, "csm", user="mgr1")["value"]
    everything = _json(voc("voc", "csm", "--json"))
    # Z now has (4·5 + 5·1) / 9 = 25/9 → 44.44…: (65 + 25 + 44.444444) / 3
    assert everything["csm"] == kpi(net, "csm")["value"] == 44.814815
    text = voc("voc", "csm", "--as", "mgr1")
    assert text.exit_code == 0 and text.stdout.startswith("CSM: 65.0 / 100 over 1 customers")


def test_csm_without_answers_is_empty_not_an_error(net, voc):
    out = _json(voc("voc", "csm", "--json"))
    assert (out["csm"], out["n"], out["items"]) == (None, 0, [])
    assert voc("voc", "csm").stdout.startswith("CSM: n/a")


def test_the_kpi_overall_does_not_change_when_grouped(net):
    _csm_answers(net)
    add(net, "survey_response", [{**_csm(1, 1, customer_id="X", question_code="q4"), "touchpoint": "purchase"}])
    plain, grouped = kpi(net, "csm"), kpi(net, "csm", by="touchpoint")
    assert plain["value"] == grouped["value"] and plain["n"] == grouped["n"] == 3
    assert {g["key"]: g["n"] for g in grouped["groups"]} == {"after_sales": 3, "purchase": 1}
