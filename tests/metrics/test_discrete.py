import math

import torch

from deepscope.metrics.discrete import joint_codes, plugin_entropy, uniform_bin


def test_uniform_bin_edges_and_constant_feature():
    X = torch.tensor([[0.0, 5.0], [0.49, 5.0], [0.5, 5.0], [1.0, 5.0]], dtype=torch.float64)
    codes = uniform_bin(X, 2)
    assert codes[:, 0].tolist() == [0, 0, 1, 1]      # top edge lands in the last bin
    assert codes[:, 1].tolist() == [0, 0, 0, 0]      # constant feature: one bin, no NaN


def test_uniform_bin_fixed_range_clips():
    X = torch.tensor([[-2.0], [-1.0], [0.0], [0.99], [3.0]], dtype=torch.float64)
    assert uniform_bin(X, 4, lo=-1.0, hi=1.0).flatten().tolist() == [0, 0, 2, 3, 3]


def test_plugin_entropy_known_values():
    assert plugin_entropy(torch.tensor([0, 0, 0, 0])) == 0.0
    assert math.isclose(plugin_entropy(torch.arange(8)), 3.0)
    assert math.isclose(plugin_entropy(torch.tensor([0, 0, 1, 2])), 1.5)
    assert math.isclose(plugin_entropy(torch.tensor([0, 1]), base=math.e), math.log(2))


def test_joint_codes_identify_rows():
    codes = torch.tensor([[0, 1], [1, 0], [0, 1], [1, 1]])
    ids = joint_codes(codes)
    assert ids[0] == ids[2] and len(set(ids.tolist())) == 3
