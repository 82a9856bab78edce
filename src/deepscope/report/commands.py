"""``deepscope report`` and ``deepscope export``: the store of an output directory as a page or as tables."""
from __future__ import annotations

import argparse

from deepscope.report.export import FORMATS, export_store
from deepscope.report.html import PAGE_NAME, write_report

EXIT_OK = 0


def cmd_report(args: argparse.Namespace) -> int:
    page = write_report(args.out, args.html)
    print(f"report: {page}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    for path in export_store(args.out, args.format, args.to):
        print(f"wrote {path}")
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` and ``export`` to the ``deepscope`` subcommands ``sub``."""
    report = sub.add_parser(
        "report", help="write one static HTML page of an output directory's runs: verdicts, figures, error bars",
        description="Write one static HTML page for the runs in --out: per study, the verdicts of every run with a "
                    "thumbnail of its figure, a table by configuration, and a plot of each claim's measured value "
                    "(mean ± std over seeds) against the paper's threshold. Images go to a folder beside the page.")
    report.add_argument("--out", metavar="DIR", default="runs",
                        help="output directory holding deepscope.sqlite (default: runs)")
    report.add_argument("--html", metavar="PATH", default=None,
                        help=f"where to write the page (default: --out/{PAGE_NAME}; images in <name>_files/ beside it)")
    report.set_defaults(func=cmd_report)

    export = sub.add_parser(
        "export", help="write an output directory's runs and metrics as runs.csv + metrics.csv (or .parquet)",
        description="Write the runs (config as JSON text, verdict headline columns) and the metrics (run_id, step, "
                    "epoch, layer, metric, value) of --out as two files, CSV or Parquet.")
    export.add_argument("--out", metavar="DIR", default="runs",
                        help="output directory holding deepscope.sqlite (default: runs)")
    export.add_argument("--format", default="csv", metavar="{" + ",".join(FORMATS) + "}",
                        help="file format (default: csv; parquet needs pip install 'deepscope[parquet]')")
    export.add_argument("--to", metavar="DIR", default=None, help="directory for the two files (default: --out)")
    export.set_defaults(func=cmd_export)
