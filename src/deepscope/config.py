"""One source of truth for settings: dataclass fields become CLI flags, YAML keys and checks.

A study's config is a dataclass whose fields are declared with :func:`setting`, which records the
help text and the field's constraints in its metadata::

    lr: float = setting(1e-3, "learning rate", gt=0)
    width_list: list[int] | None = setting(None, "hidden widths", item_min=1)

From that one declaration come the flag ``--lr`` (booleans get ``--x/--no-x``, lists take
``a,b,c``), the YAML key ``lr`` of ``--config FILE.yaml``, ``--set lr=0.1``, and
:func:`validate`, which refuses NaN, out-of-range numbers, unknown choices and empty lists with a
:class:`ConfigError` that names the field. The CLI names the flag instead (``--lr must be > 0``).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from deepscope.errors import DeepscopeError

MISSING = dataclasses.MISSING
BOUNDS = ("min", "gt", "max", "lt")
_BOUND_TEXT = {"min": ">=", "gt": ">", "max": "<=", "lt": "<"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class ConfigError(DeepscopeError):
    """A setting with a bad value. ``field`` is its name, ``problem`` what is wrong with the value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem

    def named(self, name: str) -> DeepscopeError:
        """The same error with the setting called ``name`` (e.g. the flag ``--lr``)."""
        return DeepscopeError(f"{name} {self.problem}")


def flag_name(field: str) -> str:
    """The CLI flag of a config field: ``data_length`` -> ``--data-length``."""
    return "--" + field.replace("_", "-")


def setting(default: Any, help: str, *, min: float | None = None, gt: float | None = None,  # noqa: A002
            max: float | None = None, lt: float | None = None, choices: tuple[str, ...] | None = None,  # noqa: A002
            item_min: float | None = None, item_gt: float | None = None, distinct: bool = False,
            nonempty: bool = True, check: Callable[[Any], None] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field with help text and constraints (see the module docstring).

    ``min``/``max`` are inclusive bounds, ``gt``/``lt`` exclusive; ``choices`` are matched
    case-insensitively; ``item_min`` (inclusive) or ``item_gt`` (exclusive) bounds every item of a list,
    and ``distinct`` refuses a list that names an item twice; ``nonempty`` (default) refuses
    empty strings and lists; ``check(value)`` may raise :class:`DeepscopeError` for any other rule
    (an unknown dataset name, say). ``None`` always passes for an optional field.
    """
    meta = {"help": help, "min": min, "gt": gt, "max": max, "lt": lt, "choices": choices, "item_min": item_min,
            "item_gt": item_gt, "distinct": distinct, "nonempty": nonempty, "check": check, "metavar": metavar}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_directory(path: str) -> None:
    """A ``check`` for settings naming a folder of data files: it must exist."""
    if not Path(path).is_dir():
        raise DeepscopeError(f"is not a directory: {path!r}; pass the folder holding the data files")


# -- types ------------------------------------------------------------------------------------------------

def field_type(cls: type, name: str) -> tuple[Any, bool]:
    """The type of field ``name`` of ``cls`` with ``Optional`` removed, and whether None is allowed."""
    annotation = typing.get_type_hints(cls)[name]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def _item_type(kind: Any) -> Any | None:
    """The item type of a ``list[...]`` field, or None for a scalar field."""
    return typing.get_args(kind)[0] if typing.get_origin(kind) in (list, tuple) else None


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value (calling its default factory)."""
    return f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]


def defaults(cls: type) -> dict[str, Any]:
    """Every field's default, by name."""
    return {f.name: default_of(f) for f in dataclasses.fields(cls)}


def _parse_scalar(kind: Any, text: str) -> Any:
    """``text`` as a value of the scalar type ``kind`` (a ValueError says why not)."""
    if kind is bool:
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError(f"expected true or false; got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number; got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number; got {text!r}") from None
    return text


def parse_text(cls: type, name: str, text: str) -> Any:
    """The value of field ``name`` written as command-line text: ``1e-3``, ``a,b``, ``none``, ``true``; lists of whole
    numbers also take ranges, ``0-9`` or ``0-4,9``."""
    kind, nullable = field_type(cls, name)
    if nullable and text.strip().lower() == "none":
        return None
    item = _item_type(kind)
    if item is None:
        return _parse_scalar(kind, text)
    if not text.strip():
        return []
    parts = [part.strip() for part in text.split(",")]
    if any(not part for part in parts):
        raise ValueError(f"has an empty item in {text!r}; write items separated by single commas, e.g. 100,100,50")
    if item is int:  # whole numbers may also be written as ranges a-b, both ends included: 0-9 or 0-4,9
        return [value for part in parts for value in _int_range(part)]
    return [_parse_scalar(item, part) for part in parts]


def _int_range(text: str) -> list[int]:
    """``a-b`` (a <= b, whole numbers >= 0) as [a, ..., b]; anything else as one whole number."""
    low, dash, high = text.partition("-")
    if not dash or not low.strip():  # a plain number, negative ones included
        return [_parse_scalar(int, text)]
    if not (low.strip().isdigit() and high.strip().isdigit()) or int(high) < int(low):
        raise ValueError(f"expected a whole number or a range a-b with 0 <= a <= b; got {text!r}")
    return list(range(int(low), int(high) + 1))


def _coerce(cls: type, name: str, value: Any) -> Any:
    """A value read from YAML or Python, checked against the field's type (ints count as floats)."""
    kind, nullable = field_type(cls, name)
    if value is None:
        if nullable:
            return None
        raise ConfigError(name, "cannot be none (null); give a value")
    item = _item_type(kind)
    if item is not None:
        if isinstance(value, str):
            try:
                return parse_text(cls, name, value)
            except ValueError as exc:
                raise ConfigError(name, str(exc)) from None
        if not isinstance(value, (list, tuple)):
            raise ConfigError(name, f"must be a list; got {value!r}")
        return [_coerce_scalar(name, item, v) for v in value]
    return _coerce_scalar(name, kind, value)


def _coerce_scalar(name: str, kind: Any, value: Any) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float, bool, str) and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        expected = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}[kind]
        raise ConfigError(name, f"must be {expected}; got {value!r} ({type(value).__name__})")
    return value


# -- validation -------------------------------------------------------------------------------------------

def _check_number(name: str, value: float, meta: Mapping[str, Any], what: str = "") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, f"{what}must be a finite number; got {value}")
    for key in BOUNDS:
        bound = meta.get(key)
        if bound is None:
            continue
        ok = {"min": value >= bound, "gt": value > bound, "max": value <= bound, "lt": value < bound}[key]
        if not ok:
            raise ConfigError(name, f"{what}must be {_BOUND_TEXT[key]} {bound:g}; got {value:g}")


def _canonical_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigError(name, f"must be one of {', '.join(choices)}; got {value!r}")


def validate(config: Any, *, owner: str | None = None) -> Any:
    """Check every field of a config dataclass against its declared type and constraints.

    Returns the config with choices spelled canonically (``--opt SGD`` becomes ``sgd``); raises
    :class:`ConfigError` naming the first bad field, or with ``owner`` a DeepscopeError naming it
    ``owner.field`` (for Python objects such as ``TrainConfig``, whose users type no flags).
    """
    if owner is None:
        return _validate(config)
    try:
        return _validate(config)
    except ConfigError as exc:
        raise exc.named(f"{owner}.{exc.field}") from None


def _validate(config: Any) -> Any:
    cls = type(config)
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta, value = f.metadata, _coerce(cls, f.name, getattr(config, f.name))
        if value is None:
            continue
        items = value if isinstance(value, list) else None
        if items is not None:
            if meta.get("nonempty", True) and not items:
                raise ConfigError(f.name, "is empty; give at least one item (or leave the setting out)")
            if meta.get("distinct"):
                repeated = next((item for i, item in enumerate(items) if item in items[:i]), None)
                if repeated is not None:
                    raise ConfigError(f.name, f"lists {repeated!r} twice ({items}); give each once")
            for item in items:
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    _check_number(f.name, item, {"min": meta.get("item_min"), "gt": meta.get("item_gt")}, "items ")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(f.name, value, meta)
        elif isinstance(value, str):
            if meta.get("nonempty", True) and not value.strip():
                raise ConfigError(f.name, "is empty; give a value")
            if meta.get("choices"):
                value = _canonical_choice(f.name, value, meta["choices"])
        if meta.get("check") is not None:
            try:
                meta["check"](value)
            except ConfigError:
                raise
            except DeepscopeError as exc:
                raise ConfigError(f.name, str(exc)) from None
        if value != getattr(config, f.name) or type(value) is not type(getattr(config, f.name)):
            changes[f.name] = value
    return dataclasses.replace(config, **changes) if changes else config


def build(cls: type, values: Mapping[str, Any], source: str = "") -> Any:
    """``cls(**values)`` after checking the keys and types (``source`` names where they came from)."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in names]
    where = f" in {source}" if source else ""
    if unknown:
        raise DeepscopeError(f"unknown {cls.__name__} setting(s) {', '.join(map(repr, unknown))}{where}; the "
                             f"settings are: {', '.join(names)}.")
    return cls(**{k: _coerce(cls, k, v) for k, v in values.items()})


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file (keys: setting names; a clear error for anything else)."""
    path = Path(path)
    if not path.is_file():
        raise DeepscopeError(f"--config {path}: no such file; pass a YAML file of settings, e.g. 'lr: 0.001'.")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DeepscopeError(f"--config {path} is not valid YAML: {exc}".rstrip()) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise DeepscopeError(f"--config {path} must hold a mapping of setting: value (e.g. 'lr: 0.001'); "
                             f"got {type(data).__name__}.")
    return {k.replace("-", "_"): v for k, v in data.items()}


# -- argparse ---------------------------------------------------------------------------------------------

def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of ``cls``; only flags the user types end up in the namespace.

    Values are parsed here (a parse error names the flag and exits 2); constraints are checked
    later, by :func:`validate`, once presets, config files and ``--set`` are merged.
    """
    for f in dataclasses.fields(cls):
        kind, nullable = field_type(cls, f.name)
        default, meta = default_of(f), f.metadata
        text = meta.get("help", "")
        choices = meta.get("choices")
        if choices:
            text += f" ({'|'.join(choices)})"
        if nullable:
            text += "; 'none' to unset"
        text = f"{text} (default: {default})".replace("%", "%%")  # argparse formats help with %
        if kind is bool:
            parser.add_argument(flag_name(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=text)
            continue
        metavar = meta.get("metavar") or ("A,B,..." if _item_type(kind) is not None else
                                          "|".join(choices) if choices else kind.__name__.upper())
        parser.add_argument(flag_name(f.name), dest=f.name, type=_argparse_type(cls, f.name),
                            default=argparse.SUPPRESS, metavar=metavar, help=text)


def _argparse_type(cls: type, name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return parse_text(cls, name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse
