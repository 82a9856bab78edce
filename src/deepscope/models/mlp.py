"""The fully connected network of the equi-separation experiments (He & Su, PNAS 2023).

Each of the ``depth`` linear layers is preceded by BatchNorm1d (the raw input included) and each
hidden layer is followed by the activation and, when ``p > 0``, dropout:

    x -> flatten -> [BN -> Linear -> act -> Dropout(p)] x (depth - 1) -> BN -> Linear -> logits

Unlike the seed code, the hidden width is independent of the input size, and BatchNorm can be
switched off. Probe points: ``input`` (the flattened raw input, before any BatchNorm),
``hidden1`` .. ``hidden{depth-1}`` (post-activation, before dropout) and ``logits``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepscope.errors import DeepscopeError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """BatchNorm-before-Linear MLP with named probe points.

    Args:
        in_features: input dimension (images are flattened).
        num_classes: output dimension.
        hidden: widths of the hidden layers, one entry per hidden layer (``depth - 1`` entries).
        p: dropout probability after each hidden activation (0 disables dropout).
        activation: ``'relu'`` or ``'tanh'``.
        batchnorm: put BatchNorm1d before every Linear (the seed's architecture) or not.
    """

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int], *, p: float = 0.0,
                 activation: str = "relu", batchnorm: bool = True) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise DeepscopeError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}.")
        if not 0.0 <= p < 1.0:
            raise DeepscopeError(f"dropout p must be in [0, 1); got {p}.")
        if in_features < 1 or num_classes < 1 or any(int(w) < 1 for w in hidden):
            raise DeepscopeError(f"layer widths must be positive; got input {in_features}, hidden {list(hidden)}, "
                                 f"classes {num_classes}.")
        widths = [int(in_features), *(int(w) for w in hidden)]
        self.input = nn.Flatten()
        self.hidden = nn.ModuleList()
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            block = nn.Sequential()
            if batchnorm:
                block.add_module("bn", nn.BatchNorm1d(w_in))
            block.add_module("linear", nn.Linear(w_in, w_out))
            block.add_module("act", ACTIVATIONS[activation]())
            if p > 0:
                block.add_module("dropout", nn.Dropout(p))
            self.hidden.append(block)
        head = nn.Sequential()
        if batchnorm:
            head.add_module("bn", nn.BatchNorm1d(widths[-1]))
        head.add_module("linear", nn.Linear(widths[-1], num_classes))
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input(x)
        for block in self.hidden:
            x = block(x)
        return self.head(x)

    def probe_points(self) -> dict[str, nn.Module]:
        """Named modules whose outputs are the measured representations, in forward order."""
        points: dict[str, nn.Module] = {"input": self.input}
        for i, block in enumerate(self.hidden, start=1):
            points[f"hidden{i}"] = block.act
        points["logits"] = self.head.linear
        return points

    def effective_classifier(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The affine map from the last hidden features h to the logits, W' h + b'.

        With eval-mode BatchNorm (running mean m, variance v, affine γ, β, eps ε) before the last
        Linear (W, b): W' = W diag(γ / sqrt(v + ε)) and b' = b + W (β − γ m / sqrt(v + ε)).
        This is the classifier neural-collapse NC3/NC4 compare with the class means of h.
        """
        linear = self.head.linear
        W, b = linear.weight.detach(), linear.bias.detach()
        if not hasattr(self.head, "bn"):
            return W.clone(), b.clone()
        bn = self.head.bn
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
        return W * scale, b + W @ (bn.bias.detach() - scale * bn.running_mean)
