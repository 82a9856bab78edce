"""Forward-hook capture of named layers, and a callback that measures them during training."""
from deepscope.probe.capture import capture, probe_points

__all__ = ["capture", "probe_points"]
