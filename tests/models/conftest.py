"""Small instances of every registered model with a matching input batch, shared by the model tests."""
import pytest
import torch

from deepscope.models import MODELS

# name -> (options of a small, fast instance, input batch of 5 samples)
SMALL = {
    "mlp": ({"in_features": 12, "num_classes": 3, "hidden_dim": 8, "depth": 4},
            lambda g: torch.randn(5, 12, generator=g)),
    "lenet": ({"in_channels": 1, "num_classes": 3, "input_size": 16}, lambda g: torch.randn(5, 1, 16, 16, generator=g)),
    "resnet18": ({"in_channels": 3, "num_classes": 4, "width": 4}, lambda g: torch.randn(5, 3, 8, 8, generator=g)),
    "transformer": ({"vocab_size": 11, "num_classes": 3, "seq_len": 6, "n_layer": 2, "n_embd": 16, "n_head": 2},
                    lambda g: torch.randint(0, 11, (5, 6), generator=g)),
}


@pytest.fixture(params=list(MODELS))
def small(request):
    """(name, options, x) for each registered model (a KeyError here: add the new model to SMALL)."""
    options, make_input = SMALL[request.param]
    return request.param, options, make_input(torch.Generator().manual_seed(0))
