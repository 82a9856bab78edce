"""`deepscope check`: every registered study's quick preset as one sweep, one verdict table, one report.

How many seeds each study gets (a verdict needs its spread over seeds where that is affordable):

- a study that trains its seeds stacked in one model (a list setting ``seeds``, e.g. ``esl``) runs
  seeds 0, 1, 2 in one run;
- a study that already repeats its own initialisations (an integer setting ``seeds``: ``lazy``,
  ``lottery``, ``info-plane``) runs once, with its own seeds;
- a study whose quick preset takes at most :data:`CHEAP_SECONDS` here runs three times (seed 0,
  1, 2); the others once.

The runs go through the sweep executors (by default a process pool over the cores, longest
first), so ``check`` is resumable like a sweep: finished runs in ``--out`` are kept.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepscope.config import field_type
from deepscope.errors import DeepscopeError
from deepscope.report.aggregate import group_runs, load_runs
from deepscope.report.plain import finite, text_table
from deepscope.store import Store
from deepscope.store.ids import run_id
from deepscope.studies.base import Study
from deepscope.studies.registry import STUDIES, get_study
from deepscope.sweep.commands import EXIT_FAILED, EXIT_OK, add_executor_arguments, run_planned
from deepscope.sweep.jobs import RUN, plan
from deepscope.sweep.spec import Point

CHEAP_SECONDS = 30.0   # a quick preset at most this long (here) is run with three seeds
CHECK_SEEDS = (0, 1, 2)
CLAIM_WIDTH = 60       # characters of the claim shown in the text table (the JSON and the report have it whole)


def _seeds_kind(study: Study) -> str:
    """'stacked' (a list setting ``seeds``), 'own' (an int ``seeds``) or 'none'."""
    if "seeds" not in {f.name for f in dataclasses.fields(study.config)}:
        return "none"
    kind, _ = field_type(study.config, "seeds")
    return "stacked" if typing.get_origin(kind) is list else "own"


def check_points(studies: Sequence[Study]) -> list[Point]:
    """The runs of ``deepscope check``: each study's quick preset, with seeds as the module docstring says."""
    points = []
    for study in studies:
        quick = study.preset("quick")
        kind = _seeds_kind(study)
        if kind == "stacked":
            variants = [{"seeds": list(CHECK_SEEDS)}]
        elif kind == "none" and (study.quick_seconds or float("inf")) <= CHEAP_SECONDS:
            variants = [{"seed": seed} for seed in CHECK_SEEDS]
        else:
            variants = [{}]
        for axes in variants:
            config = study.configure(quick, axes)
            points.append(Point(study.name, config, run_id(study.name, dataclasses.asdict(config)), axes))
    return points


def seed_count(study: Study, runs: int, config: dict[str, Any]) -> int:
    """The seeds behind a study's verdicts: its runs, or the seeds each run trains itself."""
    kind = _seeds_kind(study)
    if kind == "stacked":
        return len(config.get("seeds") or [config.get("seed")])
    return runs * int(config["seeds"]) if kind == "own" else runs


def _measured(mean: float, std: float, n: int) -> str:
    if mean != mean:
        return "-"
    return f"{mean:.4g} ± {std:.2g}" if n > 1 else f"{mean:.4g}"


def _threshold(direction: str, threshold: float) -> str:
    """``<= -0.99``; an interval claim's direction already names its bounds (``within [a, b]``)."""
    if not direction:
        return "-"
    return direction if direction.startswith("within") else f"{direction} {threshold:.4g}"


def _holds(states: dict[str, int]) -> str:
    total = sum(states.values())
    if total == 1:
        return next(iter(states))
    return ", ".join(f"{state} {n}/{total}" for state, n in states.items())


def verdict_rows(store: Store, points: Sequence[Point]) -> list[dict[str, Any]]:
    """One row per claim of each study: measured (mean ± std over seeds), threshold, states, seeds, time."""
    ids = {p.run_id for p in points}
    records = [r for r in load_runs(store) if r.id in ids]
    rows = []
    for study_name, groups in group_runs(records).items():
        study = get_study(study_name)
        for group in groups:
            runs = list(group.runs)
            seconds = sum(r.wall_seconds or 0.0 for r in runs)
            seeds = seed_count(study, len(runs), runs[0].config)
            unfinished = [r for r in runs if r.status != "finished"]
            for stats in group.claims():
                rows.append({"study": study_name, "claim": stats.claim, "quantity": stats.quantity,
                             "measured": stats.mean, "std": stats.std, "values": list(stats.values),
                             "threshold": stats.threshold, "direction": stats.direction,
                             "states": stats.state_counts(), "seeds": seeds, "seconds": seconds})
            for run in unfinished:
                rows.append({"study": study_name, "claim": study.claim, "quantity": "-", "measured": float("nan"),
                             "std": float("nan"), "values": [], "threshold": float("nan"), "direction": "",
                             "states": {run.status: 1}, "seeds": seeds, "seconds": seconds,
                             "error": (run.error or "").splitlines()[0] if run.error else ""})
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    def claim(text: str) -> str:
        return text if len(text) <= CLAIM_WIDTH else text[:CLAIM_WIDTH - 1] + "…"

    return text_table(("study", "claim", "measured", "threshold", "holds", "seeds", "run time"),
                      [(r["study"], claim(r["claim"]), _measured(r["measured"], r["std"], len(r["values"])),
                        _threshold(r["direction"], r["threshold"]), _holds(r["states"]),
                        str(r["seeds"]), f"{r['seconds']:.0f} s") for r in rows],
                      right=("measured", "seeds", "run time"))


def _chosen(only: list[str] | None, skip: list[str] | None) -> list[Study]:
    for flag, names in (("--only", only), ("--skip", skip)):
        unknown = [n for n in names or [] if n not in STUDIES]
        if unknown:
            raise DeepscopeError(f"{flag}: unknown study {', '.join(map(repr, unknown))}; the studies are "
                                 f"{', '.join(STUDIES)}.")
    names = [n for n in STUDIES if (only is None or n in only) and n not in (skip or [])]
    if not names:
        raise DeepscopeError("--only/--skip leave no study to check; `deepscope studies` lists them.")
    return [get_study(n) for n in names]


def cmd_check(args: argparse.Namespace) -> int:
    from deepscope.report.html import write_report

    studies = _chosen(args.only, args.skip)
    points = check_points(studies)
    expected = {s.name: s.quick_seconds or 0.0 for s in studies}
    points.sort(key=lambda p: -expected[p.study])  # longest first: the pool ends together
    out = Path(args.out)
    store = Store(out)
    planned = plan(points, store, retry_failed=args.retry_failed)
    if args.dry_run:
        print(text_table(("study", "run", "id", "action", "why"),
                         [(p.job.study, p.job.label, p.job.run_id[:8], p.action, p.why) for p in planned]))
        return EXIT_OK
    outcomes = run_planned(planned, out, args, quiet=args.json)
    rows = verdict_rows(store, points)
    page = write_report(out)
    if args.json:
        print(json.dumps(finite({"out": str(out), "report": str(page), "verdicts": rows})))
    else:
        ran = sum(p.action == RUN for p in planned)
        print(format_table(rows))
        print(f"\n{len(studies)} studies, {len(points)} runs ({ran} run now, {len(points) - ran} kept from "
              f"{out}); report: {page}")
    return EXIT_FAILED if any(o.status == "failed" for o in outcomes) else EXIT_OK


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected study names, comma-separated; got {text!r}")
    return names


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run every study's quick preset and print one verdict table (+ HTML report)",
                       description="Run every registered study's quick preset (three seeds where the study "
                                   "stacks seeds or is cheap), print one table of verdicts (study, claim, measured, "
                                   "threshold, holds, seeds, run time) and write the HTML report to "
                                   "OUT/report.html. Finished runs in --out are kept: a second check is instant, "
                                   "an interrupted one resumes.")
    p.add_argument("--only", type=_names, default=None, metavar="NAMES", help="check only these studies (a,b)")
    p.add_argument("--skip", type=_names, default=None, metavar="NAMES", help="leave these studies out (a,b)")
    p.add_argument("--out", default="runs", help="output directory: store and report.html (default: runs)")
    add_executor_arguments(p, default="process")
    p.set_defaults(func=cmd_check)
