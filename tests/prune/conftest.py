"""A small MLP without BatchNorm and a little random classification data, shared by the pruning tests."""
import pytest
import torch

import deepscope


def small_mlp(seed: int = 0) -> torch.nn.Module:
    """20 -> 16 -> 8 -> 3: prunable weights of 320, 128 and 24 entries."""
    return deepscope.build_model("mlp", in_features=20, num_classes=3, hidden=[16, 8], batchnorm=False, seed=seed)


@pytest.fixture
def mlp() -> torch.nn.Module:
    return small_mlp()


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 20, generator=g), torch.randint(0, 3, (64,), generator=g)


def train_config(**settings) -> deepscope.TrainConfig:
    """A few quick epochs that never stop early."""
    return deepscope.TrainConfig(**{"epochs": 3, "batch_size": 16, "stop_loss": None, "progress": False, **settings})
