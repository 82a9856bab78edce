"""Sharpness (top Hessian eigenvalue): deepscope's Lanczos vs a plain power iteration written the way PyHessian does it.

Both sides measure the same network — ``build_model("mlp", in_features=100, num_classes=10, hidden=[200, 200],
activation="tanh", batchnorm=False, seed=0)``, 62,410 parameters — on the same data, MNIST 2000 at 10x10
flattened to [2000, 100], with the loss ``F.mse_loss(outputs, one_hot)`` (mean over all 2000 x 10 entries, as the
edge-of-stability study uses), full batch, in the same process. The power iteration builds the graph of the
gradient once (``torch.autograd.grad(create_graph=True)``) and then repeats: normalise v, H v by a second
``torch.autograd.grad`` through it, Rayleigh quotient vᵀ H v, stop when it changes by < tol relative. Both
use tol = 1e-4 and the same start: a random vector (seeded), and then, after ``--steps`` full-batch GD steps
of ``--lr``, the top eigenvector from before the steps (a warm start, which is what a study measuring every
few steps pays). Each time includes building the gradient graph. Errors are against a float64 Lanczos
reference (tol 1e-10). Median of ``--repeats``.

    python benchmarks/curvature_speed.py [--repeats 3] [--steps 10] [--lr 0.5]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see speed_dse.py: spin-waiting threads distort shared-CPU timings

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import deepscope  # noqa: E402
from deepscope.metrics import hessian_eigenvalues  # noqa: E402

TOL = 1e-4


def power_iteration(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v0: torch.Tensor,
                    done: Callable[[float, float], bool], max_iter: int = 5000) -> tuple[float, int]:
    """PyHessian-style: the gradient graph once, then v <- Hv/‖Hv‖ until ``done(previous, new)`` Rayleigh
    quotient. Returns (eigenvalue, Hessian-vector products)."""
    params = [p for p in model.parameters() if p.requires_grad]
    sizes = [p.numel() for p in params]
    gradient = torch.autograd.grad(F.mse_loss(model(x), y), params, create_graph=True)
    v = v0 / v0.norm()
    eigenvalue = float("nan")
    for step in range(1, max_iter + 1):
        hv = torch.autograd.grad(gradient, params, [c.view_as(p) for c, p in zip(v.split(sizes), params)],
                                 retain_graph=True)
        hv = torch.cat([h.reshape(-1) for h in hv])
        estimate = float(hv @ v)
        v = hv / hv.norm()
        if done(eigenvalue, estimate):
            return estimate, step
        eigenvalue = estimate
    return eigenvalue, max_iter


def relative_change(previous: float, new: float) -> bool:
    """PyHessian's stop: the Rayleigh quotient changed by < TOL relative (never at the first product)."""
    return abs(new - previous) / (abs(previous) + 1e-6) < TOL


def within_tol_of(exact: float) -> Callable[[float, float], bool]:
    """An oracle stop no real run has: the estimate is within TOL (relative) of the exact value."""
    return lambda previous, new: abs(new - exact) <= TOL * exact


def lanczos(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v0: torch.Tensor, tol: float) -> tuple[float, int]:
    result = hessian_eigenvalues(model, F.mse_loss, x, y, k=1, tol=tol, v0=v0)
    return float(result), result.num_products


def reference(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The top eigenvalue in float64 (tol 1e-10) and its eigenvector in the model's dtype."""
    result = hessian_eigenvalues(copy.deepcopy(model).double(), F.mse_loss, x.double(), y.double(), k=1, tol=1e-10,
                                 max_iter=500)
    return float(result), result.eigenvectors[:, 0].float()


def gd_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


def timed(fn: Callable[[], tuple[float, int]], repeats: int) -> tuple[float, int, float]:
    """(eigenvalue, products, median seconds) over ``repeats`` runs."""
    times, out = [], (float("nan"), 0)
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out[0], out[1], statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="GD steps between the cold and the warm measurement")
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()
    data = deepscope.load_dataset("mnist", n=2000, size=10, seed=0)
    x = data.x.reshape(len(data.x), -1)
    y = F.one_hot(data.y, 10).to(x.dtype)
    model = deepscope.build_model("mlp", in_features=100, num_classes=10, hidden=[200, 200], activation="tanh",
                                  batchnorm=False, seed=0)
    dim = sum(p.numel() for p in model.parameters())
    v_random = torch.randn(dim, generator=torch.Generator().manual_seed(0))

    print(f"Top Hessian eigenvalue, MLP 100-200-200-10 tanh ({dim} parameters), MNIST 2000 at 10x10, MSE, full "
          f"batch, tol {TOL:g}, torch {torch.__version__}, {torch.get_num_threads()} threads, median of "
          f"{args.repeats}; warm = from the previous top eigenvector after {args.steps} GD steps at lr {args.lr}")
    print(f"{'method':<19} {'start':<7} {'eigenvalue':>11} {'rel. error':>10} {'products':>8} {'seconds':>8} "
          f"{'Lanczos speed-up':>16}")
    v0, v_previous = v_random, v_random  # the warm start is the top eigenvector measured before the GD steps
    for start in ("random", "warm"):
        if start == "warm":
            gd_steps(model, x, y, args.steps, args.lr)
            v0 = v_previous
        exact, v_previous = reference(model, x, y)
        ours = timed(lambda: lanczos(model, x, y, v0, TOL), args.repeats)
        rows = [("power iteration", timed(lambda: power_iteration(model, x, y, v0, relative_change), args.repeats)),
                ("deepscope Lanczos", ours),
                ("power, oracle stop", timed(lambda: power_iteration(model, x, y, v0, within_tol_of(exact)),
                                             args.repeats))]
        for method, (value, products, seconds) in rows:
            ratio = "" if method == "deepscope Lanczos" else f"{seconds / ours[2]:.2f}x"
            print(f"{method:<19} {start:<7} {value:>11.6f} {abs(value - exact) / exact:>10.1e} {products:>8d} "
                  f"{seconds:>8.3f} {ratio:>16}")
    print("rel. error: against a float64 Lanczos reference (tol 1e-10). 'power, oracle stop': power iteration stopped "
          "as soon as it is within tol of the reference (an oracle no real run has: the fewest products it needs)")
    print("target: deepscope Lanczos >= 3x faster than power iteration at the same tolerance and start")


if __name__ == "__main__":
    main()
