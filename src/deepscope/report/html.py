"""One static HTML page for a store (one study's runs, a sweep, or ``deepscope check``'s table).

Per study: the claim, an aggregate plot (each claim's measured value per configuration, mean ± std
over seeds, the paper's threshold across), a table by configuration and a table of every run with
its verdicts and a thumbnail of the study's own figure, drawn again from the stored summary. The
images are PNG files in a folder beside the page (``report_files/`` for ``report.html``), so the
page opens from ``file://`` with no server and no network.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from urllib.parse import quote

from deepscope import __version__
from deepscope.errors import DeepscopeError
from deepscope.report.aggregate import (ClaimStats, Group, RunRecord, claim_table, claims_by_key, existing_store,
                                        group_labels, group_runs, load_runs)
from deepscope.report.claims_plot import plot_claims
from deepscope.report.thumbnails import run_figure
from deepscope.studies.registry import STUDIES, get_study

PAGE_NAME = "report.html"
ASSETS_SUFFIX = "_files"
STATES = ("HOLDS", "FAILS", "UNDECIDED")

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } .wide { overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f4f4f4; font-weight: 600; } td.num { text-align: right; white-space: nowrap; }
.claim { color: #444; } small, .muted { color: #666; } .problem { color: #a33; font-size: 0.9em; }
.state { font-weight: 700; padding: 0 4px; border-radius: 3px; }
.HOLDS { color: #fff; background: #2a7d2a; } .FAILS { color: #fff; background: #b03030; }
.UNDECIDED { color: #222; background: #e0c040; }
.status-finished { color: #2a7d2a; } .status-failed, .status-diverged { color: #b03030; }
.status-running { color: #a07000; }
ul.verdicts { margin: 0; padding-left: 1em; }
img.thumb { max-width: 480px; max-height: 220px; border: 1px solid #ddd; }
figure.aggregate img { max-width: 100%; height: auto; }
"""

# Sets data-images-loaded / data-images-total on <body> once the page has loaded (read by the test in
# headless Chromium: every image must have decoded, naturalWidth > 0).
IMAGE_CHECK = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.imagesTotal = String(images.length);
  document.body.dataset.imagesLoaded = String(images.filter(function (img) {
    return img.complete && img.naturalWidth > 0;
  }).length);
});
</script>"""


def write_report(out_dir: str | os.PathLike[str], html: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of the store in ``out_dir`` to ``html`` (default ``<out_dir>/report.html``).

    The images go to a folder beside the page named after it (``report_files/``); PNGs left there by an
    earlier report are replaced. Returns the page's path. Raises :class:`DeepscopeError` when
    ``out_dir`` holds no store or the page cannot be written.
    """
    store = existing_store(out_dir)
    page = Path(out_dir) / PAGE_NAME if html is None else Path(html)
    if page.is_dir():
        raise DeepscopeError(f"--html {page} is a directory; name the page's file, e.g. {page / PAGE_NAME}.")
    assets = page.with_name(page.stem + ASSETS_SUFFIX)
    try:
        assets.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepscopeError(f"cannot write the report beside {page} ({exc.strerror}); pass an --html path in a "
                             f"directory you can write to.") from None
    for old in assets.glob("*.png"):
        old.unlink()
    grouped = group_runs(load_runs(store))
    parts = [_header(Path(out_dir), grouped), _overview(grouped)]
    parts += [_study_section(study, groups, assets, page.parent) for study, groups in grouped.items()]
    page.write_text(_document(f"deepscope report: {Path(out_dir)}", parts), encoding="utf-8")
    return page


# -- pieces of the page ------------------------------------------------------------------------------------

def _document(title: str, parts: Sequence[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{escape(title)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(parts) + f"\n{IMAGE_CHECK}\n</body>\n</html>\n")


def _src(path: Path, base: Path) -> str:
    """``path`` relative to the page's folder, as a URL."""
    return quote(Path(os.path.relpath(path, base)).as_posix())


def _num(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _state(state: str) -> str:
    return f'<span class="state {escape(state)}">{escape(state)}</span>'


def _claim_of(study: str) -> str:
    return get_study(study).claim if study in STUDIES else "(a study not registered in this deepscope)"


def _runs_of(groups: Sequence[Group]) -> list[RunRecord]:
    return [run for group in groups for run in group.runs]


def _header(out_dir: Path, grouped: dict[str, list[Group]]) -> str:
    runs = sum(len(_runs_of(groups)) for groups in grouped.values())
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<h1>deepscope report: {escape(str(out_dir))}</h1>\n<p class=\"muted\">{runs} run{'s' * (runs != 1)} "
            f"of {len(grouped)} stud{'ies' if len(grouped) != 1 else 'y'}; written {when} by deepscope "
            f"{escape(__version__)}. Verdicts are as stored with each run; figures are drawn again from the stored "
            f"summaries.</p>")


def _counts(items: Sequence[str], order: Sequence[str]) -> str:
    return ", ".join(f"{items.count(k)} {k}" for k in order if k in items) or "–"


def _overview(grouped: dict[str, list[Group]]) -> str:
    if not grouped:
        return "<p>No runs in this store yet.</p>"
    rows = []
    for study, groups in grouped.items():
        runs = _runs_of(groups)
        states = [v["state"] for run in runs for v in run.verdicts]
        statuses = [run.status for run in runs]
        rows.append(f"<tr><td><a href=\"#study-{escape(study)}\">{escape(study)}</a></td>"
                    f"<td class=\"num\">{len(runs)}</td><td class=\"num\">{len(groups)}</td>"
                    f"<td>{escape(_counts(statuses, ('finished', 'running', 'failed', 'diverged')))}</td>"
                    f"<td>{' '.join(f'{_state(s)} {states.count(s)}' for s in STATES if s in states) or '–'}"
                    f"</td></tr>")
    return ("<table class=\"overview\"><thead><tr><th>study</th><th>runs</th><th>configurations</th><th>status</th>"
            "<th>verdicts (claims × runs)</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _study_section(study: str, groups: list[Group], assets: Path, base: Path) -> str:
    runs = _runs_of(groups)
    plot = plot_claims(groups, assets / f"{study}_claims.png")
    parts = [f"<section class=\"study\" id=\"study-{escape(study)}\" data-study=\"{escape(study)}\">",
             f"<h2>{escape(study)}</h2>", f"<p class=\"claim\">{escape(_claim_of(study))}</p>",
             (f"<p class=\"muted\">{len(runs)} run{'s' * (len(runs) != 1)} in {len(groups)} "
              f"configuration{'s' * (len(groups) != 1)} (a configuration: runs whose settings differ only in "
              f"the seed).</p>")]
    if plot is not None:
        parts.append(f"<figure class=\"aggregate\"><img src=\"{_src(plot, base)}\" alt=\"{escape(study)}: each claim "
                     f"by configuration\"><figcaption class=\"muted\">Each claim's measured value by configuration: "
                     f"the mean with ± one standard deviation over seeds (blue), each run (grey), the paper's "
                     f"threshold (red dashed line, or the green band of an interval claim).</figcaption></figure>")
    labels = {run.id: label for group, label in zip(groups, group_labels(groups)) for run in group.runs}
    parts += ["<h3>By configuration (mean ± std over seeds)</h3>", _group_table(groups),
              "<h3>Runs</h3>", _run_table(runs, labels, assets, base), "</section>"]
    return "\n".join(parts)


def _stats_cell(stats: ClaimStats | None) -> str:
    if stats is None:
        return "<td>–</td>"
    if stats.n == 0:
        value = "not measured"
    elif stats.n == 1:
        value = f"{_num(stats.mean)} (1 run)"
    else:
        value = f"{_num(stats.mean)} ± {_num(stats.std)} (n = {stats.n})"
    counts = " ".join(f"{_state(s)} {k}" for s, k in stats.state_counts().items())
    return f"<td class=\"num\">{escape(value)}<br>{counts}</td>"


def _group_table(groups: list[Group]) -> str:
    claims = claim_table(groups)
    heads = "".join(f"<th>{escape(claim)}<br><small>{escape(quantity)} {escape(direction)}"
                    f"{'' if direction.startswith('within') else ' ' + escape(f'{threshold:g}')}</small></th>"
                    for claim, quantity, threshold, direction in claims)
    rows = []
    for group, label in zip(groups, group_labels(groups)):
        stats = claims_by_key(group)
        seeds = ", ".join("–" if s is None else str(s) for s in group.seeds)
        rows.append(f"<tr><td>{escape(label)}</td><td>{escape(seeds)}</td>"
                    + "".join(_stats_cell(stats.get((c, q))) for c, q, _, _ in claims) + "</tr>")
    return (f"<div class=\"wide\"><table class=\"groups\"><thead><tr><th>configuration</th><th>seeds</th>{heads}"
            f"</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>")


def _verdict_list(run: RunRecord) -> str:
    if not run.verdicts:
        return "<span class=\"muted\">no verdicts stored</span>"
    items = []
    for v in run.verdicts:
        measured = v.get("measured")
        text = f"{v['quantity']} = {_num(None if measured is None else float(measured))}"
        reason = f" <span class=\"muted\">({escape(v['reason'])})</span>" if v.get("reason") else ""
        items.append(f"<li title=\"{escape(v.get('detail') or '')}\">{_state(v['state'])} "
                     f"<small>{escape(v['claim'])}:</small> {escape(text)}{reason}</li>")
    return "<ul class=\"verdicts\">" + "".join(items) + "</ul>"


def _run_table(runs: list[RunRecord], labels: dict[str, str], assets: Path, base: Path) -> str:
    rows = []
    for run in runs:
        thumb = run_figure(run, assets)
        if thumb.path is not None:
            src = _src(thumb.path, base)
            figure = (f"<a href=\"{src}\"><img class=\"thumb\" src=\"{src}\" alt=\"{escape(run.study)} run "
                      f"{escape(run.id)}\"></a>")
        else:
            figure = f"<span class=\"problem\">{escape(thumb.problem or '')}</span>"
        status = f"<span class=\"status-{escape(run.status)}\">{escape(run.status)}</span>"
        if run.error:
            status += f"<br><span class=\"problem\">{escape(run.error)}</span>"
        rows.append(f"<tr data-run=\"{escape(run.id)}\"><td>{figure}</td><td><code>{escape(run.id[:8])}</code></td>"
                    f"<td>{escape(labels[run.id])}</td><td class=\"num\">{'–' if run.seed is None else run.seed}</td>"
                    f"<td>{status}</td><td>{_verdict_list(run)}</td>"
                    f"<td class=\"num\">{_seconds(run.wall_seconds)}</td></tr>")
    return ("<div class=\"wide\"><table class=\"runs\"><thead><tr><th>figure</th><th>run</th><th>configuration</th>"
            "<th>seed</th><th>status</th><th>verdicts</th><th>wall s</th></tr></thead><tbody>\n" + "\n".join(rows)
            + "\n</tbody></table></div>")
