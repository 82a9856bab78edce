"""Pure metrics: features (torch or numpy, any device) and labels in, numbers or small dataclasses out.

Result dataclasses print as one line; those with one headline number convert with ``float()``
(e.g. ``float(twonn(X))``). By name, for schedules and saved activations: :mod:`deepscope.metrics.registry`.
"""
from deepscope.metrics.collapse import NeuralCollapse, neural_collapse
from deepscope.metrics.curvature import (HessianEigenvalues, HessianSpectrum, hessian_eigenvalues,
                                         hessian_spectrum, hessian_trace)
from deepscope.metrics.dynamics import RelativeChange, empirical_ntk, kernel_distance, relative_change
from deepscope.metrics.elasticity import LocalElasticity, local_elasticity, ntk_impact, step_impact
from deepscope.metrics.entropy import (DiffusionEntropy, adjacency_spectral_entropy, binned_entropy,
                                       diffusion_spectral_entropy, estimate_diffusion_spectral_entropy)
from deepscope.metrics.hvp import HessianOperator
from deepscope.metrics.information import InformationPlanePoint, binned_information_plane, kde_information_plane
from deepscope.metrics.intrinsic_dim import IDEstimate, LayerID, layerwise_id, llid, mle_id, pca_dim, pid, twonn
from deepscope.metrics.le_sde import class_means, estimate_ab, le_ode_euler, savgol_rate, tail_index
from deepscope.metrics.linear_probe import ProbeResult, layerwise_linear_probe, linear_probe
from deepscope.metrics.mutual_information import (NegativeEstimateWarning, adjacency_mutual_information,
                                                  binned_mutual_information, diffusion_spectral_mutual_information)
from deepscope.metrics.separation import LogLinearFit, SeparationFit, fit_log_linear, layerwise_separation, \
    separation_fuzziness
from deepscope.metrics.similarity import cka

__all__ = ["DiffusionEntropy", "HessianEigenvalues", "HessianOperator", "HessianSpectrum", "IDEstimate",
           "InformationPlanePoint", "LayerID", "LocalElasticity", "LogLinearFit", "NegativeEstimateWarning", "NeuralCollapse",
           "ProbeResult", "RelativeChange", "SeparationFit", "adjacency_mutual_information", "adjacency_spectral_entropy",
           "binned_entropy", "binned_information_plane", "binned_mutual_information", "cka", "class_means",
           "diffusion_spectral_entropy", "diffusion_spectral_mutual_information", "empirical_ntk", "estimate_ab",
           "estimate_diffusion_spectral_entropy", "fit_log_linear", "hessian_eigenvalues", "hessian_spectrum", "hessian_trace", "kde_information_plane",
           "kernel_distance", "layerwise_id", "layerwise_linear_probe", "layerwise_separation", "le_ode_euler", "linear_probe",
           "llid", "local_elasticity", "mle_id", "neural_collapse", "ntk_impact", "pca_dim", "pid", "relative_change",
           "savgol_rate", "separation_fuzziness", "step_impact", "tail_index", "twonn"]
