"""`deepscope <command>`: parses flags, calls the library, prints. Bad input exits non-zero with a message."""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from deepscope import __version__
from deepscope.config import add_dataclass_arguments, dataclass_from_args
from deepscope.errors import DeepscopeError


def _finite(obj):
    """Replace NaN/inf by None so the printed JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


# -- esl ---------------------------------------------------------------------------------------------------

def _print_esl(result, figure_path: Path | None) -> None:
    from deepscope.studies import esl as study
    c = result.config
    print(f"equi-separation law: {c.dataset} n={c.data_length} {c.data_size}x{c.data_size}, MLP depth "
          f"{len(c.hidden_widths()) + 1}, {c.opt} lr {c.lr:g}, batch {c.batch_size}, seed {c.seed}")
    reuse = " (reused a finished run with this config; --force to rerun)" if result.reused else ""
    print(f"run {result.run_id or '-'}{reuse}: {result.epochs_run} epochs, final train loss "
          f"{result.final_train_loss:.3e}, {result.train_seconds:.2f} s training")
    if result.diverged:
        print(result.message)
        return
    print(f"\n{'layer':<10} {'index':>5} {'log D':>10}")
    for i, (layer, value) in enumerate(zip(result.layers, result.log_d)):
        print(f"{layer:<10} {i:>5} {value:>10.4f}")
    print(f"\nfit: log D = {result.intercept:.4f} + {result.slope:.4f} * layer;  decay ratio rho = "
          f"{result.ratio:.4f} per layer;  Pearson r = {result.pearson_r:.4f};  R^2 = {result.r2:.4f}")
    nc = ", ".join(f"{k} {v:.4g}" for k, v in result.nc.items() if v is not None)
    print(f"neural collapse ({result.layers[-1]}): {nc}")
    for layer, values in result.extra.items():
        print(f"{layer}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    print(f"\nverdict: {study.verdict(result)}")
    if figure_path is not None:
        print(f"figure: {figure_path}")


def cmd_esl(args: argparse.Namespace) -> int:
    from deepscope.store import Store
    from deepscope.studies import esl as study
    from deepscope.studies import esl_table
    out = Path(args.out)
    store = Store(out)
    progress = False if args.json else None
    if args.table:
        entries = esl_table.run_table(root=args.root, seed=args.seed, device=args.device, store=store,
                                      force=args.force, progress=progress)
        table_path = out / "esl_table.md"
        table_path.write_text(esl_table.markdown(entries))
        figure_path = esl_table.grid_figure(entries, out / "esl_table.png")
        if args.json:
            print(json.dumps(_finite([{"figure": e.row.figure, "unavailable": e.unavailable or None,
                                       **(e.result.summary() if e.result else {})} for e in entries])))
        else:
            print(esl_table.markdown(entries))
            print(f"table: {table_path}\nfigure: {figure_path}")
        return 0
    config = dataclass_from_args(study.ESLConfig, args)
    result = study.run(config, store, force=args.force, progress=progress)
    figure_path = None
    if not result.diverged:
        figure_path = study.figure(result, out / f"esl_{result.run_id}.png")
    if args.json:
        print(json.dumps(_finite(result.summary())))
    else:
        _print_esl(result, figure_path)
    return 3 if result.diverged else 0


# -- datasets, runs --------------------------------------------------------------------------------------

def cmd_datasets(args: argparse.Namespace) -> int:
    from deepscope.data import format_datasets_table
    print(format_datasets_table())
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from deepscope.store import Store, format_runs_table
    out = Path(args.out)
    if not (out / "deepscope.sqlite").exists():
        print(f"no runs in {out} (no deepscope.sqlite there)")
        return 0
    print(format_runs_table(Store(out).runs(), out_dir=out))
    return 0


# -- metrics on saved activations --------------------------------------------------------------------

def _load_npz(path: Path, features: list[str] | None, labels: str | None):
    import numpy as np
    if not path.is_file():
        raise DeepscopeError(f"no file {path}; pass an .npz written with numpy.savez (one array per layer, "
                             f"plus the labels).")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DeepscopeError(f"{path} is not a readable .npz of plain arrays ({exc}).") from exc
    keys = list(archive.keys())
    wanted = features if features else [k for k in keys if k != labels]
    missing = [k for k in [*wanted, *([labels] if labels else [])] if k not in keys]
    if missing:
        raise DeepscopeError(f"{path} has no array(s) {missing}; it holds {keys}.")
    if not wanted:
        raise DeepscopeError(f"{path} holds no feature arrays besides the labels; it holds {keys}.")
    return {k: archive[k] for k in wanted}, (archive[labels] if labels else None)


def cmd_metrics(args: argparse.Namespace) -> int:
    from deepscope.metrics.registry import compute, describe
    if args.list:
        print(describe())
        return 0
    if args.file is None or not args.metric:
        raise DeepscopeError("pass FILE.npz and --metric NAME[,NAME...] (see `deepscope metrics --list`).")
    features, labels = _load_npz(Path(args.file), args.features, args.labels)
    values = compute(features, labels, args.metric)
    if args.json:
        print(json.dumps(_finite(values)))
        return 0
    names = list(dict.fromkeys(k for row in values.values() for k in row))
    width = max(12, *(len(str(layer)) for layer in values))
    print(f"{'metric':<22}" + "".join(f"{layer:>{width + 2}}" for layer in values))
    for name in names:
        print(f"{name:<22}" + "".join(f"{row.get(name, float('nan')):>{width + 2}.4f}" for row in values.values()))
    return 0


# -- parser ----------------------------------------------------------------------------------------------

def _comma_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    from deepscope.studies.esl import ESLConfig
    parser = argparse.ArgumentParser(
        prog="deepscope",
        description="A laboratory for the science of deep learning: train, probe layer by layer, and check "
                    "published claims.")
    parser.add_argument("--version", action="version", version=f"deepscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    esl = sub.add_parser(
        "esl", help="equi-separation law (He & Su 2023): train an MLP, fit log D per layer, check r <= -0.99",
        description="Train the MLP of the equi-separation law, measure log D = log Tr(SS_w SS_b^+) on the raw "
                    "input and each hidden layer, fit a line, and check the law (Pearson r <= -0.99). "
                    "Defaults: the seed README's quick start.")
    add_dataclass_arguments(esl, ESLConfig)
    esl.add_argument("--out", default="runs", help="output directory: figure + deepscope.sqlite (default: runs)")
    esl.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    esl.add_argument("--force", action="store_true", help="rerun even if this config already finished in --out")
    esl.add_argument("--table", action="store_true",
                     help="run the ten configurations of the seed README's results table; write esl_table.md "
                          "and esl_table.png to --out (uses --root, --seed, --device)")
    esl.set_defaults(func=cmd_esl)

    datasets = sub.add_parser("datasets", help="list the data sets, which work offline, which need --root")
    datasets.set_defaults(func=cmd_datasets)

    metrics = sub.add_parser(
        "metrics", help="run metrics on saved activations (.npz): intrinsic dimension, DSE/DSMI, NC, ...",
        description="Run named metrics on the arrays of an .npz file (one array, or one per layer) and print a "
                    "table (or JSON) of layer x metric. `--list` shows the metrics.")
    metrics.add_argument("file", nargs="?", help="an .npz file (numpy.savez) of feature arrays [n, ...]")
    metrics.add_argument("--features", type=_comma_list, default=None,
                         help="array key(s) to measure, comma-separated (default: every array but the labels)")
    metrics.add_argument("--labels", default=None, help="array key of the integer class labels [n]")
    metrics.add_argument("--metric", type=_comma_list, default=[], help="metric name(s), comma-separated")
    metrics.add_argument("--json", action="store_true", help="print {layer: {metric: value}} as JSON")
    metrics.add_argument("--list", action="store_true", help="list the available metrics and exit")
    metrics.set_defaults(func=cmd_metrics)

    runs = sub.add_parser("runs", help="list the runs recorded in an output directory")
    runs.add_argument("--out", default="runs", help="output directory (default: runs)")
    runs.set_defaults(func=cmd_runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DeepscopeError as exc:
        print(f"deepscope {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"deepscope {args.command}: interrupted; the run is recorded as failed, not finished.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
