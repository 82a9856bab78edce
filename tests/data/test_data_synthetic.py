"""Generated datasets: noise images, Gaussian mixtures, and the fixed DL_theory_exp regression sets."""
import pytest
import torch

from deepscope.data import load_dataset
from deepscope.errors import DeepscopeError


def test_fakedata_shapes_options_and_label_range():
    default = load_dataset("fakedata")
    assert len(default) == 1000 and default.input_shape == (1, 28, 28) and default.num_classes == 10
    assert abs(float(default.x.mean())) < 0.01 and abs(float(default.x.std()) - 1) < 0.01  # N(0, 1) pixels
    small = load_dataset("fakedata", n=60, image_size=12, channels=3, num_classes=4)
    assert small.input_shape == (3, 12, 12) and small.y.dtype == torch.int64
    assert set(small.y.tolist()) == {0, 1, 2, 3}
    assert load_dataset("fakedata", n=5, image_size=12, size=7).input_shape == (1, 7, 7)  # drawn at 7x7


def test_fakedata_labels_are_uniform_and_streams_are_reproducible():
    counts = torch.bincount(load_dataset("fakedata", n=3000, image_size=2).y, minlength=10)
    assert int(counts.min()) > 230 and int(counts.max()) < 370  # 300 expected per class
    a = load_dataset("fakedata", n=20, image_size=4, seed=3)
    b = load_dataset("fakedata", n=20, image_size=4, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, load_dataset("fakedata", n=20, image_size=4, seed=4).x)
    assert not torch.equal(a.x, load_dataset("fakedata", n=20, image_size=4, seed=3, split="test").x)


def test_gaussian_mixture_is_balanced_and_clusters_sit_at_their_means():
    data = load_dataset("gaussian-mixture", n=3000, num_classes=3, dim=5, separation=4.0)
    assert data.input_shape == (5,) and data.num_classes == 3
    assert torch.bincount(data.y).tolist() == [1000, 1000, 1000]
    means = data.meta["means"]
    torch.testing.assert_close(means.norm(dim=1), torch.full((3,), 4.0))
    for k in range(3):
        cluster = data.x[data.y == k]
        assert float((cluster.mean(0) - means[k]).norm()) < 0.2
        assert abs(float(cluster.var(0).mean()) - 1) < 0.1  # unit variance
    test = load_dataset("gaussian-mixture", n=3000, num_classes=3, dim=5, separation=4.0, split="test")
    assert torch.equal(test.meta["means"], means) and not torch.equal(test.x, data.x)


@pytest.mark.parametrize("name, fn", [("linear-regression", lambda z: z),
                                      ("sinusoidal-regression", torch.sin)])
def test_regression_honours_dims_and_noise_scale(name, fn):
    data = load_dataset(name, n=4000, n_features=3, dim_out=2, noise_scale=0.3, bias_scale=1.0)
    assert data.task == "regression" and data.class_names == [] and data.num_classes == 0
    assert data.x.shape == (4000, 3) and data.y.shape == (4000, 2) and data.y.dtype == torch.float32
    w, b = data.meta["weights"], data.meta["bias"]
    assert w.shape == (3, 2) and b.shape == (2,) and bool((b != 0).all())
    residual = data.y - fn(data.x @ w + b)
    torch.testing.assert_close(residual.std(dim=0), torch.full((2,), 0.3), atol=0.015, rtol=0)
    assert abs(float(residual.mean())) < 0.02


def test_regression_fixed_weights_uniform_inputs_and_shared_function_across_splits():
    w, b = [[3.0]], [0.5]
    train = load_dataset("sinusoidal-regression", n=500, weights=w, bias=b, noise_scale=0.0,
                         data_distribution="Uniform")
    assert float(train.x.min()) >= -1 and float(train.x.max()) <= 1 and float(train.x.min()) < -0.9
    torch.testing.assert_close(train.y, torch.sin(3 * train.x + 0.5))
    plain = load_dataset("linear-regression", n=200, n_features=2, dim_out=3)
    test = load_dataset("linear-regression", n=200, n_features=2, dim_out=3, split="test")
    assert torch.equal(plain.meta["weights"], test.meta["weights"]) and not torch.equal(plain.x, test.x)
    assert torch.equal(plain.meta["bias"], torch.zeros(3))  # bias_scale defaults to 0


def test_generated_dataset_option_errors():
    with pytest.raises(DeepscopeError, match=r"weights must have shape \(2, 1\)"):
        load_dataset("linear-regression", n_features=2, weights=[[1.0, 2.0]])
    with pytest.raises(DeepscopeError, match="data_distribution"):
        load_dataset("linear-regression", data_distribution="cauchy")
    with pytest.raises(DeepscopeError, match="noise_scale must be a number >= 0"):
        load_dataset("sinusoidal-regression", noise_scale=-1)
    with pytest.raises(DeepscopeError, match="channels must be a positive integer"):
        load_dataset("fakedata", channels=0)
    with pytest.raises(DeepscopeError, match="regression set"):
        load_dataset("linear-regression", classes=[0])
