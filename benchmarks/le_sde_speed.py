"""LE-SDE logger: 32 batch-size-1 SGD trials run together vs the same trials one after another.

Both sides run the quick preset's trials (LeNet-5 on GeoMNIST, 500 training images per class, lr
0.025, the same seeds, hence the same initialisations and the same drawn examples) for the same
number of iterations and log the drawn example's logits and loss before every update. The plain side
is the seed's way: per trial a LeNet-5 module and an SGD optimiser, per iteration forward, backward and
``optimizer.step()`` (:func:`deepscope.studies.le_sde_logger.plain_trial`); deepscope runs all trials
as one computation on stacked parameters (:func:`deepscope.studies.le_sde_logger.log_trials`, without
validation evaluations, which the plain side does not make either). Both use one intra-op thread (the
setting deepscope picks for steps this small). Throughput = trial-iterations per second of wall time,
and per second of process CPU time (steadier than wall time on a shared machine; with one thread the two
agree on a quiet one); median of ``--repeats``. The target is 5x.

    python benchmarks/le_sde_speed.py [--trials 32] [--iterations 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from deepscope.data import load_dataset
from deepscope.studies.le_sde_logger import log_trials, plain_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = {"n_per_class": 600, "train_fraction": 500 / 600, "seed": 0}
    train = load_dataset("geomnist", **options)
    val = load_dataset("geomnist", split="test", **options)
    seeds = list(range(args.trials))
    together, apart, together_cpu, apart_cpu = [], [], [], []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        log = log_trials(train.x, train.y, val.x, val.y, seeds=seeds, iterations=args.iterations, lr=0.025,
                         evaluations=0)
        together.append(time.perf_counter() - start)
        together_cpu.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        runs = [plain_trial(train.x, train.y, seed=seed, iterations=args.iterations, lr=0.025, num_classes=3)
                for seed in seeds]
        apart.append(time.perf_counter() - start)
        apart_cpu.append(time.process_time() - cpu)
    gap = max(float(np.abs(log.logits[t] - runs[t][0]).max()) for t in range(args.trials))
    work = args.trials * args.iterations
    a, b = statistics.median(together), statistics.median(apart)
    print(f"{args.trials} trials x {args.iterations} batch-size-1 SGD steps (LeNet-5, GeoMNIST), median of "
          f"{args.repeats}")
    print(f"  one after another (plain loop): {b:.2f} s = {work / b:,.0f} trial-steps/s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in apart)})")
    print(f"  together (deepscope):           {a:.2f} s = {work / a:,.0f} trial-steps/s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in together)})")
    ca, cb = statistics.median(together_cpu), statistics.median(apart_cpu)
    print(f"  speed-up {b / a:.2f}x in wall time, {cb / ca:.2f}x in CPU time ({cb:.2f} s vs {ca:.2f} s); target 5x")
    print(f"  largest logit difference between the two ways: {gap:.2e} (float32 rounding, amplified by "
          f"{args.iterations} SGD steps)")


if __name__ == "__main__":
    main()
