"""Activation files: the features of named layers, and their labels, in numpy files.

An ``.npz`` holds one array per layer [n, ...] and the labels [n] under ``y`` (``labels`` is read as
well); an ``.npy`` holds the features of one layer, named after the file stem. :func:`save_activations`
writes the first kind, :func:`load_activations` reads both (it is what ``deepscope metrics FILE`` uses,
so its messages name the command's ``--features`` and ``--labels`` flags). Files are read with
``allow_pickle=False``: arrays of Python objects are refused, since loading a pickle can run code.
"""
from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError

LABEL_KEYS = ("y", "labels")
"""Array names taken as the labels when none is named; never measured as a layer unless named as one."""

_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def save_activations(path: str | Path, features: Mapping[str, Any], labels: Any = None) -> Path:
    """Write ``features`` ({layer: tensor or array [n, ...]}, e.g. from :func:`~deepscope.probe.capture`)
    to the ``.npz`` file ``path``, one float32 array per layer in the mapping's order, and ``labels`` [n]
    (integer class ids, or strings) under ``y``. Returns the path.

    Layer names ``y`` and ``labels`` are refused (they would be read back as labels); labels must have one
    entry per row of every layer.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise DeepscopeError(f"save_activations writes an .npz file; got {str(path)!r}. Name it e.g. "
                             f"{str(path.with_suffix('.npz'))!r}.")
    if not isinstance(features, Mapping) or not features:
        raise DeepscopeError("features must be a non-empty mapping {layer name: array [n, ...]}, e.g. the output "
                             "of deepscope.probe.capture.")
    clash = [name for name in features if name in LABEL_KEYS]
    if clash:
        raise DeepscopeError(f"layer name(s) {clash} collide with the label keys {list(LABEL_KEYS)} and would be "
                             f"read back as labels; rename them, e.g. {{'{clash[0]}_layer': ...}}.")
    arrays = {str(name): _features(_numpy(X), f"features[{name!r}]").astype(np.float32, copy=False)
              for name, X in features.items()}
    if labels is not None:
        y = _label_rows(_numpy(labels), "labels", arrays)
        arrays["y"] = y if y.dtype.kind in "US" else _class_ids(y, "labels")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():  # what numpy.savez writes, without its reserved keyword names
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return path


def load_activations(path: str | Path, features: Sequence[str] | str | None = None,
                     labels: str | None = None) -> tuple[dict[str, np.ndarray], np.ndarray | None, list[str]]:
    """Read the layers and labels of an activation file: ``(features, labels, notes)``.

    Args:
        path: an ``.npz`` (one array per layer, plus the labels) or an ``.npy`` (one layer, named after
            the file stem, no labels).
        features: the array name(s) to read as layers (``--features``); default every array but the
            labels and the label names ``y``/``labels``.
        labels: the array name of the labels (``--labels``); default ``y`` or ``labels`` when the file
            holds one of them (a note says so), else no labels.

    Returns ``{layer: array [n, ...]}`` in the file's order (numeric, at least 2-D), the labels as int64
    class ids [n] or None, and notes for the user: which array was taken as labels, and how string
    labels were mapped to ids 0..K−1 (in sorted order). Every problem raises a :class:`DeepscopeError`
    naming the file and the array.
    """
    path = Path(path)
    wanted = [features] if isinstance(features, str) else list(dict.fromkeys(features or []))
    if not path.is_file():
        raise DeepscopeError(f"no file {path}; pass an .npz (one array per layer, labels under 'y') or an .npy "
                             f"(one layer's features).")
    if path.suffix.lower() == ".npy":
        return _load_npy(path, wanted, labels)
    if path.suffix.lower() != ".npz":
        raise DeepscopeError(f"{path} is neither .npz nor .npy. Expected an .npz of arrays (numpy.savez or "
                             f"deepscope.probe.save_activations: one array [n, ...] per layer, labels [n] under "
                             f"'y') or an .npy holding one layer's features [n, ...].")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DeepscopeError(f"{path} is not a readable .npz of arrays ({exc}); write it with numpy.savez or "
                             f"deepscope.probe.save_activations.") from exc
    with archive:
        return _load_npz(path, archive, wanted, labels)


def _load_npz(path: Path, archive: Any, wanted: list[str],
              labels: str | None) -> tuple[dict[str, np.ndarray], np.ndarray | None, list[str]]:
    keys = list(archive.files)
    notes = []
    if labels is None:
        found = [k for k in LABEL_KEYS if k in keys and k not in wanted]
        if len(found) > 1:
            raise DeepscopeError(f"{path} holds both {found[0]!r} and {found[1]!r}; pass --labels KEY to say which "
                                 f"holds the labels.")
        if found:
            labels = found[0]
            notes.append(f"labels: array {labels!r} of {path.name} (--labels KEY picks another)")
    if not wanted:
        wanted = [k for k in keys if k != labels and k not in LABEL_KEYS]
        unused = [k for k in keys if k in LABEL_KEYS and k != labels]
        if unused:
            notes.append(f"not measured: {unused}, named like labels (--features KEY measures it)")
    missing = [k for k in [*wanted, *([labels] if labels else [])] if k not in keys]
    if missing:
        raise DeepscopeError(f"{path} has no array(s) {missing}; it holds {keys}. Pick arrays with --features "
                             f"KEY[,KEY...] and --labels KEY.")
    if labels in wanted:
        raise DeepscopeError(f"array {labels!r} of {path} is the labels (--labels), so it cannot also be measured "
                             f"as a layer (--features).")
    if not wanted:
        raise DeepscopeError(f"{path} holds no feature arrays besides the labels; it holds {keys}.")
    layers = {k: _features(_read(archive, k, path), f"array {k!r} of {path}") for k in wanted}
    y = None
    if labels is not None:
        where = f"labels {labels!r} of {path}"
        y, note = _class_ids(_label_rows(_read(archive, labels, path), where, layers), where)
        if note:
            notes.append(note)
    return layers, y, notes


def _load_npy(path: Path, wanted: list[str],
              labels: str | None) -> tuple[dict[str, np.ndarray], None, list[str]]:
    name = path.stem
    if labels is not None:
        raise DeepscopeError(f"{path} is an .npy, one array without labels, so --labels {labels} has nothing to "
                             f"read. Save features and labels together in an .npz, e.g. numpy.savez(path, "
                             f"{name}=X, y=labels).")
    if wanted and wanted != [name]:
        raise DeepscopeError(f"{path} holds one array, the layer {name!r} (named after the file), not {wanted}; "
                             f"leave out --features or pass --features {name}.")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise _unreadable(path, name, exc) from exc
    except (OSError, EOFError) as exc:
        raise DeepscopeError(f"{path} is not a readable .npy array ({exc}); write it with numpy.save.") from exc
    return {name: _features(array, f"the array of {path}")}, None, []


def _read(archive: Any, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, key, exc) from exc


def _unreadable(path: Path, key: str, exc: Exception) -> DeepscopeError:
    if "allow_pickle" in str(exc):
        return DeepscopeError(f"array {key!r} of {path} holds Python objects (dtype object), which are not loaded: "
                              f"loading pickled objects can run code. Save plain arrays instead: numbers for "
                              f"features, numbers or strings for labels (e.g. np.asarray(labels, dtype=str)).")
    return DeepscopeError(f"array {key!r} of {path} cannot be read ({exc}); write the file again with numpy.savez "
                          f"or deepscope.probe.save_activations.")


def _numpy(array: Any) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        return (array.float() if array.is_floating_point() else array).numpy()
    return np.asarray(array)


def _features(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DeepscopeError(f"{where} has dtype {array.dtype}; features must be numbers (floats, integers or "
                             f"booleans) [n, ...].")
    if array.ndim < 2:
        raise DeepscopeError(f"{where} has shape {array.shape}; features must be at least 2-D [n samples, "
                             f"features...]. If it holds the labels, pass --labels KEY; for one feature per "
                             f"sample save X.reshape(-1, 1).")
    return array


def _label_rows(y: np.ndarray, where: str, layers: Mapping[str, np.ndarray]) -> np.ndarray:
    """``y`` as 1-D ([n, 1] is flattened), after checking it has one entry per row of every layer."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DeepscopeError(f"{where} has shape {y.shape}; labels must be 1-D, one class per row [n].")
    for name, X in layers.items():
        if X.shape[0] != y.shape[0]:
            raise DeepscopeError(f"{where} has {y.shape[0]} entries but layer {name!r} has {X.shape[0]} rows; pass "
                                 f"one label per row.")
    return y


def _class_ids(y: np.ndarray, where: str) -> tuple[np.ndarray, str | None]:
    """Class ids int64 from 1-D labels, and a note when strings were mapped to ids (in sorted order)."""
    if y.dtype.kind in "US":
        classes, ids = np.unique(y, return_inverse=True)
        names = [c.decode(errors="replace") if isinstance(c, bytes) else str(c) for c in classes.tolist()]
        shown = ", ".join(f"{c}={i}" for i, c in enumerate(names[:10])) + (", ..." if len(names) > 10 else "")
        return ids.astype(np.int64).reshape(-1), f"{where}: {len(names)} string classes mapped to ids in sorted " \
                                                  f"order: {shown}"
    if y.dtype.kind not in _NUMERIC_KINDS:
        raise DeepscopeError(f"{where} has dtype {y.dtype}; labels must be integer class ids 0..K-1 or strings.")
    if y.dtype.kind == "f" and not bool(np.all(np.isfinite(y) & (y == np.round(y)))):
        raise DeepscopeError(f"{where} holds non-integer values; labels must be class ids 0..K-1 (or strings), "
                             f"not continuous targets.")
    ids = y.astype(np.int64)
    if ids.size and int(ids.min()) < 0:
        raise DeepscopeError(f"{where} holds negative class ids (min {int(ids.min())}); use ids 0..K-1.")
    return ids, None
