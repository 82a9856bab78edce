"""Pixel transforms: hand-computed antialiased bilinear resize, luma weights, standardisation, order."""
import pytest
import torch

from deepscope.data import load_dataset
from deepscope.data.transforms import grayscale, resize, standardize
from deepscope.errors import DeepscopeError


def test_resize_4x4_to_2x2_matches_the_hand_computed_triangle_filter():
    # Downscaling by 2 with antialias stretches the bilinear (triangle) kernel to radius 2 input pixels.
    # Output pixel 0 is centred at input coordinate 1.0; the input centres 0.5, 1.5, 2.5 lie at scaled
    # distances 0.25, 0.25, 0.75 -> weights 0.75, 0.75, 0.25 -> normalised 3/7, 3/7, 1/7 (pixel 3 is out of
    # reach). Output pixel 1 mirrors it. The 2-D resize is this 1-D operator on rows and on columns.
    a = torch.tensor([[3.0, 3.0, 1.0, 0.0], [0.0, 1.0, 3.0, 3.0]]) / 7
    image = torch.tensor([[1.0, 2.0, 0.0, 4.0], [5.0, 0.0, 1.0, 2.0], [3.0, 3.0, 7.0, 0.0], [0.0, 1.0, 2.0, 9.0]])
    expected = a @ image @ a.T
    got = load_dataset((image.view(1, 1, 4, 4), torch.tensor([0])), size=2)
    assert got.input_shape == (1, 2, 2)
    torch.testing.assert_close(got.x[0, 0], expected)


def test_resize_keeps_a_constant_image_constant_and_skips_same_size():
    x = torch.full((2, 3, 5, 7), 0.25)
    torch.testing.assert_close(resize(x, 3), torch.full((2, 3, 3, 3), 0.25))
    square = x[..., :5]
    assert resize(square, 5) is square


def test_grayscale_uses_itu_r_601_luma_weights():
    x = torch.zeros(3, 3, 2, 2)
    for c in range(3):
        x[c, c] = 1.0  # pure red, green, blue images
    gray = grayscale(x)
    assert gray.shape == (3, 1, 2, 2)
    torch.testing.assert_close(gray[:, 0, 0, 0], torch.tensor([0.299, 0.587, 0.114]))
    with pytest.raises(DeepscopeError, match="3 channels"):
        grayscale(torch.zeros(1, 4, 2, 2))


def test_normalize_gives_each_channel_mean_zero_std_one():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 3, 4, 4, generator=gen) * torch.tensor([1.0, 10.0, 0.1]).view(1, 3, 1, 1) + 5
    data = load_dataset((x, torch.zeros(50, dtype=torch.int64)), normalize=True)
    torch.testing.assert_close(data.x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x.std(dim=(0, 2, 3), correction=0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.meta["normalize_mean"], x.mean(dim=(0, 2, 3)))
    mnist = load_dataset("mnist", split="test", normalize=True)
    assert abs(float(mnist.x.mean())) < 1e-5 and abs(float(mnist.x.std(correction=0)) - 1) < 1e-4


def test_normalize_vectors_per_feature_and_centres_constant_features():
    x = torch.tensor([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    out, mean, std = standardize(x)
    torch.testing.assert_close(out[:, 0], torch.tensor([-1.0, 0.0, 1.0]) * (3 / 2) ** 0.5)
    torch.testing.assert_close(out[:, 1], torch.zeros(3))
    assert mean.tolist() == [3.0, 7.0] and std[1] == 0


def test_pipeline_order_is_grayscale_then_resize_then_normalize():
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    data = load_dataset((x, torch.arange(6)), grayscale=True, size=4, normalize=True)
    expected, _, _ = standardize(resize(grayscale(x), 4))
    torch.testing.assert_close(data.x, expected)
    with pytest.raises(DeepscopeError, match="apply to images"):
        load_dataset("gaussian-mixture", n=10, size=4)
