"""LeNet-5 (LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998).

The modern form used by the le_sde seed's SimpleConv, with ReLU and max-pooling:

    x [n, C, s, s] -> conv 5x5 -> 6, ReLU, max-pool 2     (conv1: [n, 6, (s-4)//2, (s-4)//2])
                   -> conv 5x5 -> 16, ReLU, max-pool 2    (conv2: [n, 16, r, r], r = ((s-4)//2 - 4)//2)
                   -> flatten (16 r²) -> FC 120, ReLU     (fc1)
                   -> FC 84, ReLU                         (fc2)
                   -> FC K                                (logits)

For 32×32 inputs r = 5, so the flattened size is 400; with C = 1 and K = 3 there are 61,111 parameters.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models.checks import check_images, positive_int

MIN_INPUT_SIZE = 16  # the smallest s with r = ((s-4)//2 - 4)//2 >= 1


def _conv_stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(c_in, c_out, 5), act=nn.ReLU(), pool=nn.MaxPool2d(2)))


def _fc_layer(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(linear=nn.Linear(d_in, d_out), act=nn.ReLU()))


class LeNet(nn.Module):
    """LeNet-5 with ReLU and max-pooling, for square images.

    Args:
        in_channels: image channels C.
        num_classes: output dimension K.
        input_size: image side s (at least 16); the flattened size is 16·(((s−4)//2 − 4)//2)².
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, input_size: int = 32) -> None:
        super().__init__()
        self.in_channels = positive_int("lenet", "in_channels", in_channels)
        positive_int("lenet", "num_classes", num_classes)
        self.input_size = positive_int("lenet", "input_size", input_size)
        if input_size < MIN_INPUT_SIZE:
            raise DeepscopeError(f"lenet: input_size {input_size} is too small; two 5x5 convolutions and two 2x2 "
                                 f"poolings need images of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}. Resize the "
                                 f"images (e.g. input_size=32, as in the paper).")
        side = ((input_size - 4) // 2 - 4) // 2
        self.conv1 = _conv_stage(in_channels, 6)
        self.conv2 = _conv_stage(6, 16)
        self.flatten = nn.Flatten()
        self.fc1 = _fc_layer(16 * side * side, 120)
        self.fc2 = _fc_layer(120, 84)
        self.logits = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images("lenet", x, self.in_channels, self.input_size)
        return self.logits(self.fc2(self.fc1(self.flatten(self.conv2(self.conv1(x))))))

    def probe_points(self) -> dict[str, nn.Module]:
        """``conv1``, ``conv2`` (post-pool), ``fc1``, ``fc2`` (post-ReLU) and ``logits``, in forward order."""
        return {"conv1": self.conv1, "conv2": self.conv2, "fc1": self.fc1, "fc2": self.fc2, "logits": self.logits}
