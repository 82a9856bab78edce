"""Every function README.md's metrics section calls is importable from deepscope.metrics."""
import re
from pathlib import Path

import deepscope.metrics

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Metrics (`deepscope.metrics`)"


def documented_calls() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n### ", start)
    section = text[start:end if end != -1 else len(text)]
    spans = re.findall(r"`([^`]+)`", section)
    return sorted({name for span in spans for name in re.findall(r"([A-Za-z_]\w*)\(", span)})


def test_the_readme_section_names_the_metrics():
    assert {"twonn", "mle_id", "pca_dim", "diffusion_spectral_entropy", "neural_collapse"} <= set(documented_calls())


def test_every_documented_call_is_exported():
    missing = [name for name in documented_calls() if not callable(getattr(deepscope.metrics, name, None))]
    assert missing == []
    assert set(documented_calls()) <= set(deepscope.metrics.__all__)


def test_the_named_metric_functions_are_exported():
    for name in ("layerwise_id", "llid", "pid", "diffusion_spectral_mutual_information", "adjacency_spectral_entropy",
                 "binned_entropy", "binned_mutual_information", "linear_probe", "layerwise_linear_probe"):
        assert name in deepscope.metrics.__all__ and callable(getattr(deepscope.metrics, name))
