"""deepscope: a laboratory for the science of deep learning.

The path of one experiment, each step a plain function call::

    data = load_dataset("mnist", n=1000, size=10, seed=0)
    model = build_model("mlp", in_features=100, num_classes=10)
    Trainer(model, data.x, data.y, TrainConfig(epochs=100)).fit()
    features = capture(model, data.x)                   # {probe point: [n, p]}
    fit = metrics.layerwise_separation(features, data.y)
"""
__version__ = "0.1.0"

from deepscope import metrics  # noqa: E402
from deepscope.data import Dataset, available_datasets, load_dataset  # noqa: E402
from deepscope.errors import DeepscopeError  # noqa: E402
from deepscope.models import build_model, load_model, save_model  # noqa: E402
from deepscope.probe import capture, probe_points  # noqa: E402
from deepscope.store import Store  # noqa: E402
from deepscope.studies.esl_api import ESL  # noqa: E402
from deepscope.train import Schedule, TrainConfig, Trainer  # noqa: E402

__all__ = ["ESL", "Dataset", "DeepscopeError", "Schedule", "Store", "TrainConfig", "Trainer", "available_datasets",
           "build_model", "capture", "load_dataset", "load_model", "metrics", "probe_points", "save_model",
           "__version__"]
