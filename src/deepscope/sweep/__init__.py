"""Sweeps: many runs of one study from a YAML file, resumable, on one machine or a Ray cluster."""
from deepscope.sweep.spec import Point, Sweep, SweepError, load_sweep

__all__ = ["Point", "Sweep", "SweepError", "load_sweep"]
