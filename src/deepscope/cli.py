"""`deepscope <command>`: parses flags, calls the library, prints. Bad input exits 2 with one line.

Every registered study (:mod:`deepscope.studies.registry`) becomes a command with one flag per
config field; nothing here is specific to one study.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from deepscope import __version__
from deepscope.config import ConfigError, add_dataclass_arguments, defaults, flag_name, read_yaml
from deepscope.data import format_datasets_table
from deepscope.errors import DeepscopeError
from deepscope.metrics.registry import compute_each, describe, resolve
from deepscope.models import format_models_table, save_model
from deepscope.probe.files import load_activations, save_activations
from deepscope.report import commands as report_commands
from deepscope.report.plain import finite, text_table
from deepscope.store import Store, format_run, format_runs_table
from deepscope.store.sqlite import DB_NAME
from deepscope.studies.base import Mode, Study
from deepscope.studies.registry import STUDIES, all_studies, get_study
from deepscope.sweep import check as check_command
from deepscope.sweep import commands as sweep_commands

EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where to look, exit 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _creatable(path: Path, text: str) -> None:
    """Refuse a path whose nearest existing ancestor is a file (nothing could be created under it)."""
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text!r} cannot be created: {parent} is a file; pass a path "
                                                 f"under a directory")
            return


def _out_dir(text: str) -> Path:
    """``--out``: a directory that exists or can be made (checked before anything runs)."""
    path = Path(text)
    _creatable(path, text)
    return path


def _npz_file(text: str) -> Path:
    """``--save-activations``: an .npz file name under a directory that exists or can be made."""
    path = Path(text)
    if path.suffix != ".npz":
        raise argparse.ArgumentTypeError(f"name an .npz file (the format `deepscope metrics` reads); got {text!r}")
    _creatable(path.parent, text)
    return path


def _comma_list(text: str) -> list[str]:
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, e.g. a,b; got {text!r}")
    return parts


# -- studies ----------------------------------------------------------------------------------------------

def resolve_config(study: Study, args: argparse.Namespace) -> Any:
    """Defaults <- preset <- --config file <- flags <- --set, validated (a ConfigError names the field)."""
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(study.config) if hasattr(args, f.name)}
    layers = [study.preset(args.preset) if args.preset else {}]
    if args.config:
        layers.append(read_yaml(args.config))
    layers += [flags, study.settings_from_text(args.set or [])]
    return study.configure(*layers)


def _check_mode_settings(study: Study, mode: Mode, config: Any) -> None:
    base = defaults(study.config)
    extra = [flag_name(k) for k, v in dataclasses.asdict(config).items() if k not in mode.accepts and v != base[k]]
    if extra:
        raise DeepscopeError(f"--{mode.flag} runs its own settings and uses only "
                             f"{', '.join(flag_name(k) for k in mode.accepts)}; drop {', '.join(extra)}.")


def _seconds(result: Any, store: Any, measured: float) -> float:
    """The run's wall time: measured now, or recorded when the run was reused from the store."""
    if getattr(result, "reused", False) and result.run_id:
        stored = store.get(result.run_id)["wall_seconds"]
        return float(stored) if stored is not None else measured
    return measured


def _save(study: Study, result: Any, args: argparse.Namespace, out: Path) -> list[str]:
    """Write the model and/or the activations the run produced, as asked; return what was written."""
    written = []
    if args.save_model:
        path = out / f"{study.name}_{result.run_id or 'model'}.pt"
        save_model(result.model, path)
        written.append(f"model: {path}")
    if args.save_activations:
        features, labels = result.activations
        save_activations(args.save_activations, features, labels)
        written.append(f"activations: {args.save_activations}")
    return written


def cmd_study(args: argparse.Namespace) -> int:
    study = get_study(args.command)
    config = resolve_config(study, args)
    out = Path(args.out)
    store = Store(out, tensorboard=args.tensorboard)
    mode = next((m for m in study.modes if getattr(args, f"mode_{m.flag}", False)), None)
    if mode is not None:
        _check_mode_settings(study, mode, config)
        return mode.run(config, out, store, args.force, args.json)
    saving = bool(args.save_model or args.save_activations)
    start = time.perf_counter()
    result = study.run(config, store, force=args.force, progress=False if args.json else None)
    note = ""
    if saving and result.reused:  # a finished run keeps numbers, not weights: run it again to save them
        result = study.run(config, store, force=True, progress=False if args.json else None)
        note = " (rerun to save the model/activations)"
    seconds = _seconds(result, store, time.perf_counter() - start)
    verdicts = study.verdicts(result)
    figure = None if result.diverged else study.figure(result, out / f"{study.name}_{result.run_id}.png")
    written = _save(study, result, args, out) if saving and not result.diverged else []
    if args.json:
        print(json.dumps(finite({**result.summary(), "study": study.name, "run_id": result.run_id,
                                 "config": dataclasses.asdict(config), "verdicts": [v.to_dict() for v in verdicts],
                                 "seconds": seconds, "reused": result.reused,
                                 "figure": None if figure is None else str(figure)})))
    else:
        reuse = " (reused a finished run with this config; --force to rerun)" if result.reused else note
        print(f"{study.name} run {result.run_id}{reuse}, {seconds:.1f} s")
        print(study.report(result))
        print()
        for v in verdicts:
            print(f"verdict: {v}")
        for line in ([f"figure: {figure}"] if figure else []) + written:
            print(line)
    return EXIT_DIVERGED if result.diverged else EXIT_OK


def add_study_command(sub: argparse._SubParsersAction, study: Study) -> None:
    """``deepscope <study>``: a flag per config field plus the framework's flags."""
    p = sub.add_parser(study.name, help=study.claim, description=study.claim + " Flags override --config, "
                       "which overrides --preset; --set key=value overrides all.")
    add_dataclass_arguments(p, study.config)
    presets = "; ".join(f"{name}: {preset.help}" for name, preset in study.presets.items())
    p.add_argument("--preset", choices=list(study.presets), help=f"named settings ({presets})".replace("%", "%%"))
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings (keys as the flags, with _ or -)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="set one setting (repeatable)")
    p.add_argument("--out", type=_out_dir, default="runs", help="output directory: figure + deepscope.sqlite "
                                                               "(default: runs)")
    p.add_argument("--json", action="store_true", help="print one JSON object (study, run_id, config, verdicts, "
                                                       "seconds and the study's own keys) instead of the report")
    p.add_argument("--force", action="store_true", help="rerun even if this config already finished in --out")
    p.add_argument("--tensorboard", type=_out_dir, metavar="DIR", help="also log the run's metrics as TensorBoard "
                   "scalars under DIR/<study>_<run id> (needs pip install 'deepscope[tensorboard]')")
    if "model" in study.saves:
        p.add_argument("--save-model", action="store_true", help="save the trained model to --out "
                                                                  "(reload with deepscope.load_model)")
    if "activations" in study.saves:
        p.add_argument("--save-activations", type=_npz_file, metavar="FILE.npz",
                       help="save the measured activations and labels (the format `deepscope metrics` reads)")
    p.set_defaults(save_model=False, save_activations=None)
    for mode in study.modes:
        p.add_argument(f"--{mode.flag}", dest=f"mode_{mode.flag}", action="store_true", help=mode.help)
    p.set_defaults(func=cmd_study)


def cmd_studies(args: argparse.Namespace) -> int:
    studies = all_studies()
    if args.json:
        print(json.dumps([{"name": s.name, "claim": s.claim, "presets": {k: p.help for k, p in s.presets.items()},
                           "quick_seconds": s.quick_seconds} for s in studies]))
        return EXIT_OK
    rows = [(s.name, ", ".join(s.presets), "-" if s.quick_seconds is None else f"{s.quick_seconds:.0f} s", s.claim)
            for s in studies]
    print(text_table(("study", "presets", "quick here", "claim"), rows))
    return EXIT_OK


# -- datasets, models, runs ------------------------------------------------------------------------------

def cmd_datasets(args: argparse.Namespace) -> int:
    print(format_datasets_table())
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    print(format_models_table())
    return EXIT_OK


def _study_defaults(name: str) -> dict[str, Any] | None:
    return defaults(get_study(name).config) if name in STUDIES else None


def cmd_runs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.is_dir():
        raise DeepscopeError(f"--out {out}: no such directory; pass the --out of an earlier run (default: runs).")
    if not (out / DB_NAME).exists():
        if args.show:
            raise DeepscopeError(f"--show {args.show}: there are no runs in {out} (no {DB_NAME} there).")
        print(json.dumps([]) if args.json else f"no runs in {out} (no {DB_NAME} there)")
        return EXIT_OK
    store = Store(out)
    if args.show:
        try:
            run = store.get(args.show)
        except DeepscopeError as exc:
            raise DeepscopeError(f"--show {args.show}: {exc}") from None
        results, metrics = store.results(run["id"]), store.metrics(run["id"])
        if args.json:
            print(json.dumps(finite({**run, "results": results,
                                     "metrics": metrics.astype(object).where(metrics.notna(), None)
                                     .to_dict(orient="records")}), default=str))
        else:
            print(format_run(run, results, metrics))
        return EXIT_OK
    runs, verdicts = store.runs(), store.result_values("verdicts")
    runs["status"] = ["interrupted" if row["status"] == "running" and store.owner_alive(row) is False
                      else row["status"] for _, row in runs.iterrows()]  # its process is gone
    if args.json:
        rows = runs.astype(object).where(runs.notna(), None).to_dict(orient="records")
        print(json.dumps(finite([{**row, "verdicts": verdicts.get(row["id"], [])} for row in rows]), default=str))
    else:
        print(format_runs_table(runs, out, defaults=_study_defaults, verdicts=verdicts))
    return EXIT_OK


# -- metrics on saved activations --------------------------------------------------------------------

def cmd_metrics(args: argparse.Namespace) -> int:
    if args.list:
        print(describe())
        return EXIT_OK
    if args.file is None or not args.metrics:
        raise DeepscopeError("pass FILE.npz (or .npy) and --metrics NAME[,NAME...] (see `deepscope metrics --list`).")
    try:
        resolve(args.metrics)
    except DeepscopeError as exc:
        raise DeepscopeError(f"--metrics: {exc}") from None
    features, labels, notes = load_activations(Path(args.file), args.features, args.labels)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    values, errors = compute_each(features, labels, args.metrics)
    if args.json:
        print(json.dumps(finite({**values, **({"errors": errors} if errors else {})})))
    elif values:
        names = list(dict.fromkeys(k for row in values.values() for k in row))
        print(text_table(("metric", *values), [(name, *(f"{row.get(name, float('nan')):.4f}" for row in values.values()))
                                              for name in names], right=tuple(values)))
    for layer, message in errors.items():
        print(f"deepscope metrics: error: layer {layer!r}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT if errors else EXIT_OK


# -- parser ----------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="deepscope", description="A laboratory for the science of deep learning: train, probe "
                                                  "layer by layer, and check published claims.")
    parser.add_argument("--version", action="version", version=f"deepscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for study in all_studies():
        add_study_command(sub, study)

    studies = sub.add_parser("studies", help="list the studies: claim, presets, run time of the quick preset here")
    studies.add_argument("--json", action="store_true", help="print a JSON list")
    studies.set_defaults(func=cmd_studies)

    sub.add_parser("datasets", help="list the data sets, which work offline, which need --root"
                   ).set_defaults(func=cmd_datasets)
    sub.add_parser("models", help="list the built-in models, their options and probe points"
                   ).set_defaults(func=cmd_models)

    metrics = sub.add_parser(
        "metrics", help="run metrics on saved activations (.npz/.npy): intrinsic dimension, DSE/DSMI, NC, ...",
        description="Run named metrics on the arrays of an .npz file (one array per layer, labels under y or "
                    "labels) or one .npy array, and print a table (or JSON) of layer x metric. `--list` shows "
                    "the metrics.")
    metrics.add_argument("file", nargs="?", help="an .npz (numpy.savez: one array per layer) or .npy file")
    metrics.add_argument("--features", type=_comma_list, default=None,
                         help="array key(s) to measure, comma-separated (default: every array but the labels)")
    metrics.add_argument("--labels", default=None, help="array key of the class labels (default: y or labels "
                                                        "if present; strings are mapped to class ids)")
    metrics.add_argument("--metrics", "--metric", dest="metrics", type=_comma_list, default=[],
                         help="metric name(s), comma-separated (--metric is an alias)")
    metrics.add_argument("--json", action="store_true", help="print {layer: {metric: value}} as JSON")
    metrics.add_argument("--list", action="store_true", help="list the available metrics and exit")
    metrics.set_defaults(func=cmd_metrics)

    runs = sub.add_parser("runs", help="list the runs recorded in an output directory, or show one")
    runs.add_argument("--out", default="runs", help="output directory (default: runs)")
    runs.add_argument("--show", metavar="ID", help="print one run whole (a unique id prefix is enough)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(func=cmd_runs)
    sweep_commands.add_commands(sub)
    check_command.add_command(sub)
    report_commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:  # a setting of a study, named as the flag the user types
        print(f"deepscope {args.command}: error: {exc.named(flag_name(exc.field))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DeepscopeError as exc:
        print(f"deepscope {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"deepscope {args.command}: interrupted; the run is recorded as failed, not finished.",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
