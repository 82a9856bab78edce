"""One lottery-ticket round: deepscope (masks as parametrizations, Trainer) vs. a plain PyTorch loop.

The round trains LeNet-300-100 with the masks of one pruning round (20% of each hidden layer, 10% of
the output layer removed) for the quick preset's iterations (Adam 1.2e-3, batch 60, the 4,000
embedded MNIST images, standardised) and ends with the test accuracy. The plain loop is written as
the common open-source implementations do it: a DataLoader over a TensorDataset with shuffling,
``torch.optim.Adam``, ``weight.data *= mask`` after every step, the loss read with ``.item()``.
Both sides start from the same weights and masks in the same process; each time includes building
the model, attaching the masks, the optimiser and the final evaluation. deepscope's Trainer runs a
step this small on one intra-op thread, so the plain loop is timed both with torch's default thread
count and pinned to one thread, and the speed-up is taken against the faster of the two. Median of
``--repeats``.

    python benchmarks/lottery_speed.py [--repeats 3]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see speed_dse.py: spin-waiting threads distort shared-CPU timings

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from deepscope.prune import apply_masks, masks_of, prune_by_magnitude, sparsity  # noqa: E402
from deepscope.studies import lottery  # noqa: E402
from deepscope.studies.lottery import LotteryConfig, _Runs  # noqa: E402


def plain_loop(config: LotteryConfig, dense: nn.Module, masks: dict[str, torch.Tensor], train: tuple,
               test: tuple) -> float:
    """The common implementation: DataLoader batches, Adam, ``weight.data *= mask`` after each step."""
    model = copy.deepcopy(dense)
    weights = [(model.get_submodule(name.rpartition(".")[0]).weight, mask.float()) for name, mask in masks.items()]
    for weight, mask in weights:
        weight.data *= mask
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(TensorDataset(*train), batch_size=config.batch_size, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    step = 0
    model.train()
    while step < config.iterations:
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            for weight, mask in weights:
                weight.data *= mask
            loss.item()
            step += 1
            if step == config.iterations:
                break
    model.eval()
    with torch.no_grad():
        return float((model(test[0]).argmax(1) == test[1]).float().mean())


def deepscope_round(config: LotteryConfig, dense: nn.Module, masks: dict[str, torch.Tensor], train: tuple,
                    test: tuple) -> float:
    """deepscope: masks attached as parametrizations, the study's own training run."""
    model = apply_masks(copy.deepcopy(dense), masks)
    runs = _Runs(config, config.seed, train, test, None, False)
    runs.fit(model, 1, "ticket", 0)
    assert all(bool((weight == 0)[~mask].all()) for weight, mask in
               ((model.get_submodule(n.rpartition(".")[0]).weight, m) for n, m in masks_of(model).items()))
    return runs.rows[-1].test_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = LotteryConfig()
    train, test = lottery._inputs(config)
    dense = _Runs(config, config.seed, train, test, None, False).network(config.seed)
    masks = prune_by_magnitude(dense, config.rate, scope=config.scope)
    default_threads = torch.get_num_threads()

    def one_thread(*args: object) -> float:
        torch.set_num_threads(1)
        try:
            return plain_loop(*args)
        finally:
            torch.set_num_threads(default_threads)

    plain = {f"plain loop, {default_threads} threads": plain_loop, "plain loop, 1 thread": one_thread}
    ways = {**plain, "deepscope": deepscope_round}
    times: dict[str, list[float]] = {k: [] for k in ways}
    accuracy: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            accuracy[name].append(fn(config, dense, masks, train, test))
            times[name].append(time.perf_counter() - start)
    remaining = sparsity(apply_masks(copy.deepcopy(dense), masks)).overall
    print(f"one lottery round: LeNet-300-100, {len(train[0])} MNIST images, {config.iterations} iterations of "
          f"batch {config.batch_size}, {remaining:.1%} of the weights kept; torch {torch.__version__}, "
          f"median of {args.repeats}")
    print(f"{'way':<24} {'seconds':>8} {'test acc':>9} {'speed-up':>9}")
    base = min(statistics.median(times[name]) for name in plain)
    for name in ways:
        t = statistics.median(times[name])
        print(f"{name:<24} {t:>8.3f} {statistics.median(accuracy[name]):>9.4f} {base / t:>8.2f}x")
    print("speed-up: against the faster plain loop; target: deepscope >= 2x")


if __name__ == "__main__":
    main()
