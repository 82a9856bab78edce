"""Independent random streams derived from one seed, without touching global RNGs."""
from __future__ import annotations

import zlib

import numpy as np
import torch


def stream(seed: int, name: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for the stream ``name`` of ``seed``.

    Different names give independent streams (e.g. the train and test draws of a generated set, or
    the weights of a regression set versus its samples), and the same (seed, name) always gives the
    same stream.
    """
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)
