"""One source of truth for settings: dataclass fields become CLI flags with their help text.

A field's help lives in its metadata (``field(default=..., metadata={"help": "..."})``); the
flag is ``--field-name``. Booleans get ``--x/--no-x``; ``list[int]`` fields take a comma list.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from deepscope.errors import DeepscopeError


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """The field's type with ``Optional`` removed, and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 100,100,50; got {text!r}") from exc


def _str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _optional(parse):
    def parse_or_none(text: str):
        return None if text.lower() in ("none", "") else parse(text)
    return parse_or_none


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of dataclass ``cls`` (defaults and help from the fields)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, nullable = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default_text = f" (default: {default})"
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text + default_text)
            continue
        origin = typing.get_origin(kind)
        if origin in (list, tuple):
            (item,) = typing.get_args(kind)[:1]
            parse = _int_list if item is int else _str_list
            metavar = "A,B,..."
        else:
            parse, metavar = kind, f.metadata.get("metavar", kind.__name__.upper())
        if nullable:
            parse = _optional(parse)
            help_text += "; 'none' to unset"
        help_text += default_text
        choices = f.metadata.get("choices")
        if choices:
            metavar = None
        parser.add_argument(flag, dest=f.name, type=parse, default=default, metavar=metavar, choices=choices,
                            help=help_text)


def dataclass_from_args(cls: type, args: argparse.Namespace, **overrides: Any) -> Any:
    """Build ``cls`` from the parsed flags (fields not given as flags keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values.update(overrides)
    try:
        return cls(**values)
    except TypeError as exc:
        raise DeepscopeError(f"bad settings for {cls.__name__}: {exc}") from exc
