"""Pure metrics: features (torch or numpy, any device) and labels in, numbers or small dataclasses out."""
from deepscope.metrics.collapse import NeuralCollapse, neural_collapse
from deepscope.metrics.information import InformationPlanePoint, binned_information_plane, kde_information_plane
from deepscope.metrics.linear_probe import ProbeResult, layerwise_linear_probe, linear_probe
from deepscope.metrics.separation import LogLinearFit, SeparationFit, fit_log_linear, layerwise_separation, \
    separation_fuzziness
from deepscope.metrics.similarity import cka

__all__ = ["InformationPlanePoint", "LogLinearFit", "NeuralCollapse", "ProbeResult", "SeparationFit",
           "binned_information_plane", "cka", "fit_log_linear", "kde_information_plane", "layerwise_linear_probe",
           "layerwise_separation", "linear_probe", "neural_collapse", "separation_fuzziness"]
