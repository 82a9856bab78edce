"""Independent random streams derived from one seed, without touching global RNGs."""
from __future__ import annotations

import zlib

import numpy as np
import torch


def derive_seed(seed: int, name: str) -> int:
    """A 63-bit seed for the stream ``name`` of ``seed``: SeedSequence([seed, crc32(name)]).

    Different names give unrelated seeds, so generators seeded with them draw independent streams
    even when they share a seed and an algorithm (two mt19937s seeded alike would repeat each other).
    """
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def stream(seed: int, name: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for the stream ``name`` of ``seed``.

    Different names give independent streams (e.g. the train and test draws of a generated set, or
    the weights of a regression set versus its samples), and the same (seed, name) always gives the
    same stream.
    """
    return torch.Generator().manual_seed(derive_seed(seed, name))
