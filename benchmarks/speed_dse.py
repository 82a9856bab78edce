"""Diffusion spectral entropy speed: deepscope against dse-dsmi 1.1 on the same data, plus the SLQ path.

Exact path: uniform [0,1]^{n×256}, σ = 10, t = 1, n ∈ {1k, 2k, 4k}; each side timed ``repeats`` times,
alternating (median), both values printed (they must agree to ~1e-12). SLQ path: n = 50,000 (far beyond the package's
practical few thousand points) with its standard error; run once.

    python benchmarks/speed_dse.py            # the full table (a few minutes on 2 cores)
    python benchmarks/speed_dse.py --quick    # small sizes, one repeat (seconds)
"""
from __future__ import annotations

import os

# On a shared machine, OpenMP threads that spin-wait (torch's default) slow torch's eigvalsh 10-30x whenever
# another process holds a core; passive waiting costs nothing measurable when the machine is idle. Has effect
# only if torch is not imported yet (run as a script).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from deepscope.metrics.entropy import diffusion_spectral_entropy, estimate_diffusion_spectral_entropy  # noqa: E402


def _timed_pair(first: Callable[[], float], second: Callable[[], float],
                repeats: int) -> tuple[float, float, float, float]:
    """Median seconds of each over ``repeats`` alternating calls (so load changes on a shared machine hit
    both alike), and the value of each one's last call: (first_s, second_s, first_value, second_value)."""
    times: tuple[list[float], list[float]] = ([], [])
    values = [float("nan"), float("nan")]
    for _ in range(repeats):
        for k, fn in enumerate((first, second)):
            start = time.perf_counter()
            values[k] = fn()
            times[k].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1]), values[0], values[1]


def run(repeats: int = 3, sizes: tuple[int, ...] = (1000, 2000, 4000), dim: int = 256,
        slq_n: int | None = 50000, seed: int = 0) -> list[dict]:
    """Time exact DSE (ours vs dse-dsmi) at each size and SLQ DSE at ``slq_n``; one dict per row."""
    from dse_dsmi import diffusion_spectral_entropy as reference_dse

    rows = []
    for n in sizes:
        X = np.random.default_rng(seed).uniform(size=(n, dim))
        ours_s, ref_s, ours, ref = _timed_pair(lambda: diffusion_spectral_entropy(X, sigma=10, t=1),
                                               lambda: float(reference_dse(X, gaussian_kernel_sigma=10, t=1)),
                                               repeats)
        rows.append(dict(case="exact", n=n, ours_s=ours_s, reference_s=ref_s, speedup=ref_s / ours_s,
                         ours=ours, reference=ref, abs_diff=abs(ours - ref)))
    if slq_n:
        X = np.random.default_rng(seed).uniform(size=(slq_n, dim)).astype(np.float32)
        start = time.perf_counter()
        est = estimate_diffusion_spectral_entropy(X, sigma=10, t=1, max_n=None, method="slq", seed=seed)
        rows.append(dict(case="slq", n=slq_n, ours_s=time.perf_counter() - start, ours=est.value,
                         stderr=est.stderr))
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = [f"{'case':<6} {'n':>6} {'ours s':>8} {'dse-dsmi s':>10} {'speedup':>8}  {'ours':>18} "
             f"{'dse-dsmi / stderr':>22}"]
    for r in rows:
        if r["case"] == "exact":
            lines.append(f"{r['case']:<6} {r['n']:>6} {r['ours_s']:>8.2f} {r['reference_s']:>10.2f} "
                         f"{r['speedup']:>7.2f}x  {r['ours']:>18.14f} {r['reference']:>22.14f}   "
                         f"|diff| {r['abs_diff']:.1e}")
        else:
            lines.append(f"{r['case']:<6} {r['n']:>6} {r['ours_s']:>8.2f} {'-':>10} {'-':>8}  {r['ours']:>18.6f} "
                         f"{'± ' + format(r['stderr'], '.6f'):>22}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 500/1000, SLQ at 5,000, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per exact case (median)")
    args = parser.parse_args(argv)
    if args.quick:
        rows = run(repeats=1, sizes=(500, 1000), slq_n=5000)
    else:
        rows = run(repeats=args.repeats)
    print(format_rows(rows))


if __name__ == "__main__":
    main()
