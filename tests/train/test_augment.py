"""On-device random crop (zero padding) and horizontal flip, inside and outside the trainer."""
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.train import Augment, TrainConfig, Trainer


def markers(n, side=16):
    """n one-channel images, zero but for a 1 at (8, 8) and a 2 at (8, 9): the 2 says which way is right."""
    x = torch.zeros(n, 1, side, side)
    x[:, 0, 8, 8], x[:, 0, 8, 9] = 1.0, 2.0
    return x


def moves(out):
    """Per image: (row shift, column shift, flipped) that maps the markers to where they ended up."""
    found = []
    for image in out[:, 0]:
        (r1, c1), (r2, c2) = (torch.nonzero(image == v)[0].tolist() for v in (1.0, 2.0))
        flipped = c2 < c1
        c1 = image.shape[-1] - 1 - c1 if flipped else c1    # undo the mirror, then read the shift
        found.append((r1 - 8, c1 - 8, flipped))
        assert r2 == r1
    return found


def test_deterministic_per_seed_and_shape_kept():
    x = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    aug = Augment(crop_padding=2, flip=True)
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    c = aug(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype and a.is_contiguous()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(Augment(crop_padding=0, flip=False)(x, torch.Generator()), x)


def test_each_sample_is_a_shifted_zero_filled_maybe_mirrored_copy_with_sane_statistics():
    n = 3000
    x = markers(n)
    out = Augment(crop_padding=4, flip=True)(x, torch.Generator().manual_seed(0))
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.full((n,), 3.0))   # markers never leave a 16x16 image here
    found = moves(out)
    dy = torch.tensor([f[0] for f in found])
    dx = torch.tensor([f[1] for f in found])
    flips = torch.tensor([f[2] for f in found], dtype=torch.float32)
    assert abs(float(flips.mean()) - 0.5) < 0.04
    for shift in (dy, dx):                                              # uniform on -4..4
        counts = torch.bincount(shift + 4, minlength=9)
        assert len(counts) == 9 and int(counts.min()) > n / 9 * 0.8 and int(counts.max()) < n / 9 * 1.2
    assert abs(float(torch.corrcoef(torch.stack([dy.float(), dx.float()]))[0, 1])) < 0.06
    no_flip = moves(Augment(crop_padding=1, flip=False)(markers(200), torch.Generator().manual_seed(0)))
    assert not any(f[2] for f in no_flip) and {f[0] for f in no_flip} == {-1, 0, 1}


def test_content_shifted_out_is_lost_and_zeros_come_in():
    x = torch.ones(200, 1, 6, 6)
    out = Augment(crop_padding=3, flip=False)(x, torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert float(out.mean()) < 1.0 and bool((out.sum(dim=(1, 2, 3)) == 36).any())   # some unshifted


@pytest.mark.parametrize("kwargs, message", [(dict(crop_padding=-1), "crop_padding"), (dict(crop_padding=1.5),
                                              "crop_padding"), (dict(flip="yes"), "flip")])
def test_bad_settings(kwargs, message):
    with pytest.raises(DeepscopeError, match=message):
        Augment(**kwargs)


class Recorder(nn.Module):
    """A linear classifier on flattened images that keeps every input it sees, with its mode."""

    def __init__(self, shape=(1, 16, 16)):
        super().__init__()
        self.linear = nn.Linear(shape[0] * shape[1] * shape[2], 2)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, x.detach().clone()))
        return self.linear(x.flatten(1))


def test_trainer_augments_training_batches_only_and_reproducibly():
    x, y = markers(40), torch.arange(40) % 2
    config = TrainConfig(epochs=3, batch_size=10, stop_loss=None, progress=False, augment=Augment(4, True))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Recorder()
        result = Trainer(model, x, y, config, eval_x=x[:8], eval_y=y[:8]).fit()
        runs.append((model, result))
    (first, r1), (second, r2) = runs
    assert r1.epoch_losses == r2.epoch_losses
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first.seen, second.seen))
    train_inputs = torch.cat([seen for training, seen in first.seen if training])
    eval_inputs = [seen for training, seen in first.seen if not training]
    assert len(train_inputs) == 120 and sum(not torch.equal(row, x[0]) for row in train_inputs) > 60
    assert torch.equal(eval_inputs[0], x[:8]) and torch.equal(eval_inputs[1], x)     # held-out, then train accuracy
    torch.manual_seed(0)
    plain = Trainer(Recorder(), x, y, {**vars(config), "augment": None}).fit()
    assert plain.epoch_losses != r1.epoch_losses


def test_trainer_refuses_augmentation_of_non_images():
    with pytest.raises(DeepscopeError, match=r"augment applies to float image batches \[n, C, H, W\]"):
        Trainer(nn.Linear(4, 2), torch.zeros(8, 4), torch.zeros(8, dtype=torch.int64),
                TrainConfig(augment=Augment(), progress=False))
    config = TrainConfig(augment={"crop_padding": 2})                  # a mapping (e.g. from JSON) is converted
    assert config.augment == Augment(crop_padding=2, flip=True)
    with pytest.raises(DeepscopeError, match=r"unknown Augment setting\(s\) 'pad'; the settings are: crop_padding"):
        TrainConfig(augment={"pad": 2})
