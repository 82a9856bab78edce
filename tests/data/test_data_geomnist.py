"""GeoMNIST (LE-SDE, seeds.md §5.1-5.2): shapes, split, seeding, rotation coupling, label noise."""
import numpy as np
import pytest
import torch

from deepscope.data import load_dataset
from deepscope.data.geomnist import MAX_ANGLE, generate
from deepscope.errors import DeepscopeError

SMALL = dict(n_per_class=30)  # 24 train + 6 test images per class


def rotation_angles(images: np.ndarray) -> np.ndarray:
    """The rotation (degrees in [-1, 179)) of each image's principal axis, from its second moments.

    ndimage.rotate turns counter-clockwise on screen, so in (row, col) moments the axis sits at -θ.
    """
    r, c = np.mgrid[0:32, 0:32]
    mass = images.sum(axis=(1, 2))
    mr, mc = (images * r).sum(axis=(1, 2)) / mass, (images * c).sum(axis=(1, 2)) / mass
    dr, dc = r - mr[:, None, None], c - mc[:, None, None]
    mu20, mu02, mu11 = ((images * dr ** 2).sum(axis=(1, 2)), (images * dc ** 2).sum(axis=(1, 2)),
                        (images * dr * dc).sum(axis=(1, 2)))
    return np.mod(1 - np.degrees(0.5 * np.arctan2(2 * mu11, mu02 - mu20)), 180) - 1


def test_shapes_balanced_classes_and_split():
    train = load_dataset("geomnist", **SMALL)
    test = load_dataset("geomnist", split="test", **SMALL)
    assert train.x.shape == (72, 1, 32, 32) and test.x.shape == (18, 1, 32, 32)
    assert train.x.dtype == torch.float32 and train.kind == "image"
    assert train.class_names == ["triangle", "rectangle", "ellipse"]
    assert torch.bincount(train.y).tolist() == [24, 24, 24] and torch.bincount(test.y).tolist() == [6, 6, 6]
    default = load_dataset("geomnist", n=30)  # the default 1000 per class: 800/200, subset stratified
    assert torch.bincount(default.y).tolist() == [10, 10, 10]
    # train and test of a class are disjoint and together are exactly the class's generated images
    images = generate(0, 30)
    for k in range(3):
        both = torch.cat([train.x[train.y == k], test.x[test.y == k]])[:, 0].double().numpy()
        assert sorted(map(bytes, both.astype(np.float32))) == sorted(map(bytes, images[k].astype(np.float32)))


def test_deterministic_per_seed():
    generate.cache_clear()
    a = load_dataset("geomnist", seed=3, **SMALL)
    generate.cache_clear()
    b = load_dataset("geomnist", seed=3, **SMALL)
    c = load_dataset("geomnist", seed=4, **SMALL)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_pixels_area_ordering_and_range():
    images = generate(0, 30)
    assert images.shape == (3, 30, 32, 32)
    mass = images.sum(axis=(2, 3)).mean(axis=1)  # triangle ~219, rectangle ~153 (9 x 17), ellipse ~228 (2πρ²)
    assert mass[2] > mass[0] > mass[1]
    assert abs(mass[1] - 153) < 3
    assert -0.05 < images.min() < 0.0 and 1.0 <= images.max() < 1.05  # cubic overshoot, slight
    assert np.abs(images[:, :, :2, :2]).max() < 1e-3                   # black corners


def test_rotation_is_coupled_to_the_index_unless_asked_not_to():
    n = 30
    angles = MAX_ANGLE * np.arange(n) / n
    coupled = rotation_angles(generate(0, n, True)[1])           # rectangles, index order
    np.testing.assert_allclose(coupled, angles, atol=1.0)
    free = rotation_angles(generate(0, n, False)[1])
    np.testing.assert_allclose(np.sort(free), angles, atol=1.0)    # the same angles...
    assert not np.allclose(free, angles, atol=1.0)                 # ...not tied to the index


@pytest.mark.parametrize("p, to_each", [(0.5, [5, 5]), (0.25, [2, 3]), (1.0, [10, 10])])
def test_label_noise_moves_exact_counts_and_leaves_test_clean(p, to_each):
    options = dict(n_per_class=40, train_fraction=0.5)             # 20 train images per class
    clean = load_dataset("geomnist", **options)
    noisy = load_dataset("geomnist", label_noise=p, **options)
    assert torch.equal(clean.x, noisy.x)                           # only labels change
    confusion = torch.zeros(3, 3, dtype=torch.int64)
    confusion.index_put_((clean.y, noisy.y), torch.ones_like(clean.y), accumulate=True)
    for k in range(3):
        others = [c for c in range(3) if c != k]
        assert confusion[k, k] == 20 - int(p * 20)
        assert confusion[k, others].tolist() == to_each             # first half to the lower other class
    assert noisy.meta["label_noise"] == p and "label noise" in noisy.source
    test_clean = load_dataset("geomnist", split="test", **options)
    test_noisy = load_dataset("geomnist", split="test", label_noise=p, **options)
    assert torch.equal(test_clean.y, test_noisy.y) and test_noisy.meta["label_noise"] == 0.0


@pytest.mark.parametrize("options, message", [
    (dict(n_per_class=1), "n_per_class"), (dict(n_per_class=10, train_fraction=1.0), "train_fraction"),
    (dict(n_per_class=3, train_fraction=0.1), "leaves a split empty"), (dict(label_noise=1.5), "label_noise"),
    (dict(couple_rotation="no"), "couple_rotation"),
])
def test_bad_options(options, message):
    with pytest.raises(DeepscopeError, match=message):
        load_dataset("geomnist", **options)
