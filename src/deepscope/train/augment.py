"""On-device data augmentation for image batches, drawn per sample from a seeded generator.

The CIFAR recipe of the act_ids seed (Brown et al. 2022) and of most CIFAR ResNet training:
``RandomCrop(32, padding=4)`` then ``RandomHorizontalFlip()``. For a batch [n, C, H, W], each
sample is zero-padded by ``p`` on every side and an H x W window is cut at a uniformly random
offset (dy, dx) in 0..2p (so the image shifts by -p..p pixels, zeros filling in), then mirrored
left-right with probability 1/2. Offsets and flips are drawn on the batch's device and applied as
one gather, so a batch costs a few kernels and no host round trip.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepscope.config import setting, validate
from deepscope.errors import DeepscopeError


@dataclass(frozen=True)
class Augment:
    """Random crop with zero padding (``crop_padding`` pixels; 0: none) and a random horizontal flip."""

    crop_padding: int = setting(4, "pixels of zero padding of the random crop (0: no crop)", min=0)
    flip: bool = setting(True, "mirror each image left-right with probability 1/2")

    def __post_init__(self) -> None:
        validate(self, owner="Augment")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An augmented copy of the image batch ``x`` [n, C, H, W]; draws come from ``generator``
        (on ``x``'s device): the crop offsets first, then the flips."""
        if x.ndim != 4:
            raise DeepscopeError(f"augmentation applies to image batches [n, C, H, W]; got shape {tuple(x.shape)}.")
        n, _, h, w = x.shape
        p = int(self.crop_padding)
        rows = torch.arange(h, device=x.device).expand(n, h)
        cols = torch.arange(w, device=x.device).expand(n, w)
        if p:
            x = F.pad(x, (p, p, p, p))
            rows = rows + torch.randint(0, 2 * p + 1, (n, 1), generator=generator, device=x.device)
            cols = cols + torch.randint(0, 2 * p + 1, (n, 1), generator=generator, device=x.device)
        if self.flip:
            flipped = torch.rand(n, 1, generator=generator, device=x.device) < 0.5
            cols = torch.where(flipped, cols.flip(-1), cols)
        batch = torch.arange(n, device=x.device)[:, None, None]
        # the advanced indices are split by the channel slice, so their dimensions come first: [n, H, W, C]
        return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
