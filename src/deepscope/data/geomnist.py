"""GeoMNIST: blurred, rotated geometric shapes (LE-SDE; Zhang, Wang & Su, "Imitating Deep Learning
Dynamics via Locally Elastic Stochastic Differential Equations", NeurIPS 2021; seed ``zjiayao/le_sde``).

One channel, 32 x 32, three classes: 0 triangle, 1 rectangle, 2 ellipse. With N = ``n_per_class``,
image i = 0..N-1 of each class is drawn on a black background (shape = 1), centre (16, 16), in
(row, col) pixel coordinates:

- triangle: shift r_i = linspace(-1, 1, N)[i]; the filled triangle with vertices
  (16 + r, 16 - 8√3 + r), (26 + r, 24 + r), (6 + r, 24 + r) (pixels inside or on its edges);
- rectangle: the same shift; rows int(12 + r) .. int(20 + r) and columns int(8 + r) .. int(24 + r),
  inclusive (about 9 x 17 px);
- ellipse: radius ρ_i = linspace(5, 7, N)[i]; pixels with ((row-16)/ρ)² + ((col-16)/(2ρ))² < 1.

Then (the seed's order): rotate by θ_i = 176 · i / N degrees with ``scipy.ndimage.rotate`` (cubic
spline, same size, constant 0 outside; values may overshoot [0, 1] slightly), blur with
``scipy.ndimage.gaussian_filter`` at σ ~ U(0.9, 1.1) drawn per image, shuffle each class, and give
the first ``int(train_fraction · N)`` of each class to 'train' and the rest to 'test'. The seed ties
rotation to the size index i; ``couple_rotation=False`` gives each image the angle of a random other
index instead (a seeded permutation of the same angles). Every draw comes from ``seed`` (the seed
code draws from the global numpy RNG, unseeded).

``label_noise=p`` moves int(p · n_train) training labels of each class to the other two classes,
half to each (:func:`deepscope.data.label_noise.move_labels`); test labels stay clean.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage

from deepscope.data._rng import stream
from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.label_noise import check_fraction, move_labels
from deepscope.errors import DeepscopeError

CLASS_NAMES = ["triangle", "rectangle", "ellipse"]
SIDE, CENTRE = 32, 16.0
MAX_ANGLE = 176.0  # degrees; image i is rotated by MAX_ANGLE * i / N
SIGMA_LOW, SIGMA_HIGH = 0.9, 1.1  # blur σ ~ U(SIGMA_LOW, SIGMA_HIGH)
# pixel row and column coordinates, broadcast against a stack of images [N, SIDE, SIDE]
ROWS = np.arange(SIDE, dtype=np.float64)[None, :, None]
COLS = np.arange(SIDE, dtype=np.float64)[None, None, :]


def triangles(shift: np.ndarray) -> np.ndarray:
    """Filled triangles [N, SIDE, SIDE] (float64 0/1), one per shift r (see the module doc)."""
    r = shift[:, None, None]
    vertices = [(CENTRE + r, CENTRE - 8 * np.sqrt(3) + r), (CENTRE + 10 + r, CENTRE + 8 + r),
                (CENTRE - 10 + r, CENTRE + 8 + r)]
    # inside or on the edges of a convex polygon: the cross products with every edge share one sign
    crosses = [(q_r - p_r) * (COLS - p_c) - (q_c - p_c) * (ROWS - p_r)
               for (p_r, p_c), (q_r, q_c) in zip(vertices, vertices[1:] + vertices[:1])]
    eps = 1e-9
    inside = np.all([c >= -eps for c in crosses], axis=0) | np.all([c <= eps for c in crosses], axis=0)
    return inside.astype(np.float64)


def rectangles(shift: np.ndarray) -> np.ndarray:
    """Filled axis-aligned rectangles [N, SIDE, SIDE]: rows int(12 + r)..int(20 + r), cols int(8 + r)..int(24 + r)."""
    r = shift[:, None, None]
    top, bottom = np.trunc(CENTRE - 4 + r), np.trunc(CENTRE + 4 + r)
    left, right = np.trunc(CENTRE - 8 + r), np.trunc(CENTRE + 8 + r)
    return ((ROWS >= top) & (ROWS <= bottom) & (COLS >= left) & (COLS <= right)).astype(np.float64)


def ellipses(radius: np.ndarray) -> np.ndarray:
    """Filled ellipses [N, SIDE, SIDE] with half-axes ρ (rows) and 2ρ (columns), strict inequality."""
    rho = radius[:, None, None]
    return (((ROWS - CENTRE) / rho) ** 2 + ((COLS - CENTRE) / (2 * rho)) ** 2 < 1).astype(np.float64)


def _rotate_and_blur(shapes: np.ndarray, angles: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Each image rotated by its angle (degrees; cubic, same size, constant 0) then blurred with its σ."""
    out = np.empty_like(shapes)
    for i, (image, angle, sigma) in enumerate(zip(shapes, angles, sigmas)):
        rotated = ndimage.rotate(image, float(angle), reshape=False, order=3, mode="constant", cval=0.0)
        out[i] = ndimage.gaussian_filter(rotated, float(sigma))
    return out


@lru_cache(maxsize=2)  # a train and a test load of one set generate once
def generate(seed: int, n_per_class: int, couple_rotation: bool = True) -> np.ndarray:
    """All images before the split: float64 [3, N, SIDE, SIDE], class-major, index i in recipe order (read-only)."""
    n = n_per_class
    shift, radius = np.linspace(-1, 1, n), np.linspace(5, 7, n)
    angles = MAX_ANGLE * np.arange(n) / n
    sigmas = (SIGMA_LOW + (SIGMA_HIGH - SIGMA_LOW) * torch.rand(3, n, generator=stream(seed, "geomnist-blur"),
                                                                dtype=torch.float64)).numpy()
    rotation = stream(seed, "geomnist-rotation")
    images = []
    for k, shapes in enumerate((triangles(shift), rectangles(shift), ellipses(radius))):
        class_angles = angles if couple_rotation else angles[torch.randperm(n, generator=rotation).numpy()]
        images.append(_rotate_and_blur(shapes, class_angles, sigmas[k]))
    stacked = np.stack(images)
    stacked.setflags(write=False)
    return stacked


def _check(n_per_class: object, train_fraction: object, couple_rotation: object, label_noise: object
           ) -> tuple[int, int]:
    """(N, n_train) after checking the options; DeepscopeError naming the bad one."""
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, numbers.Integral) or n_per_class < 2:
        raise DeepscopeError(f"n_per_class (train + test images per class) must be an integer >= 2; "
                             f"got {n_per_class!r}.")
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, numbers.Real) \
            or not 0 < train_fraction < 1:
        raise DeepscopeError(f"train_fraction must be a number strictly between 0 and 1; got {train_fraction!r}.")
    if not isinstance(couple_rotation, bool):
        raise DeepscopeError(f"couple_rotation must be True or False; got {couple_rotation!r}.")
    check_fraction(label_noise)
    n = int(n_per_class)
    n_train = int(n * train_fraction + 1e-9)  # 1e-9: 0.3 * 10 = 2.999... must count as 3
    if not 1 <= n_train <= n - 1:
        raise DeepscopeError(f"train_fraction={train_fraction} of n_per_class={n} leaves a split empty "
                             f"({n_train} train, {n - n_train} test per class); raise n_per_class or move "
                             f"train_fraction away from 0 and 1.")
    return n, n_train


def load_geomnist(request: SourceRequest, *, n_per_class: int = 1000, train_fraction: float = 0.8,
                  couple_rotation: bool = True, label_noise: float = 0.0) -> Dataset:
    """GeoMNIST images [n, 1, 32, 32] float32 (see the module doc); 3 balanced classes.

    Defaults: 1000 images per class, 800 train / 200 test (the seed's 80/20 n_tr/n_val), so
    2,400 train and 600 test images, classes in blocks (all triangles, then rectangles, ellipses).
    """
    n, n_train = _check(n_per_class, train_fraction, couple_rotation, label_noise)
    images = generate(request.seed, n, couple_rotation)
    shuffle = stream(request.seed, "geomnist-shuffle")
    order = torch.stack([torch.randperm(n, generator=shuffle) for _ in CLASS_NAMES])
    keep = order[:, :n_train] if request.split == "train" else order[:, n_train:]
    x = torch.from_numpy(np.stack([images[k, keep[k].numpy()] for k in range(len(CLASS_NAMES))]))
    x = x.reshape(-1, 1, SIDE, SIDE).to(torch.float32)
    y = torch.arange(len(CLASS_NAMES)).repeat_interleave(keep.shape[1])
    noisy = request.split == "train" and label_noise > 0
    if noisy:
        y = move_labels(y, label_noise, len(CLASS_NAMES), stream(request.seed, "geomnist-label-noise"))
    return Dataset(x=x, y=y, class_names=list(CLASS_NAMES), task="classification", name="geomnist",
                   source=f"generated: GeoMNIST (LE-SDE recipe), {n} per class, first {n_train} of each class "
                          f"train, rotation {'coupled to' if couple_rotation else 'independent of'} size "
                          f"(seed {request.seed}, {request.split} split"
                          f"{f', label noise {label_noise}' if noisy else ''})",
                   meta={"label_noise": float(label_noise) if noisy else 0.0})
