"""Discrete building blocks for plug-in (histogram) entropy estimates.

A continuous representation is made discrete by binning each coordinate; each row's tuple of bin
indices is one joint symbol; the plug-in entropy of the symbols is H = -sum_s p_s log p_s with
p_s the fraction of rows equal to s (Shwartz-Ziv & Tishby 2017; the "classic Shannon entropy"
baseline of Liao et al. 2023).

The plug-in entropy of n draws is biased low. Miller (1955, "Note on the bias of information
estimates") gives, for m symbols of non-zero probability,

    E[Ĥ] − H ≈ −(m − 1) / (2n)  nats  = −(m − 1) / (2n ln 2)  bits,

and the Miller–Madow estimate adds it back with m̂, the number of distinct symbols seen:
Ĥ_MM = Ĥ + (m̂ − 1)/(2n) nats. It removes the leading bias term while m̂ ≈ m, i.e. while n is large
next to the number of symbols; with nearly every row its own symbol it cannot help.
"""
from __future__ import annotations

import math
from typing import Literal

import torch

from deepscope.errors import DeepscopeError

Correction = Literal["miller-madow"] | None
"""A bias correction of the plug-in entropy: None (the plug-in value) or ``"miller-madow"``."""


def uniform_bin(X: torch.Tensor, bins: int, lo: float | torch.Tensor | None = None,
                hi: float | torch.Tensor | None = None) -> torch.Tensor:
    """Bin every coordinate of ``X`` [n, d] into ``bins`` equal-width bins on [lo, hi].

    ``lo``/``hi`` default to each feature's min/max (min-max scaling). Bin k holds
    lo + k·w <= x < lo + (k+1)·w with w = (hi - lo)/bins; the top edge ``hi`` falls in the last
    bin and values outside [lo, hi] are clipped into the end bins. A constant feature (hi = lo)
    puts every row in bin 0 instead of dividing by zero. Returns int64 codes in 0..bins-1.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1; got {bins}.")
    lo_t = X.amin(dim=0) if lo is None else torch.as_tensor(lo, dtype=X.dtype, device=X.device)
    hi_t = X.amax(dim=0) if hi is None else torch.as_tensor(hi, dtype=X.dtype, device=X.device)
    width = hi_t - lo_t
    scaled = torch.where(width > 0, (X - lo_t) / torch.where(width > 0, width, torch.ones_like(width)),
                         torch.zeros_like(X))
    return torch.clamp(torch.floor(scaled * bins), 0, bins - 1).to(torch.int64)


def joint_codes(codes: torch.Tensor) -> torch.Tensor:
    """Map each row of integer codes [n, d] to one symbol id in 0..S-1 (S = number of distinct rows)."""
    if codes.ndim == 1:
        codes = codes[:, None]
    return torch.unique(codes, dim=0, return_inverse=True)[1]


def symbol_probabilities(symbols: torch.Tensor) -> torch.Tensor:
    """Empirical probabilities p_s of the distinct values in a 1-D tensor of symbols."""
    counts = torch.unique(symbols, return_counts=True)[1]
    return counts.to(torch.float64) / symbols.numel()


def plugin_entropy(symbols: torch.Tensor, base: float = 2.0) -> float:
    """Plug-in entropy H = -sum_s p_s log_base p_s of a 1-D tensor of discrete symbols."""
    p = symbol_probabilities(symbols)
    return float(-(p * torch.log(p)).sum()) / math.log(base)


def discrete_entropy(symbols: torch.Tensor, base: float = 2.0, correction: Correction = None) -> float:
    """Entropy of a 1-D tensor of symbols: the plug-in value, or with ``correction="miller-madow"``

        Ĥ_MM = Ĥ + (m̂ − 1) / (2 n ln base),

    m̂ the number of distinct symbols among the n (Miller 1955; see the module docstring).
    """
    if correction not in (None, "miller-madow"):
        raise DeepscopeError(f"correction must be None (plug-in) or 'miller-madow'; got {correction!r}.")
    h = plugin_entropy(symbols, base)
    if correction is None:
        return h
    return h + (torch.unique(symbols).numel() - 1) / (2 * symbols.numel() * math.log(base))
