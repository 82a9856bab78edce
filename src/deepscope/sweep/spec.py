"""Sweep files: a study, base settings and axes, read from YAML and checked before anything runs.

A sweep file names one registered study and expands to the cartesian product of its axes::

    study: esl            # a registered study (`deepscope studies`)
    preset: quick         # optional: the named settings everything starts from
    base:                 # optional: settings shared by every run
      num_epochs: 50
    grid:                 # optional: every combination of these lists
      depth: [4, 6, 8]
      lr: [0.001, 0.0003]
    zip:                  # optional: lists of one length, taken together (row i of each)
      dataset:   [mnist, fakedata]
      data_size: [10, 40]
    seeds: 0-2            # optional: a list [0, 1, 2], a range "0-2", or one int; sets `seed`

Runs = grid combinations × zip rows × seeds, each one a full config (defaults < preset < base <
axes < the command line's ``--set``), validated before the first run starts. Every mistake is
reported with the key and the line it is on: an unknown study, preset or key, a wrong type or an
out-of-range value, an empty axis, a value listed twice on an axis, zip lists of different
lengths, a setting given twice (in base and on an axis, or on two axes, or twice in one mapping).
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deepscope.config import ConfigError
from deepscope.errors import DeepscopeError
from deepscope.store.ids import run_id, stable_json
from deepscope.studies.base import Study
from deepscope.studies.registry import STUDIES, get_study

TOP_KEYS = ("study", "preset", "base", "grid", "zip", "seeds")
AXES = ("grid", "zip")


class SweepError(DeepscopeError):
    """A sweep file that cannot run: the message names the file, the line and the key."""


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the resolved config, its run id, and the values its axes chose."""

    study: str
    config: Any
    run_id: str
    axes: Mapping[str, Any]

    def settings(self) -> dict[str, Any]:
        """The resolved config as plain settings (what a worker rebuilds the config from)."""
        return dataclasses.asdict(self.config)

    def label(self) -> str:
        return _point_text(self.axes) or "(base)"


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file: where it came from, its study and the runs it expands to."""

    path: Path
    study: Study
    points: tuple[Point, ...]


def _short(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) \
        else str(value)


class _Reader:
    """Walks the YAML node tree so that every value keeps the line it was written on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text()
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except OSError as exc:
            raise SweepError(f"{path}: cannot read the sweep file ({exc.strerror}); pass a YAML sweep file.") \
                from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SweepError(f"{path} is not valid YAML: {exc}".rstrip()) from None
        self._loader = yaml.SafeLoader("")

    def error(self, node: yaml.Node | None, message: str) -> SweepError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return SweepError(f"{self.path}{line}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self._loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """``{key: (key node, value node)}``; a key given twice is an error naming both lines."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping of key: value")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.error(key_node, f"{what}: keys must be names; got {key!r}")
            key = key.replace("-", "_")
            if key in out:
                raise self.error(key_node, f"{what}: {key!r} is given twice (also on line "
                                           f"{out[key][0].start_mark.line + 1})")
            out[key] = (key_node, value_node)
        return out


def _seeds(reader: _Reader, node: yaml.Node) -> list[int]:
    """``seeds``: a list of ints, a range text "a-b", or one int."""
    value = reader.value(node)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", value)
        if not match or int(match[1]) > int(match[2]):
            raise reader.error(node, f"seeds: expected a range like 0-9, a list or one int; got {value!r}")
        return list(range(int(match[1]), int(match[2]) + 1))
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise reader.error(node, f"seeds: expected non-negative whole numbers (a list, a range like 0-9, or one "
                                 f"int); got {value!r}")
    if len(set(values)) != len(values):
        raise reader.error(node, f"seeds: a seed is listed twice in {values}")
    return values


def _axis(reader: _Reader, section: str, key: str, node: yaml.Node) -> list[Any]:
    value = reader.value(node)
    if not isinstance(value, list):
        raise reader.error(node, f"{section}.{key}: an axis is a list of values, e.g. [0.1, 0.01]; got {value!r}")
    if not value:
        raise reader.error(node, f"{section}.{key}: the axis is empty; give at least one value")
    texts = [stable_json(v) for v in value]
    if section == "grid" and len(set(texts)) != len(texts):
        raise reader.error(node, f"{section}.{key}: a value is listed twice in {value} (the same run twice)")
    return value


def load_sweep(path: str | Path, assignments: Sequence[str] = ()) -> Sweep:
    """Read, check and expand a sweep file; ``assignments`` (``--set KEY=VALUE``) apply to every run last.

    Raises :class:`SweepError` (or a :class:`DeepscopeError` naming the file and line) before any
    run starts when anything in the file is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such sweep file; pass a YAML file with `study:` and axes "
                         f"(see examples/esl_table.yaml).")
    reader = _Reader(path)
    if reader.root is None:
        raise SweepError(f"{path} is empty; a sweep file names at least `study:`.")
    top = reader.mapping(reader.root, "the sweep file")
    for key, (key_node, _) in top.items():
        if key not in TOP_KEYS:
            raise reader.error(key_node, f"unknown key {key!r}; a sweep file has {', '.join(TOP_KEYS)}")
    if "study" not in top:
        raise reader.error(reader.root, "no `study:`; name one of " + ", ".join(STUDIES))
    study_node = top["study"][1]
    name = reader.value(study_node)
    if name not in STUDIES:
        raise reader.error(study_node, f"study: unknown study {name!r}; the studies are {', '.join(STUDIES)}")
    study = get_study(name)
    fields = {f.name for f in dataclasses.fields(study.config)}

    layers: list[dict[str, Any]] = []
    lines: dict[str, yaml.Node] = {}  # setting -> the node its value came from (for error lines)
    if "preset" in top:
        preset_node = top["preset"][1]
        preset = reader.value(preset_node)
        if preset not in study.presets:
            raise reader.error(preset_node, f"preset: {preset!r} is not a preset of {name}; choose one of "
                                            f"{', '.join(study.presets)}")
        layers.append(study.preset(preset))

    def claim(key: str, key_node: yaml.Node, section: str) -> None:
        if key not in fields:
            raise reader.error(key_node, f"{section}.{key}: {name} has no setting {key!r}; its settings are "
                                         f"{', '.join(sorted(fields))}")
        if key in lines:
            raise reader.error(key_node, f"{section}.{key}: {key!r} is already set on line "
                                         f"{lines[key].start_mark.line + 1}; give each setting in one place")
        lines[key] = key_node

    base: dict[str, Any] = {}
    if "base" in top:
        for key, (key_node, value_node) in reader.mapping(top["base"][1], "base").items():
            claim(key, key_node, "base")
            base[key] = reader.value(value_node)
    layers.append(base)

    axes: dict[str, dict[str, list[Any]]] = {}
    for section in AXES:
        axes[section] = {}
        if section in top:
            for key, (key_node, value_node) in reader.mapping(top[section][1], section).items():
                claim(key, key_node, section)
                axes[section][key] = _axis(reader, section, key, value_node)
    zipped = axes["zip"]
    lengths = {len(v) for v in zipped.values()}
    if len(lengths) > 1:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in zipped.items())
        raise reader.error(top["zip"][1], f"zip: the lists must have one length (row i of each goes together); "
                                          f"got {counts}")
    seeds: list[int | None] = [None]
    if "seeds" in top:
        key_node, seeds_node = top["seeds"]
        if "seed" not in fields:
            raise reader.error(key_node, f"seeds: {name} has no `seed` setting to vary")
        claim("seed", key_node, "seeds")
        seeds = list(_seeds(reader, seeds_node))

    overrides = study.settings_from_text(assignments)
    rows = [dict(zip(zipped, row)) for row in zip(*zipped.values())] if zipped else [{}]
    grid = [dict(zip(axes["grid"], combo)) for combo in itertools.product(*axes["grid"].values())]
    points: dict[str, Point] = {}
    for combo, row, seed in itertools.product(grid, rows, seeds):
        chosen = {**combo, **row, **({} if seed is None else {"seed": seed})}
        try:
            config = study.configure(*layers, chosen, overrides)
        except ConfigError as exc:
            if exc.field in overrides:
                raise SweepError(f"--set {exc.field}: {exc.problem}") from None
            raise reader.error(lines.get(exc.field), f"{exc.field} {exc.problem}"
                               + (f" (in the run {_point_text(chosen)})" if chosen else "")) from None
        rid = run_id(study.name, dataclasses.asdict(config))
        if rid in points:
            raise reader.error(top.get("zip", top.get("grid", top["study"]))[1],
                               f"two runs resolve to the same settings ({_point_text(chosen)} and "
                               f"{points[rid].label()}); drop one")
        points[rid] = Point(study.name, config, rid, chosen)
    return Sweep(path, study, tuple(points.values()))


def _point_text(chosen: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in chosen.items())
