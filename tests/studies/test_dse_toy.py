"""The DSE toy study: verdicts on constructed tables, a binned entropy known in closed form, bad input."""
import dataclasses
import math

import pytest
import torch

from deepscope.config import ConfigError
from deepscope.metrics.entropy import binned_entropy
from deepscope.metrics.manifolds import embed
from deepscope.studies import dse_toy

TINY = dse_toy.STUDY.configure(dse_toy.STUDY.preset("tiny"))


def result_with(dse, cse, dsmi, csmi, subsampled):
    c = dataclasses.replace(TINY, n=256)
    return dse_toy.DSEToyResult(
        c, [{"d": d, "dse": a, "cse": b} for d, a, b in zip((1, 2, 4, 8), dse, cse)], [],
        [{"dependence": q, "dsmi": a, "csmi": b} for q, a, b in zip((0, 0.3, 0.6, 1.0), dsmi, csmi)],
        [{"n": n, "dse": v, "cse": 0.0} for n, v in zip((50, 100, 200), subsampled)])


def test_the_claimed_behaviour_holds_and_its_opposite_fails():
    good = dse_toy.verdict(result_with([1, 2, 3, 4], [1, 7.9, 8, 8], [0, 0.3, 0.6, 1.0], [0, 0.02, 0.05, 0.01],
                                       [3.8, 3.9, 4.0]))
    assert [v.holds for v in good] == [True, True, True, True, True]
    assert good[1].measured == pytest.approx(7.9 / 8) and good[4].measured == pytest.approx(0.05)
    bad = dse_toy.verdict(result_with([4, 3, 2, 1], [1, 3, 5, 7], [1.0, 0.6, 0.3, 0], [0, 0.5, 0.3, 0.6],
                                      [2.0, 3.0, 4.0]))
    assert [v.holds for v in bad] == [False, False, False, False, False]


def test_a_binned_segment_has_one_bit_whatever_the_ambient_dimension():
    """Min-max scaling puts every coordinate's bin wall at the segment's midpoint, so 2 bins per coordinate give
    exactly two cells: the two halves of the segment."""
    t = torch.rand(400, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    X = embed(10 * t, 64, how="rotate", seed=1)
    p = float((t[:, 0] >= (t.min() + t.max()) / 2).double().mean())
    assert binned_entropy(X, 2) == pytest.approx(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)), abs=1e-9)


def test_the_dial_sets_how_often_labels_follow_the_clusters():
    low, high = dse_toy._dial(TINY, 0.0), dse_toy._dial(TINY, 1.0)
    assert low["dependence"] == 0.0 and high["dsmi"] > low["dsmi"] + 0.3


@pytest.mark.parametrize("settings, field", [({"dependence": [0.0, 1.5]}, "dependence"), ({"dims": [1, 32]}, "dims"),
                                             ({"sizes": [40, 5000]}, "sizes"), ({"noise": [-1.0]}, "noise")])
def test_bad_settings_are_refused_before_any_work(settings, field):
    with pytest.raises(ConfigError) as err:
        dse_toy.run(dataclasses.replace(TINY, **settings))
    assert err.value.field == field
