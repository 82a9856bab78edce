"""`deepscope sweep FILE.yaml` and what it shares with `deepscope check`: executor flags, the run loop
with its progress bar, and the table of outcomes."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deepscope.errors import DeepscopeError
from deepscope.report.plain import finite, text_table
from deepscope.store import Store
from deepscope.store.table import headline
from deepscope.sweep.executors import EXECUTORS, execute
from deepscope.sweep.jobs import RUN, Job, Outcome, Planned, plan
from deepscope.sweep.spec import load_sweep

EXIT_OK, EXIT_FAILED = 0, 1
VERDICT_WIDTH = 90  # characters of a run's verdict or error in the table (--json has them whole)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1; got {value}")
    return value


def add_executor_arguments(p: argparse.ArgumentParser, default: str = "serial") -> None:
    """The flags every command that runs many runs takes: where they run and how many at once."""
    p.add_argument("--executor", choices=EXECUTORS, default=default,
                   help="serial: one after another here; process: a local pool of --workers processes; "
                        f"ray: tasks on a Ray cluster (--address; default a local one). Default: {default}")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="runs at once for process and ray (default: the number of CPU cores)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads per run (default: cores / workers for process and ray; torch's own "
                        "choice for serial)")
    p.add_argument("--address", default=None, help="the Ray cluster to use (e.g. ray://head:10001 or auto); "
                                                   "default: start a local one")
    p.add_argument("--retry-failed", action="store_true", help="rerun runs recorded as failed (finished runs are "
                                                               "always kept; interrupted ones always rerun)")
    p.add_argument("--dry-run", action="store_true", help="print what would run and what is already done; "
                                                          "run nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def resources(args: argparse.Namespace) -> tuple[int, int | None]:
    """(workers, threads per run) for the chosen executor."""
    if args.address and args.executor != "ray":
        raise DeepscopeError("--address is the Ray cluster's; use it with --executor ray.")
    cores = os.cpu_count() or 1
    if args.executor == "serial":
        if args.workers not in (None, 1):
            raise DeepscopeError("--workers: the serial executor runs one run at a time; use --executor process "
                                 "(or ray) to run several at once.")
        return 1, args.threads
    workers = args.workers or cores
    return workers, args.threads or max(1, cores // workers)


def run_planned(planned: Sequence[Planned], out: Path, args: argparse.Namespace, *, quiet: bool) -> list[Outcome]:
    """Run the planned jobs that need running, with a progress bar (stderr) and a line per ended run."""
    workers, threads = resources(args)
    todo = [p.job for p in planned if p.action == RUN]
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(todo), unit="run", desc=f"{args.command} ({args.executor})", disable=quiet or not todo,
               file=sys.stderr, dynamic_ncols=True)

    def done(job: Job, outcome: Outcome) -> None:
        outcomes.append(outcome)
        bar.update(1)
        if not quiet:
            detail = outcome.verdict if outcome.status in ("finished", "reused") else outcome.error.splitlines()[0] \
                if outcome.error else ""
            tqdm.write(f"{outcome.status:>9}  {job.run_id[:8]}  {job.study} {job.label}  {detail}", file=sys.stderr)

    try:
        execute(todo, str(out.resolve()), done, executor=args.executor, workers=workers, threads=threads,
                address=args.address)
    finally:
        bar.close()
    return outcomes


def _summary(planned: Sequence[Planned], outcomes: Sequence[Outcome]) -> str:
    counts = Counter(o.status for o in outcomes)
    kept = Counter(p.why for p in planned if p.action != RUN)
    parts = [f"{n} {status}" for status, n in counts.items()] + [f"{n} already {why}" for why, n in kept.items()]
    return ", ".join(parts) or "nothing to do"


def outcome_rows(planned: Sequence[Planned], outcomes: Sequence[Outcome], store: Store) -> list[dict[str, Any]]:
    """One row per planned run: what the store now holds for it, or why it was left alone."""
    ended = {o.run_id: o for o in outcomes}
    verdicts = store.result_values("verdicts")
    runs = {row["id"]: row for _, row in store.runs().iterrows()}
    rows = []
    for p in planned:
        outcome, row = ended.get(p.job.run_id), runs.get(p.job.run_id)
        status = outcome.status if outcome else (row["status"] if row is not None else "-")
        error = outcome.error if outcome else (row["error"] if row is not None and row["error"] else "")
        seconds = row["wall_seconds"] if row is not None else float("nan")
        rows.append({"run_id": p.job.run_id, "study": p.job.study, "run": p.job.label, "status": status,
                     "verdicts": verdicts.get(p.job.run_id, []), "seconds": float(seconds),
                     "note": p.why if p.action != RUN else "", "error": error})
    return rows


def _verdict_cell(row: dict[str, Any]) -> str:
    """The headline verdict of a run, or the first line of why it has none (cut to the table's width)."""
    text = headline(row["verdicts"]) if row["verdicts"] else (row["error"] or row["note"] or "-").splitlines()[0]
    return text if len(text) <= VERDICT_WIDTH else text[:VERDICT_WIDTH - 1] + "…"


def cmd_sweep(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.file, [*(args.set or []), *([f"root={args.root}"] if args.root else [])])
    out = Path(args.out)
    store = Store(out)
    planned = plan(sweep.points, store, retry_failed=args.retry_failed)
    if args.dry_run:
        rows = [(p.job.run_id[:8], p.job.label, p.action, p.why) for p in planned]
        if args.json:
            print(json.dumps([{"run_id": p.job.run_id, "run": p.job.label, "action": p.action, "why": p.why,
                               "settings": p.job.settings} for p in planned]))
        else:
            print(f"sweep {sweep.path}: {sweep.study.name}, {len(planned)} runs, "
                  f"{sum(p.action == RUN for p in planned)} to run, into {out}")
            print(text_table(("id", "run", "action", "why"), rows))
        return EXIT_OK
    outcomes = run_planned(planned, out, args, quiet=args.json)
    rows = outcome_rows(planned, outcomes, store)
    if args.json:
        print(json.dumps(finite({"sweep": str(sweep.path), "study": sweep.study.name, "out": str(out),
                                 "runs": rows, "outcomes": [asdict(o) for o in outcomes]})))
    else:
        print(text_table(("id", "run", "status", "verdict (or why not)", "wall s"),
                         [(r["run_id"][:8], r["run"], r["status"], _verdict_cell(r),
                           f"{r['seconds']:.1f}" if r["seconds"] == r["seconds"] else "-") for r in rows],
                         right=("wall s",)))
        print(f"\n{sweep.study.name} sweep: {_summary(planned, outcomes)}; store {out / 'deepscope.sqlite'} "
              f"(`deepscope runs --out {out}`, `deepscope report --out {out}`)")
    return EXIT_FAILED if any(o.status == "failed" for o in outcomes) else EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run every configuration of a YAML sweep file (grid, zip, seeds); resumable",
                       description="Run the runs of a sweep file: a study, base settings and axes (grid: every "
                                   "combination; zip: lists taken together; seeds). Runs already finished in "
                                   "--out are kept, interrupted ones rerun; see examples/esl_table.yaml.")
    p.add_argument("file", metavar="FILE.yaml", help="the sweep file")
    p.add_argument("--out", default="runs", help="output directory holding the store (default: runs)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting for every run (repeatable; "
                                                                        "overrides the file)")
    p.add_argument("--root", default=None, help="directory of data files for every run (same as --set root=DIR)")
    add_executor_arguments(p)
    p.set_defaults(func=cmd_sweep)
