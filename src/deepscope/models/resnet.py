"""The CIFAR form of ResNet-18 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), as used by
act_ids (Brown et al., "Relating Regularization and Generalization through the Intrinsic Dimension of
Activations", 2022).

With w = ``width`` and K classes, on x [n, C, H, W]:

    stem:    conv 3x3 (C -> w, stride 1, padding 1, no bias) -> BN -> ReLU      (no max-pool)
    stage1:  2 BasicBlocks, w channels,  stride 1   -> dropout(block_dropout)
    stage2:  2 BasicBlocks, 2w channels, stride 2   -> dropout(block_dropout)
    stage3:  2 BasicBlocks, 4w channels, stride 2   -> dropout(block_dropout)
    stage4:  2 BasicBlocks, 8w channels, stride 2   -> dropout(block_dropout)
    pool:    global average pool -> [n, 8w]
    logits:  dropout(fc_dropout) -> Linear(8w, K)

A BasicBlock computes ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x)), the shortcut being the identity,
or a strided 1x1 conv + BN when the shape changes. With C = 3, K = 10, w = 64: 11,173,962 parameters.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from deepscope.models.checks import check_images, positive_int, probability

STAGE_STRIDES = (1, 2, 2, 2)
BLOCKS_PER_STAGE = 2


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
    return nn.Sequential(OrderedDict(conv=conv, bn=nn.BatchNorm2d(c_out)))


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with a residual connection, ReLU after the add (He et al. 2016, Fig. 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(c_in, c_out, 3, stride)
        self.act1 = nn.ReLU()
        self.conv2 = _conv_bn(c_out, c_out, 3, 1)
        self.shortcut = _conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        self.act2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.conv2(self.act1(self.conv1(x))) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 with dropout after each stage and before the classifier.

    Args:
        in_channels: image channels C.
        num_classes: output dimension K.
        width: channels of the stem and first stage, w; the stages have w, 2w, 4w, 8w channels.
        block_dropout: dropout probability applied to each stage's output.
        fc_dropout: dropout probability applied to the pooled features before the linear classifier.
    """

    def __init__(self, *, in_channels: int = 3, num_classes: int = 10, width: int = 64, block_dropout: float = 0.0,
                 fc_dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = positive_int("resnet18", "in_channels", in_channels)
        positive_int("resnet18", "num_classes", num_classes)
        positive_int("resnet18", "width", width)
        block_p = probability("resnet18", "block_dropout", block_dropout)
        fc_p = probability("resnet18", "fc_dropout", fc_dropout)
        self.stem = nn.Sequential(OrderedDict(conv_bn=_conv_bn(in_channels, width, 3, 1), act=nn.ReLU()))
        self.stages = nn.ModuleList()
        self.stage_dropouts = nn.ModuleList()
        c_in = width
        for i, stride in enumerate(STAGE_STRIDES):
            c_out = width * 2 ** i
            blocks = [BasicBlock(c_in if j == 0 else c_out, c_out, stride if j == 0 else 1)
                      for j in range(BLOCKS_PER_STAGE)]
            self.stages.append(nn.Sequential(*blocks))
            self.stage_dropouts.append(nn.Dropout(block_p))
            c_in = c_out
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc_dropout = nn.Dropout(fc_p)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images("resnet18", x, self.in_channels)
        x = self.stem(x)
        for stage, dropout in zip(self.stages, self.stage_dropouts):
            x = dropout(stage(x))
        return self.fc(self.fc_dropout(self.pool(x)))

    def probe_points(self) -> dict[str, nn.Module]:
        """``stem``, ``stage1``..``stage4`` (post-ReLU, before dropout), ``pool`` ([n, 8w]), ``logits``."""
        stages = {f"stage{i}": stage for i, stage in enumerate(self.stages, start=1)}
        return {"stem": self.stem, **stages, "pool": self.pool, "logits": self.fc}
