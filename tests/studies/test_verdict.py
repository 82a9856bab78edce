import math

import pytest

from deepscope.studies.verdict import Evidence, Verdict, as_list, check, headline


def test_holds_and_fails_say_by_how_much():
    v = check("law", "Pearson r", -0.995, -0.99, "<=")
    assert v.holds is True and v.state == "HOLDS" and "within the threshold by 0.0050" in v.detail
    w = check("law", "Pearson r", -0.95, -0.99, "<=")
    assert w.holds is False and str(w).startswith("FAILS: ") and "misses the threshold by 0.0400" in w.detail
    assert check("grows", "slope", 0.3, 0.25, ">=").holds is True


def test_too_little_evidence_is_undecided_whatever_the_number():
    v = check("law", "Pearson r", -1.0, -0.99, "<=", Evidence(2, 3, "layers", "the law"))
    assert v.holds is None and v.state == "UNDECIDED"
    assert v.reason == "2 layers; the law needs at least 3"
    assert str(v).startswith("UNDECIDED: ") and "2 layers; the law needs at least 3" in str(v)
    d = v.to_dict()
    assert d["holds"] is None and d["reason"] == v.reason and d["state"] == "UNDECIDED"
    assert check("law", "Pearson r", -1.0, -0.99, "<=", Evidence(3, 3, "layers")).holds is True


def test_nan_measurement_fails_and_round_trips_through_json():
    v = check("law", "Pearson r", math.nan, -0.99, "<=")
    assert v.holds is False
    d = v.to_dict()
    assert d["measured"] is None
    back = Verdict.from_dict(d)
    assert math.isnan(back.measured) and back.holds is False and back.detail == v.detail
    with pytest.raises(ValueError):
        check("law", "r", 0.0, 0.0, "=<")


def test_strict_directions_refuse_a_tie():
    assert check("a", "margin", 0.0, 0.0, ">").holds is False and check("a", "margin", 0.0, 0.0, ">=").holds is True
    assert check("a", "q", 0.5, 1.0, "<").holds is True and check("a", "q", 1.0, 1.0, "<").holds is False


def test_headline_and_list():
    hold, fail = check("a", "q", 1, 0, ">="), check("b", "q", -1, 0, ">=")
    undecided = check("c", "q", 1, 0, ">=", Evidence(1, 2, "seeds"))
    assert as_list(hold) == [hold]
    assert headline([hold]) == "HOLDS" and headline([hold, undecided]) == "UNDECIDED"
    assert headline([undecided, fail, hold]) == "FAILS" and headline([]) == "-"


def test_undecided_when_the_regime_is_never_reached():
    from deepscope.studies.verdict import undecided
    v = undecided("edge", "fraction", float("nan"), 0.75, ">=", "sharpness never reached 2/lr")
    assert v.holds is None and v.reason == "sharpness never reached 2/lr"
    assert str(v) == "UNDECIDED: edge: not tested (sharpness never reached 2/lr; the threshold >= 0.75 is not applied)"
    assert v.to_dict()["measured"] is None


def test_interval_claims_hold_only_when_the_whole_interval_fits():
    from deepscope.studies.verdict import check_interval
    inside = check_interval("lazy", "slope", -0.5, (-0.6, -0.4), (-0.75, -0.25))
    assert inside.holds is True and "inside [-0.75, -0.25]" in inside.detail
    straddling = check_interval("lazy", "slope", -0.3, (-0.5, -0.1), (-0.75, -0.25))
    assert straddling.holds is False and "not inside" in straddling.detail
    few = check_interval("lazy", "slope", -0.5, (-0.6, -0.4), (-0.75, -0.25), Evidence(1, 2, "seeds"))
    assert few.holds is None and "within [-0.75, -0.25] is not applied" in few.detail
