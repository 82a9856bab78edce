"""Metrics by name: the name asked for is the key returned, aliases, describe(), and per-layer errors."""
import math

import numpy as np
import pytest

from deepscope.errors import DeepscopeError
from deepscope.metrics import (binned_information_plane, diffusion_spectral_entropy, neural_collapse, pca_dim,
                               separation_fuzziness, twonn)
from deepscope.metrics.registry import (REGISTRY, canonical_metric, compute, compute_each, describe,
                                        metric_keys_match, resolve)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    return {"a": rng.normal(size=(60, 4)) + 3 * np.eye(4)[y], "b": rng.normal(size=(60, 5))}, y


@pytest.mark.filterwarnings("ignore::deepscope.metrics.NegativeEstimateWarning")  # binned_mi of these classes
def test_every_metric_reports_exactly_its_declared_keys(data):
    features, y = data
    values = compute({"a": features["a"]}, y, list(REGISTRY))["a"]
    assert list(values) == [key for spec in REGISTRY.values() for key in spec.keys()]
    assert all(isinstance(v, float) for v in values.values())


def test_values_are_the_functions_values_under_the_names_asked_for(data):
    features, y = data
    X = features["a"]
    values = compute({"a": X}, y, ["twonn", "pca", "dse", "nc", "info_binned"])["a"]
    assert values["twonn"] == twonn(X).dimension and values["pca"] == pca_dim(X).dimension
    assert values["dse"] == diffusion_spectral_entropy(X)
    nc = neural_collapse(X, y)
    assert {k: values[f"nc.{k}"] for k in nc.as_metrics()} == nc.as_metrics()
    point = binned_information_plane(X, y)
    assert (values["info_binned.i_xt"], values["info_binned.i_ty"]) == (point.i_xt, point.i_ty)


def test_nc_by_name_never_has_the_classifier_parts(data):
    features, y = data
    keys = set(compute({"a": features["a"]}, y, "nc")["a"])
    assert keys == {"nc.nc1", "nc.nc2_equinorm", "nc.nc2_equiangular", "nc.nc2_maxangle", "nc.nc2_etf_distance",
                    "nc.ncc_accuracy"}
    assert neural_collapse(features["a"], y).nc3 is None and neural_collapse(features["a"], y).nc4 is None


def test_aliases_resolve_to_the_registry_name(data):
    features, y = data
    values = compute(features, y, ["id", "separation", "twonn"])
    assert list(values["a"]) == ["twonn", "log_d"]                 # one value per metric, even asked twice
    assert values["b"]["log_d"] == pytest.approx(math.log(separation_fuzziness(features["b"], y)))
    assert [s.name for s in resolve("id")] == ["twonn"]


def test_canonical_names_and_key_matching():
    assert canonical_metric("id") == "twonn" and canonical_metric("separation") == "log_d"
    assert canonical_metric("dse") == "dse" and canonical_metric("nc.nc1") == "nc.nc1"
    assert canonical_metric("train_loss") == "train_loss"          # names from elsewhere pass through
    assert metric_keys_match("nc", "nc.nc1") and metric_keys_match("nc.nc1", "nc.nc1")
    assert metric_keys_match("separation", "log_d") and metric_keys_match("id", "twonn")
    assert not metric_keys_match("nc", "ncc") and not metric_keys_match("nc.nc1", "nc")
    assert not metric_keys_match("dse", "dse_median") and not metric_keys_match("info_kde", "info_binned.i_xt")


def test_describe_lists_parts_aliases_and_what_never_appears():
    text = describe()
    lines = text.splitlines()
    assert all(any(line.startswith(name + " ") for line in lines) for name in REGISTRY)
    assert "(alias: separation)" in text and "(alias: id)" in text
    assert "-> probe.train_accuracy, probe.test_accuracy" in text and "-> info_kde.i_xt, info_kde.i_ty" in text
    assert "nc.ncc_accuracy; never nc3/nc4, here or for saved activations" in text


def test_an_error_names_its_layer(data):
    features, y = data
    bad = {**features, "c": np.ones((60, 3))}                      # identical points: TwoNN has nothing to fit
    with pytest.raises(DeepscopeError, match=r"^layer 'c': twonn: TwoNN has 0 usable ratio"):
        compute(bad, y, ["twonn", "log_d"])


def test_compute_each_measures_the_good_layers_and_returns_the_errors(data):
    features, y = data
    bad = {"a": features["a"], "c": np.ones((60, 3)), "d": np.ones((60, 2))}
    values, errors = compute_each(bad, y, ["twonn", "dse"])
    assert list(values) == ["a", "c", "d"] and list(values["c"]) == ["dse"]   # dse works on identical points
    assert values["a"] == compute({"a": features["a"]}, y, ["twonn", "dse"])["a"]
    assert list(errors) == ["c", "d"] and errors["c"].startswith("layer 'c': twonn: ")
    values, errors = compute_each({"c": np.ones((60, 3))}, y, "twonn")
    assert values == {} and list(errors) == ["c"]


def test_bad_requests_raise_for_every_layer(data):
    features, y = data
    with pytest.raises(DeepscopeError, match="unknown metric.*nope.*aliases: id=twonn, separation=log_d"):
        compute_each(features, y, ["nope"])
    with pytest.raises(DeepscopeError, match="log_d need class labels"):
        compute(features, None, ["separation"])
