"""TwoNN at the scale of the `deepscope id` study: deepscope's ``twonn`` against a plain brute-force search.

Two inputs (issue 9's targets on the 2-core machine: under 30 s and under 60 s):

- n = 100,000 points in 100 dimensions, rank 10 (``speed_twonn.make_data``: a rank-10 Gaussian through a
  random 10×100 matrix plus noise 0.01);
- n = 10,000 points of a 65,536-dimensional conv activation: the output of act_ids' first stage (conv 3×3
  → 64 channels, BatchNorm, ReLU, at 32×32: ResNet-18's stem at initialisation, seed 0, in eval mode) on
  10,000 GeoMNIST images, float32 as a capture gives it.

"brute force" is the textbook exact search, the issue's yardstick: float32 scores of all n² pairs by
blocked matrix products (BLAS), each point's 4 smallest kept, their distances recomputed in float64 from
the differences, and the same TwoNN fit (act_ids' variant, one fit). The script checks more than the
estimates: the two nearest distances (r1, r2) of every point must agree between the two searches; where
they do not, the point is searched again in float64 against every other point to say which was right.

    python benchmarks/id_speed.py                 # both rows: deepscope median of 3, brute force once
    python benchmarks/id_speed.py --threads 1     # one thread for torch and BLAS (a busy shared machine)
    python benchmarks/id_speed.py --quick         # n = 20,000 x 100 and 2,000 x 65,536
    python benchmarks/id_speed.py --no-exact      # deepscope's side only
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from deepscope.data import load_dataset
from deepscope.metrics.intrinsic_dim import _twonn_fit, twonn
from deepscope.metrics.neighbors import knn
from deepscope.models import build_model

sys.path.insert(0, str(Path(__file__).parent))
from speed_twonn import make_data  # noqa: E402

BLOCK_BYTES = 1 << 25
"""Scores per block of the brute force (32 MiB, deepscope's default cap too)."""


def conv_activation(n: int, seed: int = 0) -> torch.Tensor:
    """ResNet-18's stem (act_ids' conv1: 64 × 32 × 32 = 65,536 features) on n GeoMNIST images, float32 [n, 65536]."""
    images = load_dataset("geomnist", n_per_class=-(-n // 3) + 1, train_fraction=0.5, seed=seed,
                          normalize=True).x
    images = torch.cat([images, load_dataset("geomnist", n_per_class=-(-n // 3) + 1, train_fraction=0.5,
                                             seed=seed, normalize=True, split="test").x])[:n]
    stem = build_model("resnet18", in_channels=1, num_classes=3, seed=seed).stem.eval()
    with torch.no_grad():
        return torch.cat([stem(batch).flatten(1) for batch in images.split(500)])


def brute_force_2nn(X: torch.Tensor, kept: int = 4) -> torch.Tensor:
    """(r1, r2) [n, 2] of every point: float32 scores ‖b‖² − 2 a·b of the centred points for all pairs, in
    blocks of rows, the ``kept`` smallest per point, their distances in float64 from the differences."""
    centred = X.float() - X.float().mean(dim=0)
    sq = centred.square().sum(dim=1)
    rows = max(1, BLOCK_BYTES // (4 * len(X)))
    out = []
    for lo in range(0, len(X), rows):
        block = torch.arange(lo, min(lo + rows, len(X)))
        scores = torch.addmm(sq, centred[block], centred.T, alpha=-2.0)
        scores[torch.arange(len(block)), block] = float("inf")
        candidates = torch.topk(scores, kept, dim=1, largest=False).indices
        del scores
        for chosen, own in zip(candidates.split(8), block.split(8)):  # 32 rows in float64 at a time
            differences = X[chosen.flatten()].double().view(len(own), kept, -1) - X[own].double().unsqueeze(1)
            out.append(torch.linalg.vector_norm(differences, dim=2).sort(dim=1).values[:, :2])
    return torch.cat(out)


def brute_force_twonn(X: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(r1, r2) by :func:`brute_force_2nn` and the TwoNN estimate deepscope's ``twonn`` fits on them."""
    r = brute_force_2nn(X)
    return r, _twonn_fit(r[:, 0], r[:, 1], 0.9, "act_ids")[0]  # twonn's own fit (act_ids, fraction 0.9)


def two_nearest_in_float64(X: torch.Tensor, row: int) -> torch.Tensor:
    """(r1, r2) of one point by float64 distances to every other point (the arbiter of a disagreement)."""
    d = torch.cat([torch.linalg.vector_norm(part.double() - X[row].double(), dim=1) for part in X.split(512)])
    d[row] = float("inf")
    return d.topk(2, largest=False).values


def _timed(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds over ``repeats`` calls, and the value of the last call."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), value


def run(cases: Sequence[tuple[str, Callable[[], torch.Tensor]]], with_exact: bool = True, repeats: int = 3
        ) -> list[dict]:
    twonn(torch.from_numpy(make_data(500, 10)))  # warm-up: first-call overheads of torch
    rows = []
    for name, make in cases:
        X = make()
        ours_s, ours = _timed(lambda: twonn(X).dimension, repeats)
        row = dict(name=name, n=X.shape[0], p=X.shape[1], ours_s=ours_s, ours=ours, repeats=repeats, exact_s=None,
                   exact=None, differ=None, wrong=None)
        if with_exact:
            row["exact_s"], (reference, row["exact"]) = _timed(lambda: brute_force_twonn(X), 1)
            found = knn(X, 2)[0]
            differ = (~torch.isclose(found, reference, rtol=1e-12, atol=0)).any(dim=1).nonzero().flatten()
            row["differ"] = len(differ)
            row["wrong"] = sum(not torch.allclose(found[i], two_nearest_in_float64(X, int(i)), rtol=1e-12, atol=0)
                               for i in differ[:100])
        rows.append(row)
        print(format_table([row]).splitlines()[-1], flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| input | n | p | deepscope s (median of) | brute force s | speed-up | deepscope ID | brute-force ID "
             "| points whose r1, r2 differ (deepscope wrong) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ex = "—" if r["exact_s"] is None else f"{r['exact_s']:.1f}"
        up = "—" if r["exact_s"] is None else f"{r['exact_s'] / r['ours_s']:.1f}×"
        ex_id = "—" if r["exact"] is None else repr(r["exact"])
        differ = "—" if r["differ"] is None else f"{r['differ']} ({r['wrong']})"
        lines.append(f"| {r['name']} | {r['n']:,} | {r['p']:,} | {r['ours_s']:.1f} ({r['repeats']}) | {ex} | {up} | "
                     f"{r['ours']!r} | {ex_id} | {differ} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 20,000 x 100 and 2,000 x 65,536")
    parser.add_argument("--no-exact", dest="exact", action="store_false", help="skip the brute force")
    parser.add_argument("--only", choices=("lowrank", "conv"), help="run one of the two inputs")
    parser.add_argument("--repeats", type=int, default=3, help="timed deepscope calls per input; the median is shown")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit torch and the BLAS/OpenMP pools to this many threads")
    args = parser.parse_args(argv)
    n_low, n_conv = (20_000, 2_000) if args.quick else (100_000, 10_000)
    cases = [("rank-10 Gaussian + noise", lambda: torch.from_numpy(make_data(n_low, 100))),
             ("ResNet-18 stem on GeoMNIST", lambda: conv_activation(n_conv))]
    if args.only:
        cases = [cases[0 if args.only == "lowrank" else 1]]
    if args.threads:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
        torch.set_num_threads(args.threads)
        threadpool_limits(limits=args.threads)
    print(f"TwoNN (act_ids variant, one fit): deepscope vs brute force; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(format_table(run(cases, args.exact, args.repeats)))


if __name__ == "__main__":
    main()
