"""The seed's ``ESL`` class (DaDaCheng/Re-equi-sepa), kept call-compatible and fixed.

    esl = ESL(dataset="MNIST", data_length=1000, batch_size=100, data_size=10)
    esl.set_model(hidden_dim=100, depth=6, p=0.05)
    esl.train(lr=1e-3, num_epochs=100, stop_loss=1e-3, opt="Adam")
    log_d = esl.compute_separation()
    r = esl.plot_separation(log_d)

Fixes against the seed: ``opt='SGD'`` builds SGD (the seed built Adam); the hidden width is not
tied to the image size; ``width_list`` is not mutated; everything is seeded; empty classes raise.
It runs the same steps as :func:`deepscope.studies.esl.run`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics.separation import SeparationFit, fit_log_linear
from deepscope.report.figures import plot_separation
from deepscope.studies import esl as study
from deepscope.train import Trainer, TrainResult


class ESL:
    """Equi-separation experiment with the seed's public API; extra keywords: ``seed``, ``root``, ``device``."""

    def __init__(self, dataset: Any = "MNIST", data_length: int = 1000, batch_size: int = 100, data_size: int = 10,
                 *, seed: int = 0, root: str | None = None, device: str = "cpu") -> None:
        name = dataset if isinstance(dataset, str) else getattr(dataset, "name", type(dataset).__name__)
        self.config = study.ESLConfig(dataset=name, data_length=data_length, batch_size=batch_size,
                                      data_size=data_size, seed=seed, root=root, device=device)
        self.data = study.load_data(self.config, dataset=None if isinstance(dataset, str) else dataset)
        self.model: torch.nn.Module | None = None
        self.result: TrainResult | None = None
        self.fit: SeparationFit | None = None

    def set_model(self, hidden_dim: int = 100, depth: int = 6, width_list: Sequence[int] | None = None,
                  p: float = 0, device: str | None = None, **options: Any) -> torch.nn.Module:
        """Build the MLP. ``width_list`` follows the seed: [input dim, hidden widths...] (classes appended).

        ``options`` may set ``activation`` ('relu'/'tanh') and ``batchnorm`` (True/False).
        """
        hidden = None
        if width_list is not None:
            widths = list(width_list)  # never mutate the caller's list (a seed bug)
            in_dim = math.prod(self.data.input_shape)
            if not widths or widths[0] != in_dim:
                raise DeepscopeError(f"width_list starts with the input dimension in the seed's API; this data has "
                                     f"{in_dim} inputs but width_list[0] = {widths[0] if widths else None}. Pass "
                                     f"[{in_dim}, h1, h2, ...] (the class count is appended for you).")
            hidden = widths[1:]
            depth = len(widths)
        self.config = dataclasses.replace(self.config, hidden_dim=hidden_dim, depth=depth, width_list=hidden, p=p,
                                          device=device or self.config.device, **options)
        self.model = study.build(self.config, self.data)
        return self.model

    def train(self, lr: float = 1e-3, num_epochs: int = 100, stop_loss: float = 1e-3,
              opt: str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] = "Adam",
              **options: Any) -> TrainResult:
        """Train until ``num_epochs`` or an epoch loss below ``stop_loss``.

        ``opt`` is 'Adam', 'SGD', 'AdamW', a ready optimizer over ``self.model.parameters()``, or a
        callable taking the parameters. ``options`` may set ``momentum`` and ``weight_decay``.
        """
        if self.model is None:
            raise DeepscopeError("call set_model(...) before train(...).")
        optimizer = None
        if isinstance(opt, str):
            self.config = dataclasses.replace(self.config, opt=opt.lower(), **options)
        elif isinstance(opt, torch.optim.Optimizer):
            optimizer = opt
        elif callable(opt):
            optimizer = opt(self.model.parameters())
        else:
            raise DeepscopeError(f"opt must be 'Adam', 'SGD', 'AdamW' or a torch optimizer; got {opt!r}.")
        self.config = dataclasses.replace(self.config, lr=lr, num_epochs=num_epochs, stop_loss=stop_loss)
        trainer = Trainer(self.model, self.data.x, self.data.y, study.train_config(self.config), optimizer=optimizer)
        self.result = trainer.fit()
        if self.result.diverged:
            raise DeepscopeError(self.result.message)
        return self.result

    def compute_separation(self) -> list[float]:
        """log D (natural log) of the raw input and each hidden layer, on the training subset."""
        if self.model is None:
            raise DeepscopeError("call set_model(...) (and train(...)) before compute_separation().")
        self.fit, _ = study.measure(self.model, self.data)
        return list(self.fit.log_d)

    def plot_separation(self, logD_list: Sequence[float] | None = None,  # noqa: N803 (seed's name)
                        path: str | Path = "separation.png") -> float:
        """Draw log D per layer with the fitted line, save it to ``path``, return Pearson r."""
        log_d = list(logD_list) if logD_list is not None else self.compute_separation()
        fit = fit_log_linear(log_d)
        plot_separation(log_d, fit.slope, fit.intercept, fit.pearson_r, path, title=f"{self.config.dataset}")
        return fit.pearson_r
