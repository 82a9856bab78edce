"""Geometry metrics side by side with their peers, in one run (median of 3 each).

- TwoNN (deepscope) vs scikit-dimension 0.5.0's TwoNN at n in {2k, 10k, 50k}, D in {100, 1000}:
  target >= 5x faster at n = 10k, and runs at 50k.
- Exact diffusion spectral entropy (deepscope) vs dse-dsmi 1.1 at n in {1k, 2k, 4k}: target >= 2x
  faster with equal values; SLQ DSE at n = 50k in under 2 minutes.

    python benchmarks/metrics_speed.py [--quick]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see speed_dse.py: spin-waiting threads distort shared-CPU timings

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed_dse  # noqa: E402
import speed_twonn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    extra = ["--quick"] if args.quick else []
    speed_twonn.main(extra)
    print()
    speed_dse.main(extra)


if __name__ == "__main__":
    main()
