"""ESL quick start: deepscope's trainer vs. a plain PyTorch loop written the way the seed does it.

Both sides train the same MLP (MNIST 1000 at 10x10, depth 6, width 100, BN before every Linear,
dropout 0.05, Adam 1e-3, batch 100, up to 100 epochs, stop_loss 1e-3) on the same tensors in the
same process; each time includes building the model and the optimiser and moving nothing else.
The seed-style loop uses a DataLoader over a TensorDataset with shuffling, reads every batch loss
with ``loss.item()``, and wraps the epochs in tqdm (writing to /dev/null). Median of ``--repeats``.

    python benchmarks/esl_speed.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from deepscope.studies import esl as study
from deepscope.train import Trainer


def seed_style(config: study.ESLConfig, x: torch.Tensor, y: torch.Tensor) -> float:
    """The seed's way: DataLoader batches, Adam, per-batch .item(), tqdm; returns the final epoch loss."""
    torch.manual_seed(config.seed)
    model = study.build(config, _Shape(x, y))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=config.batch_size, shuffle=True)
    criterion = torch.nn.CrossEntropyLoss()
    epoch_loss = float("nan")
    with open(os.devnull, "w") as sink:
        for _ in tqdm(range(config.num_epochs), file=sink):
            model.train()
            total = 0.0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = criterion(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
            epoch_loss = total / len(x)
            if epoch_loss < config.stop_loss:
                break
    return epoch_loss


def deepscope_style(config: study.ESLConfig, x: torch.Tensor, y: torch.Tensor, threads: int | None = None) -> float:
    """deepscope's Trainer; ``threads=None`` lets it choose (1 intra-op thread for a step this small)."""
    model = study.build(config, _Shape(x, y))
    train = dataclasses.replace(study.train_config(config, progress=False), threads=threads)
    return Trainer(model, x, y, train).fit().final_train_loss


class _Shape:
    """The two facts ``study.build`` needs from a data set."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.input_shape = tuple(x.shape[1:])
        self.num_classes = int(y.max()) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = study.ESLConfig()
    data = study.load_data(config)
    x, y = data.x, data.y
    default_threads = torch.get_num_threads()
    ways = {
        "seed-style loop": seed_style,
        "deepscope Trainer": deepscope_style,
        f"deepscope, {default_threads} threads": lambda c, a, b: deepscope_style(c, a, b, threads=default_threads),
    }
    times: dict[str, list[float]] = {k: [] for k in ways}
    losses: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            losses[name].append(fn(config, x, y))
            times[name].append(time.perf_counter() - start)
    print(f"ESL quick start, {len(x)} samples, torch {torch.__version__}, {default_threads} threads by default, "
          f"median of {args.repeats}")
    print(f"{'way of training':<26} {'seconds':>8} {'final loss':>11} {'speed-up':>9}")
    base = statistics.median(times["seed-style loop"])
    for name in ways:
        t = statistics.median(times[name])
        print(f"{name:<26} {t:>8.3f} {statistics.median(losses[name]):>11.2e} {base / t:>8.2f}x")
    print("target: deepscope Trainer >= 2x the seed-style loop (it picks 1 intra-op thread for a step this small; "
          "the last row pins the default thread count)")


if __name__ == "__main__":
    main()
