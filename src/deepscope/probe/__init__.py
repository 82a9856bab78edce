"""Forward-hook capture of named layers, activation files, and a callback that measures layers during training."""
from deepscope.probe.capture import LargeCaptureWarning, SkippedProbePointWarning, capture, probe_points
from deepscope.probe.files import load_activations, save_activations

__all__ = ["LargeCaptureWarning", "SkippedProbePointWarning", "capture", "load_activations", "probe_points",
           "save_activations"]
