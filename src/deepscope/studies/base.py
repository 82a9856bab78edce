"""The study plug-in: what a study declares, and the one way a study run is recorded.

A study module ends with ``STUDY = Study(...)`` and gets one line in
:mod:`deepscope.studies.registry`. From that declaration alone the framework builds the CLI
command ``deepscope <name>`` (a flag per config field, ``--preset``, ``--config``, ``--set``,
``--json``, ``--out``, ``--force``, ``--save-model``, ``--save-activations``), validates the
settings before any run record exists, records the run in the store, prints the report and the
verdicts, draws the figure and picks the exit code.

What a study provides:

- ``config``: a dataclass of :func:`deepscope.config.setting` fields whose defaults are the quick
  CPU setting; ``presets``: named overrides (``quick`` = the defaults, ``paper`` = the paper's own
  setting, run on a GPU, ``tiny`` = the smallest run that goes through every code path, for tests).
- ``run(config, store=None, *, force=False, progress=None) -> result``, normally written with
  :func:`record`. The result has ``run_id``, ``reused``, ``diverged``, ``message``, ``summary()``
  (the study's own JSON keys) and, when the study declares ``saves``, carries ``model`` and/or
  ``activations`` (``(features, labels)``) for ``--save-model``/``--save-activations``.
- ``verdict(result)``: one :class:`Verdict` or several, each with the paper's threshold and the
  study's declared minimum evidence; ``figure(result, path)``; ``report(result)``: the text printed.
- ``below_minimum``: settings (on top of ``tiny``) that give less evidence than the claim needs; a
  test runs them and expects UNDECIDED.
"""
from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from deepscope.config import build, parse_text, validate
from deepscope.errors import DeepscopeError
from deepscope.store.sqlite import INTERRUPTED
from deepscope.studies.verdict import Verdict, as_list

R = TypeVar("R")


@dataclass(frozen=True)
class Preset:
    """Named settings: ``overrides`` on top of the config's defaults, and what the preset is for."""

    help: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mode:
    """Another action of a study's command, chosen by ``--<flag>`` (e.g. ``deepscope esl --table``).

    ``accepts`` lists the config fields the mode uses; any other study flag given with it is refused.
    ``run(config, out_dir, store, force, json)`` prints its own output and returns the exit code.
    """

    flag: str
    help: str
    accepts: tuple[str, ...]
    run: Callable[..., int]


@dataclass(frozen=True)
class Study:
    """A registered study (see the module docstring for what each part is)."""

    name: str
    claim: str
    config: type
    presets: Mapping[str, Preset]
    run: Callable[..., Any]
    verdict: Callable[[Any], Verdict | list[Verdict]]
    figure: Callable[[Any, Path], Path]
    report: Callable[[Any], str]
    restore: Callable[[Any, dict[str, Any], str], Any]
    quick_seconds: float | None = None  # measured wall time of the quick preset on the 2-core CPU machine
    check: Callable[[Any], None] | None = None  # rules across fields, raising ConfigError
    below_minimum: Mapping[str, Any] = field(default_factory=dict)
    modes: tuple[Mode, ...] = ()
    saves: tuple[str, ...] = ()  # "model" and/or "activations": what its result carries for --save-*

    def __post_init__(self) -> None:
        missing = [p for p in ("quick", "paper", "tiny") if p not in self.presets]
        if missing:
            raise TypeError(f"study {self.name!r} must declare the presets {missing}")

    def verdicts(self, result: Any) -> list[Verdict]:
        return as_list(self.verdict(result))

    def preset(self, name: str) -> dict[str, Any]:
        """The overrides of preset ``name``; an unknown name lists the presets."""
        if name not in self.presets:
            raise DeepscopeError(f"--preset {name!r} is not a preset of {self.name}; choose one of "
                                 f"{', '.join(self.presets)}.")
        return dict(self.presets[name].overrides)

    def settings_from_text(self, assignments: Sequence[str]) -> dict[str, Any]:
        """``--set key=value`` texts as settings (keys may use - or _); a bad one names itself."""
        fields = {f.name for f in dataclasses.fields(self.config)}
        values = {}
        for text in assignments:
            key, sep, raw = text.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise DeepscopeError(f"--set takes key=value (e.g. --set lr=0.01); got {text!r}.")
            if key not in fields:
                raise DeepscopeError(f"--set {key}: {self.name} has no setting {key!r}; its settings are: "
                                     f"{', '.join(sorted(fields))}.")
            try:
                values[key] = parse_text(self.config, key, raw)
            except ValueError as exc:
                raise DeepscopeError(f"--set {key}: {exc}.") from None
        return values

    def configure(self, *layers: Mapping[str, Any]) -> Any:
        """The config from the defaults with each mapping of settings applied in turn, validated."""
        values: dict[str, Any] = {}
        for layer in layers:
            values.update(layer)
        return self.validated(build(self.config, values))

    def validated(self, config: Any) -> Any:
        """``config`` checked field by field and across fields (ConfigError names the field)."""
        if not isinstance(config, self.config):
            raise DeepscopeError(f"{self.name} takes a {self.config.__name__}; got {type(config).__name__}.")
        config = validate(config)
        if self.check is not None:
            self.check(config)
        return config


def record(study: Study, config: Any, store: Any, body: Callable[[Any], R], *, force: bool = False) -> R:
    """Run ``body(sink)`` as a recorded run of ``study`` in ``store`` (or unrecorded when store is None).

    The config is validated first, so bad settings never create a run record. A finished run of the
    same config is reused (``study.restore``) unless ``force``. ``sink`` is the store's run handle
    (``sink.log(step, layer, metric, value, epoch=...)``) or None. A :class:`DeepscopeError` raised
    by the body is bad input met late (missing files, too few samples): the record is discarded, not
    left as a failed run. Ctrl-C marks it failed with the error ``interrupted`` (a sweep reruns those).
    Any other exception marks the run failed; a diverged result is recorded as
    diverged; otherwise the summary and the verdicts are written and the run is finished, atomically.
    """
    config = study.validated(config)
    if store is None:
        return body(None)
    handle = store.start(study.name, dataclasses.asdict(config), force=force)
    if handle.reused:
        return study.restore(config, handle.results()["summary"], handle.id)
    try:
        result = body(handle)
    except DeepscopeError:
        handle.discard()
        raise
    except KeyboardInterrupt:
        handle.fail(INTERRUPTED)
        raise
    except BaseException as exc:
        handle.fail("".join(traceback.format_exception_only(type(exc), exc)).strip())
        raise
    result.run_id = handle.id
    if result.diverged:
        handle.diverge(result.message)
    else:
        handle.finish({"summary": result.summary(), "verdicts": [v.to_dict() for v in study.verdicts(result)]})
    return result
