"""The lazy-training study: its verdicts on known width laws, and what it measures per width."""
import dataclasses

import numpy as np
import pytest
import torch

from deepscope.studies import lazy

TINY = lazy.STUDY.configure(lazy.STUDY.preset("tiny"))

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch's jvp


def result_with(law, widths=(10, 100, 1000), seeds=3, noise=0.02):
    rng = np.random.default_rng(0)
    rows = [lazy.WidthRow(w, s, law(w), law(w) * np.exp(noise * rng.normal()), {}, 0.1, 0.9, 1.0 / w)
            for w in widths for s in range(seeds)]
    return lazy.LazyResult(dataclasses.replace(TINY, widths=list(widths), seeds=seeds), rows)


def test_a_minus_half_law_holds_and_a_minus_one_law_fails():
    slope, kernel = lazy.verdict(result_with(lambda w: 3 * w ** -0.5))
    assert slope.holds is True and slope.measured == pytest.approx(-0.5, abs=0.03)
    assert kernel.holds is True and kernel.measured == pytest.approx(-1.0)
    steep, _ = lazy.verdict(result_with(lambda w: 3 * w ** -1.0))
    assert steep.holds is False and "not inside" in steep.detail


def test_too_few_widths_or_seeds_are_undecided():
    slope, kernel = lazy.verdict(result_with(lambda w: w ** -0.5, widths=(10, 100)))
    assert slope.holds is None and kernel.holds is None and "2 widths" in slope.reason
    single, _ = lazy.verdict(result_with(lambda w: w ** -0.5, seeds=1))
    assert single.holds is None and "1 seeds" in single.reason


def test_each_row_measures_the_trained_net(tmp_path):
    result = lazy.run(dataclasses.replace(TINY, widths=[8], seeds=1, steps=5))
    (row,) = result.rows
    assert row.width == 8 and 0 < row.rc_global and set(row.per_tensor) == {"hidden.0.linear.weight",
                                                                               "hidden.0.linear.bias",
                                                                               "head.linear.weight",
                                                                               "head.linear.bias"}
    assert 0 <= row.ntk_distance <= 1 and 0 <= row.test_accuracy <= 1


def test_ntk_parametrization_scales_by_fan_in():
    net = lazy.NTKTwoLayer(4, 1000, 2, torch.Generator().manual_seed(0))
    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = net(x)
    assert out.shape == (256, 2) and 0.3 < float(out.std()) < 3     # O(1) outputs at any width
    raw = lazy._inputs(dataclasses.replace(TINY, inputs="raw"))[0][0]
    assert float(raw.max()) > 1 and float(raw.max()) <= 255
