"""TwoNN at the scale of the `deepscope id` study: deepscope's ``twonn`` against the exact brute-force search.

Two inputs (issue 9's targets on the 2-core machine: under 30 s and under 60 s):

- n = 100,000 points in 100 dimensions, rank 10 (``speed_twonn.make_data``: a rank-10 Gaussian through a
  random 10×100 matrix plus noise 0.01);
- n = 10,000 points of a 65,536-dimensional conv activation: the output of act_ids' first stage (conv 3×3
  → 64 channels, BatchNorm, ReLU, at 32×32: ResNet-18's stem at initialisation, seed 0, in eval mode) on
  10,000 GeoMNIST images, float32 as a capture gives it.

"exact" is the same call with the low-rank pre-search switched off: every row is searched in all p
dimensions (float32 scores, candidates measured exactly in float64), the route deepscope took for these
inputs before. Both must give the same estimate; the table prints both.

    python benchmarks/id_speed.py             # both rows, one timed call each (the exact side takes minutes)
    python benchmarks/id_speed.py --quick     # n = 20,000 x 100 and 2,000 x 65,536
    python benchmarks/id_speed.py --no-exact  # deepscope's side only
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from deepscope.data import load_dataset
from deepscope.metrics import neighbors
from deepscope.metrics.intrinsic_dim import twonn
from deepscope.models import build_model

sys.path.insert(0, str(Path(__file__).parent))
from speed_twonn import make_data  # noqa: E402


def conv_activation(n: int, seed: int = 0) -> torch.Tensor:
    """ResNet-18's stem (act_ids' conv1: 64 × 32 × 32 = 65,536 features) on n GeoMNIST images, float32 [n, 65536]."""
    images = load_dataset("geomnist", n_per_class=-(-n // 3) + 1, train_fraction=0.5, seed=seed,
                          normalize=True).x
    images = torch.cat([images, load_dataset("geomnist", n_per_class=-(-n // 3) + 1, train_fraction=0.5,
                                             seed=seed, normalize=True, split="test").x])[:n]
    stem = build_model("resnet18", in_channels=1, num_classes=3, seed=seed).stem.eval()
    with torch.no_grad():
        return torch.cat([stem(batch).flatten(1) for batch in images.split(500)])


def _timed(call: Callable[[], float]) -> tuple[float, float]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def exact(X: torch.Tensor) -> float:
    """TwoNN with the pre-search off: the plain chunked brute-force search of every row."""
    saved = neighbors.MIN_PROJECTION_RANK
    neighbors.MIN_PROJECTION_RANK = sys.maxsize
    try:
        return twonn(X).dimension
    finally:
        neighbors.MIN_PROJECTION_RANK = saved


def run(cases: Sequence[tuple[str, Callable[[], torch.Tensor]]], with_exact: bool = True) -> list[dict]:
    twonn(make_data(500, 10))  # warm-up: first-call overheads of torch
    rows = []
    for name, make in cases:
        X = make()
        ours_s, ours = _timed(lambda: twonn(X).dimension)
        row = dict(name=name, n=X.shape[0], p=X.shape[1], ours_s=ours_s, ours=ours, exact_s=None, exact=None)
        if with_exact:
            row["exact_s"], row["exact"] = _timed(lambda: exact(X))
        rows.append(row)
        print(format_table([row]).splitlines()[-1], flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| input | n | p | deepscope s | exact search s | speed-up | deepscope ID | exact ID |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ex = "—" if r["exact_s"] is None else f"{r['exact_s']:.1f}"
        up = "—" if r["exact_s"] is None else f"{r['exact_s'] / r['ours_s']:.1f}×"
        ex_id = "—" if r["exact"] is None else repr(r["exact"])
        lines.append(f"| {r['name']} | {r['n']:,} | {r['p']:,} | {r['ours_s']:.1f} | {ex} | {up} | {r['ours']!r} | "
                     f"{ex_id} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 20,000 x 100 and 2,000 x 65,536")
    parser.add_argument("--no-exact", dest="exact", action="store_false", help="skip the exact search")
    parser.add_argument("--only", choices=("lowrank", "conv"), help="run one of the two inputs")
    args = parser.parse_args(argv)
    n_low, n_conv = (20_000, 2_000) if args.quick else (100_000, 10_000)
    cases = [("rank-10 Gaussian + noise", lambda: torch.from_numpy(make_data(n_low, 100))),
             ("ResNet-18 stem on GeoMNIST", lambda: conv_activation(n_conv))]
    if args.only:
        cases = [cases[0 if args.only == "lowrank" else 1]]
    print(f"TwoNN (act_ids variant, one fit) vs the exact search; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(format_table(run(cases, args.exact)))


if __name__ == "__main__":
    main()
