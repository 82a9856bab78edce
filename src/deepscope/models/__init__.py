"""Models with named probe points, built by name (``build_model``), listed in ``MODELS``, saved to and loaded
from files (``save_model``, ``load_model``)."""
from deepscope.models.io import load_model, save_model
from deepscope.models.lenet import LeNet
from deepscope.models.mlp import MLP
from deepscope.models.registry import MODELS, REQUIRED, ModelInfo, build_model, format_models_table
from deepscope.models.resnet import ResNet18
from deepscope.models.transformer import Transformer

__all__ = ["LeNet", "MLP", "MODELS", "REQUIRED", "ModelInfo", "ResNet18", "Transformer", "build_model",
           "format_models_table", "load_model", "save_model"]
