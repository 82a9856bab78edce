"""Ten seeds of the ESL quick start: stacked in one model vs. one after another with the Trainer.

Both ways train the quick start's MLP (MNIST 1000 at 10x10, depth 6, width 100, BN before every
Linear, dropout 0.05, Adam 1e-3, batch 100, up to 100 epochs, stop_loss 1e-3) for seeds 0..9 (each
seed its own stratified subset, initialisation and batches), in the same process. Each time includes
what a user pays for: building the ten models, moving the data into the trainer's layout, training,
and the final train accuracy each way reports; loading the ten subsets is done once, outside.
Median of ``--repeats`` of wall time and of this process's CPU time (on a machine shared with other jobs the
CPU time is the steadier of the two: it does not count the time other processes hold the core);
``--seeds``/``--epochs`` make a smaller run for a smoke test.

    python benchmarks/stacked_speed.py [--repeats 3] [--seeds 10] [--epochs 100] [--threads N]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from deepscope.studies import esl as study
from deepscope.train import Trainer
from deepscope.train.stacked import StackedTrainer


def one_by_one(configs: list[study.ESLConfig], data: list) -> list[float]:
    """Today's way: a Trainer per seed, one after another; returns the final epoch losses."""
    losses = []
    for config, d in zip(configs, data):
        model = study.build(config, d)
        losses.append(Trainer(model, d.x, d.y, study.train_config(config, progress=False)).fit().final_train_loss)
    return losses


def stacked(configs: list[study.ESLConfig], data: list, threads: int | None = None) -> list[float]:
    """All seeds as one stacked model; returns the final epoch losses."""
    models = [study.build(config, d) for config, d in zip(configs, data)]
    train = [dataclasses.replace(study.train_config(c, progress=False), threads=threads) for c in configs]
    results = StackedTrainer(models, [d.x for d in data], [d.y for d in data], train).fit()
    return [r.final_train_loss for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=None, help="fewer epochs than the quick start's 100")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads of the stacked run "
                                                                  "(default: the stacked trainer's choice)")
    args = parser.parse_args()
    base = study.ESLConfig()
    if args.epochs is not None:
        base = dataclasses.replace(base, num_epochs=args.epochs)
    configs = [dataclasses.replace(base, seed=s) for s in range(args.seeds)]
    data = [study.load_data(c) for c in configs]
    ways = {"one by one (Trainer)": one_by_one,
            "stacked": lambda c, d: stacked(c, d, args.threads)}
    wall: dict[str, list[float]] = {k: [] for k in ways}
    cpu: dict[str, list[float]] = {k: [] for k in ways}
    losses: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            losses[name] += fn(configs, data)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    print(f"ESL quick start x {args.seeds} seeds ({base.num_epochs} epochs max), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads by default, median of {args.repeats}")
    print(f"{'way of training':<22} {'wall s':>7} {'CPU s':>7} {'speed-up wall':>14} {'CPU':>6} "
          f"{'mean final loss':>16}  wall s of each repeat")
    first = "one by one (Trainer)"
    for name in ways:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:<22} {w:>7.2f} {c:>7.2f} {statistics.median(wall[first]) / w:>13.2f}x "
              f"{statistics.median(cpu[first]) / c:>5.2f}x {statistics.mean(losses[name]):>16.2e}  "
              f"{' / '.join(f'{t:.1f}' for t in wall[name])}")
    print("target: stacked >= 3x one by one (throughput of seeds per second)")


if __name__ == "__main__":
    main()
