"""Canonical configs and run ids: the same experiment always gets the same id.

A config (a dataclass or a mapping, possibly nested) is turned into plain JSON data: dataclasses
become dicts of their fields, tuples become lists, paths become strings, enums become their values
and numpy scalars become Python numbers. Its stable JSON text (sorted keys, no spaces, floats in
``repr`` form) is hashed with sha256; the first 16 hex digits are the run id.

Types are kept as they are: ``lr=1`` and ``lr=1.0`` are different configs. Configs built from one
dataclass always agree on types, so this only matters for hand-written dicts.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from deepscope.errors import DeepscopeError

ID_LENGTH = 16

JSON = Any  # None | bool | int | float | str | list[JSON] | dict[str, JSON]


def canonical(value: Any, where: str = "value") -> JSON:
    """Return ``value`` as plain JSON data (see the module docstring for the rules).

    ``where`` names the value in error messages (e.g. ``config.optim.lr``). Raises
    :class:`DeepscopeError` for a type with no canonical form, or a mapping key that is not a str.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, np.generic):
        return canonical(value.item(), where)
    if isinstance(value, enum.Enum):
        return canonical(value.value, where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise DeepscopeError(f"{where} has a non-string key {bad[0]!r}; config and result keys must be "
                                 f"strings so they survive JSON. Rename the key to a string.")
        return {k: canonical(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise DeepscopeError(f"{where} is a {type(value).__name__}, which has no canonical JSON form; "
                         f"use numbers, strings, bools, None, lists/tuples, dicts, dataclasses, enums or paths.")


def canonical_config(config: Any) -> dict[str, JSON]:
    """Return a config (a dataclass or a mapping) as a plain JSON dict; raise if it is neither."""
    if not (isinstance(config, Mapping) or (dataclasses.is_dataclass(config) and not isinstance(config, type))):
        raise DeepscopeError(f"config must be a dataclass instance or a dict; got {type(config).__name__}. "
                             f"Wrap loose settings in a dict, e.g. {{'lr': 0.1}}.")
    return canonical(config, "config")


def stable_json(value: JSON) -> str:
    """Return the stable JSON text of plain data: sorted keys, no whitespace, floats via ``repr``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def resolve_seed(config: Mapping[str, JSON], seed: int | None) -> int | None:
    """Return the run's seed: ``seed`` if given, else the config's own ``seed`` field, else None.

    Raises :class:`DeepscopeError` when both are given and disagree, or when the seed is not an int.
    """
    own = config.get("seed")
    if seed is None:
        return own if isinstance(own, int) and not isinstance(own, bool) else None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DeepscopeError(f"seed must be an int; got {seed!r} ({type(seed).__name__}).")
    seed = int(seed)
    if own is not None and own != seed:
        raise DeepscopeError(f"seed={seed} disagrees with the config's own seed={own!r}; "
                             f"pass one of them, or make them equal.")
    return seed


def run_id(study: str, config: Any, seed: int | None = None) -> str:
    """Return the id of a run: the first 16 hex digits of sha256 over its canonical identity.

    The identity is the stable JSON of ``{"study": study, "config": canonical_config(config)}``, plus
    ``"seed"`` when the run has one (``seed`` or the config's own ``seed`` field), so that seeds of one
    config are distinct runs while passing the seed either way gives the same id.
    """
    if not isinstance(study, str) or not study:
        raise DeepscopeError(f"study must be a non-empty string naming the experiment; got {study!r}.")
    plain = canonical_config(config)
    identity: dict[str, JSON] = {"study": study, "config": plain}
    resolved = resolve_seed(plain, seed)
    if resolved is not None:
        identity["seed"] = resolved
    return hashlib.sha256(stable_json(identity).encode("utf-8")).hexdigest()[:ID_LENGTH]
