"""Activation files: save_activations / load_activations round trips, label handling and every refusal."""
import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.probe import load_activations, save_activations


@pytest.fixture
def layers():
    rng = np.random.default_rng(0)
    return {"b": rng.normal(size=(6, 3)), "a": rng.normal(size=(6, 2, 2))}


def test_round_trip_keeps_order_float32_and_labels(tmp_path, layers):
    path = save_activations(tmp_path / "acts.npz", {"b": torch.tensor(layers["b"]), "a": layers["a"]},
                            labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    features, labels, notes = load_activations(path)
    assert list(features) == ["b", "a"]                          # the mapping's order (e.g. forward order)
    assert all(X.dtype == np.float32 for X in features.values())
    np.testing.assert_allclose(features["a"], layers["a"].astype(np.float32))
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert notes == ["labels: array 'y' of acts.npz (--labels KEY picks another)"]
    with np.load(path) as archive:                               # a plain .npz that numpy reads back
        assert archive.files == ["b", "a", "y"]


def test_layer_names_that_numpy_savez_reserves_are_fine(tmp_path):
    X = np.ones((3, 2))
    features, _, _ = load_activations(save_activations(tmp_path / "a.npz", {"file": X, "allow_pickle": X}))
    assert list(features) == ["file", "allow_pickle"]


def test_save_refuses_label_names_bad_paths_and_bad_arrays(tmp_path):
    X = np.ones((3, 2))
    with pytest.raises(DeepscopeError, match=r"layer name\(s\) \['y'\] collide"):
        save_activations(tmp_path / "a.npz", {"y": X})
    with pytest.raises(DeepscopeError, match="writes an .npz"):
        save_activations(tmp_path / "a.npy", {"x": X})
    with pytest.raises(DeepscopeError, match=r"features\['x'\] has shape \(3,\)"):
        save_activations(tmp_path / "a.npz", {"x": np.ones(3)})
    with pytest.raises(DeepscopeError, match="2 entries but layer 'x' has 3 rows"):
        save_activations(tmp_path / "a.npz", {"x": X}, labels=[0, 1])


def test_labels_named_labels_are_found_and_never_measured(tmp_path, layers):
    np.savez(tmp_path / "acts.npz", labels=np.array([1, 0, 1, 0, 1, 0]), **layers)
    features, labels, notes = load_activations(tmp_path / "acts.npz")
    assert list(features) == ["b", "a"] and labels.tolist() == [1, 0, 1, 0, 1, 0]
    assert "array 'labels'" in notes[0]


def test_named_labels_leave_the_other_label_name_unmeasured(tmp_path, layers):
    y = np.arange(6) % 2
    np.savez(tmp_path / "acts.npz", y=y, target=y, **layers)
    features, labels, notes = load_activations(tmp_path / "acts.npz", labels="target")
    assert list(features) == ["b", "a"] and labels.tolist() == y.tolist()
    assert notes == ["not measured: ['y'], named like labels (--features KEY measures it)"]
    features, labels, _ = load_activations(tmp_path / "acts.npz", features="b")
    assert list(features) == ["b"] and labels.tolist() == y.tolist()


def test_no_labels_when_the_file_has_none(tmp_path, layers):
    np.savez(tmp_path / "acts.npz", **layers)
    features, labels, notes = load_activations(tmp_path / "acts.npz")
    assert list(features) == ["b", "a"] and labels is None and notes == []


@pytest.mark.parametrize("strings", [np.array(["dog", "cat", "fish", "cat", "dog", "dog"]),
                                     np.array([b"dog", b"cat", b"fish", b"cat", b"dog", b"dog"])])
def test_string_labels_become_sorted_class_ids(tmp_path, layers, strings):
    np.savez(tmp_path / "acts.npz", y=strings, **layers)
    _, labels, notes = load_activations(tmp_path / "acts.npz")
    assert labels.tolist() == [1, 0, 2, 0, 1, 1]
    assert notes[1] == f"labels 'y' of {tmp_path / 'acts.npz'}: 3 string classes mapped to ids in sorted order: " \
                       f"cat=0, dog=1, fish=2"


def test_saved_string_labels_read_back_as_ids(tmp_path):
    path = save_activations(tmp_path / "a.npz", {"x": np.ones((3, 2))}, labels=["b", "a", "b"])
    assert load_activations(path)[1].tolist() == [1, 0, 1]


def test_npy_is_one_layer_named_after_the_file(tmp_path, layers):
    path = tmp_path / "hidden3.npy"
    np.save(path, layers["b"])
    features, labels, notes = load_activations(path)
    assert list(features) == ["hidden3"] and labels is None and notes == []
    np.testing.assert_array_equal(features["hidden3"], layers["b"])
    assert list(load_activations(path, features=["hidden3"])[0]) == ["hidden3"]
    with pytest.raises(DeepscopeError, match="one array without labels, so --labels y"):
        load_activations(path, labels="y")
    with pytest.raises(DeepscopeError, match=r"the layer 'hidden3' \(named after the file\), not \['other'\]"):
        load_activations(path, features=["other"])


def test_unknown_kinds_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DeepscopeError, match="no file"):
        load_activations(tmp_path / "missing.npz")
    (tmp_path / "acts.csv").write_text("1,2\n")
    with pytest.raises(DeepscopeError, match=r"neither \.npz nor \.npy. Expected an \.npz of arrays"):
        load_activations(tmp_path / "acts.csv")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DeepscopeError, match="not a readable .npz"):
        load_activations(tmp_path / "bad.npz")


def test_object_arrays_are_refused_without_unpickling(tmp_path, layers):
    np.savez(tmp_path / "acts.npz", y=np.array(["a", 1, None], dtype=object), **layers)
    with pytest.raises(DeepscopeError, match=r"array 'y' of .*acts\.npz holds Python objects"):
        load_activations(tmp_path / "acts.npz")
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(DeepscopeError, match="array 'obj' of .*obj.npy holds Python objects"):
        load_activations(tmp_path / "obj.npy")


def test_bad_feature_arrays_name_the_key(tmp_path, layers):
    np.savez(tmp_path / "acts.npz", words=np.array([["a", "b"], ["c", "d"]]), flat=np.ones(6), **layers)
    with pytest.raises(DeepscopeError, match="array 'words' of .* has dtype <U1; features must be numbers"):
        load_activations(tmp_path / "acts.npz", features=["words"])
    with pytest.raises(DeepscopeError, match=r"array 'flat' of .* has shape \(6,\).* pass --labels KEY"):
        load_activations(tmp_path / "acts.npz", features="flat")
    with pytest.raises(DeepscopeError, match=r"no array\(s\) \['nope'\]; it holds \['words', 'flat', 'b', 'a'\]"):
        load_activations(tmp_path / "acts.npz", features=["nope"])


@pytest.mark.parametrize("y, message", [
    (np.zeros((6, 2)), r"labels 'y' of .* has shape \(6, 2\); labels must be 1-D"),
    (np.zeros(5), "has 5 entries but layer 'b' has 6 rows"),
    (np.full(6, 0.5), "non-integer values"),
    (np.array([0, 1, -1, 0, 1, 0]), "negative class ids"),
    (np.zeros(6, dtype=complex), "has dtype complex128; labels must be integer class ids"),
])
def test_bad_labels_are_refused(tmp_path, layers, y, message):
    np.savez(tmp_path / "acts.npz", y=y, **layers)
    with pytest.raises(DeepscopeError, match=message):
        load_activations(tmp_path / "acts.npz")


def test_labels_in_a_column_and_float_ids_are_accepted(tmp_path, layers):
    np.savez(tmp_path / "acts.npz", y=np.array([[0.0], [1.0], [2.0], [0.0], [1.0], [2.0]]), **layers)
    assert load_activations(tmp_path / "acts.npz")[1].tolist() == [0, 1, 2, 0, 1, 2]


def test_ambiguous_or_contradictory_label_choices(tmp_path, layers):
    y = np.arange(6) % 2
    np.savez(tmp_path / "acts.npz", y=y, labels=y, **layers)
    with pytest.raises(DeepscopeError, match="holds both 'y' and 'labels'; pass --labels KEY"):
        load_activations(tmp_path / "acts.npz")
    with pytest.raises(DeepscopeError, match=r"'y' .* is the labels \(--labels\).*\(--features\)"):
        load_activations(tmp_path / "acts.npz", features=["y", "b"], labels="y")
    np.savez(tmp_path / "only.npz", y=y)
    with pytest.raises(DeepscopeError, match="no feature arrays besides the labels"):
        load_activations(tmp_path / "only.npz")
