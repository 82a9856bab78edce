"""TwoNN speed: deepscope's ``twonn`` against scikit-dimension 0.5.0's ``TwoNN().fit`` on the same data.

Data: a rank-10 Gaussian embedded in D dimensions by a random matrix, plus noise of scale 0.01;
the same float64 array goes to both. Each cell is the median of ``repeats`` timed calls (after one
untimed warm-up of ours). scikit-dimension is skipped where its time, extrapolated as n² from the
largest size it ran at that D, would exceed ``skdim_limit_s`` for one call; the row says so.

    python benchmarks/speed_twonn.py            # n in {2k, 10k, 50k}, D in {100, 1000}
    python benchmarks/speed_twonn.py --quick    # small sizes, a few seconds
    python benchmarks/speed_twonn.py --threads 1  # both sides on one thread (a busy shared machine)
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from typing import Callable, Sequence

import numpy as np
import torch

from deepscope.metrics.intrinsic_dim import twonn

SIZES = (2_000, 10_000, 50_000)
DIMS = (100, 1_000)
QUICK_SIZES = (1_000, 2_000)
QUICK_DIMS = (100,)
RANK = 10


def make_data(n: int, D: int, seed: int = 0) -> np.ndarray:
    """A rank-10 Gaussian through a random 10×D matrix, plus N(0, 0.01²) noise, float64 [n, D]."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, RANK)) @ rng.normal(size=(RANK, D)) + 0.01 * rng.normal(size=(n, D))


def _timed(call: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Median seconds over ``repeats`` calls, and the value of the last call."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), value


def run(repeats: int = 3, sizes: Sequence[int] = SIZES, dims: Sequence[int] = DIMS,
        skdim_limit_s: float = 120.0) -> list[dict]:
    """Time both implementations; one dict per (n, D) with seconds, ratio and both estimates."""
    try:
        from skdim.id import TwoNN
    except ImportError:
        TwoNN = None
    twonn(make_data(500, 10))  # warm-up: first-call overheads of torch
    rows = []
    for D in dims:
        skdim_at: tuple[int, float] | None = None  # (n, seconds) of the largest skdim run at this D
        for n in sorted(sizes):
            X = make_data(n, D)
            ours_s, ours_dim = _timed(lambda: twonn(X).dimension, repeats)
            row = dict(n=n, D=D, ours_s=ours_s, ours_dim=ours_dim, skdim_s=None, skdim_dim=None, ratio=None,
                       note="")
            estimate = skdim_at[1] * (n / skdim_at[0]) ** 2 if skdim_at else None
            if TwoNN is None:
                row["note"] = "scikit-dimension not installed"
            elif estimate is not None and estimate > skdim_limit_s:
                row["note"] = f"skdim skipped: ~{estimate:.0f} s per call estimated (n² from n={skdim_at[0]})"
            else:
                row["skdim_s"], row["skdim_dim"] = _timed(lambda: TwoNN().fit(X).dimension_, repeats)
                row["ratio"] = row["skdim_s"] / ours_s
                skdim_at = (n, row["skdim_s"])
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| n | D | ours s | skdim s | skdim/ours | ours ID | skdim ID | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def fmt(value, spec):
            return "—" if value is None else format(value, spec)
        lines.append(f"| {r['n']:,} | {r['D']} | {r['ours_s']:.3f} | {fmt(r['skdim_s'], '.3f')} | "
                     f"{fmt(r['ratio'], '.1f')}{'×' if r['ratio'] else ''} | {r['ours_dim']:.4f} | "
                     f"{fmt(r['skdim_dim'], '.4f')} | {r['note']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a few seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per cell; the median is shown")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit torch and the BLAS/OpenMP pools (numpy, scikit-learn) to this many threads")
    args = parser.parse_args(argv)
    sizes, dims = (QUICK_SIZES, QUICK_DIMS) if args.quick else (SIZES, DIMS)
    limits = contextlib.nullcontext()
    if args.threads:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
        torch.set_num_threads(args.threads)
        limits = threadpool_limits(limits=args.threads)
    with limits:
        print(f"TwoNN, rank-{RANK} Gaussian in D dims + noise 0.01; median of {args.repeats}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        print(format_table(run(repeats=args.repeats, sizes=sizes, dims=dims)))


if __name__ == "__main__":
    main()
