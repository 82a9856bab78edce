"""Pixel transforms in plain torch: scale to [0, 1], grayscale, resize, standardise.

Images are [n, C, H, W] float32. The loading pipeline applies them in the order
scale to [0, 1] -> grayscale -> resize -> normalize.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from deepscope.errors import DeepscopeError

#: ITU-R BT.601 luma weights for R, G, B.
LUMA = (0.299, 0.587, 0.114)


def to_unit(pixels: Any, max_value: float) -> torch.Tensor:
    """Raw pixel values 0..``max_value`` (uint8 images: 255) as float32 in [0, 1], like ToTensor."""
    return torch.as_tensor(np.asarray(pixels)).to(torch.float32) / max_value


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """[n, 3, H, W] RGB -> [n, 1, H, W] luma 0.299 R + 0.587 G + 0.114 B; one channel is kept as is."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise DeepscopeError(f"grayscale needs RGB (3 channels) or 1-channel images; got {x.shape[1]} channels. "
                             f"Convert the images to RGB first or drop grayscale=True.")
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize [n, C, H, W] to [n, C, size, size]: bilinear with antialias, align_corners=False."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def standardize(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardise per channel (images) or per feature (vectors) to mean 0 / std 1.

    Uses the mean and population std of ``x`` itself. A constant channel has std 0; it is only centred.
    Returns (standardised x, mean, std) with mean/std of shape [C] (images) or [d] (vectors).
    """
    if x.ndim not in (2, 4):
        raise DeepscopeError(f"normalize expects images [n, C, H, W] or vectors [n, d]; got shape {tuple(x.shape)}.")
    dims = [0, 2, 3] if x.ndim == 4 else [0]
    shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
    mean = x.mean(dim=dims, dtype=torch.float64).to(x.dtype)  # float64 sums: exact enough for big sets
    centred = x - mean.view(shape)
    std = centred.square().mean(dim=dims, dtype=torch.float64).sqrt().to(x.dtype)
    safe = torch.where(std > 0, std, torch.ones_like(std))
    return centred / safe.view(shape), mean, std


def pil_to_tensor(image: Image.Image, grayscale: bool = False) -> torch.Tensor:
    """A PIL image as float32 [C, H, W] in [0, 1]: converted to RGB (C=3), or to 'L' (C=1) when grayscale.

    The conversion makes palette, grayscale and RGBA files load alike (alpha is dropped).
    """
    pixels = np.array(image.convert("L" if grayscale else "RGB"))
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return to_unit(pixels, 255.0)
