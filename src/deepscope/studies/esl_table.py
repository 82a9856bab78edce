"""The ten configurations behind the seed README's results table (seeds.md §1.5), run as one sweep.

Hidden width equals data_size² in every row, as in the seed (there it was forced; here it is
only the setting). Rows whose data is not available offline (full MNIST 10k, Fashion-MNIST,
CIFAR-10) are reported with the reason and run when ``root`` points at the files.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from deepscope.errors import DeepscopeError
from deepscope.store import Store
from deepscope.studies import esl as study


@dataclass(frozen=True)
class TableRow:
    """One configuration of the seed table: the README figure it made and the r it reported."""

    figure: str
    config: study.ESLConfig
    reference_r: float

    @property
    def label(self) -> str:
        c = self.config
        return (f"fig {self.figure}: {c.dataset} {c.data_length} ({c.data_size}x{c.data_size}), {c.opt} {c.lr:g}, "
                f"bs {c.batch_size}, depth {c.depth}, width {c.hidden_dim}, p {c.p:g}")


def _row(figure: str, reference_r: float, **settings) -> TableRow:
    return TableRow(figure, study.ESLConfig(**{"p": 0.0, "num_epochs": 1000, **settings}), reference_r)


SEED_TABLE: tuple[TableRow, ...] = (
    _row("0", -0.999, dataset="mnist", data_length=1000, batch_size=50, num_epochs=100),
    _row("1", -1.0, dataset="mnist", data_length=10000, lr=3e-4),
    _row("2", -0.999, dataset="mnist", data_length=1000, opt="sgd", lr=1e-2, p=0.1),
    _row("4", -1.0, dataset="fashion-mnist", depth=3, p=0.05),
    _row("5", -1.0, dataset="fashion-mnist", depth=12, lr=5e-4),
    _row("6", -0.998, dataset="fashion-mnist", data_length=100, p=0.1),
    _row("7", -1.0, dataset="fashion-mnist", data_size=30, hidden_dim=900, lr=1e-4, stop_loss=1e-4),
    _row("8", -0.997, dataset="fakedata", batch_size=50, num_epochs=100),
    _row("9", -0.999, dataset="fakedata", data_size=40, hidden_dim=1600, batch_size=50, num_epochs=100, p=0.1),
    _row("12", -0.997, dataset="cifar10"),
)


@dataclass
class TableEntry:
    """A row's outcome: a result, or the reason it could not run."""

    row: TableRow
    result: study.ESLResult | None
    unavailable: str = ""


def run_table(rows: tuple[TableRow, ...] = SEED_TABLE, *, root: str | None = None, seed: int = 0,
              device: str = "cpu", store: Store | None = None, force: bool = False,
              progress: bool | None = None) -> list[TableEntry]:
    """Run every row whose data can be loaded; report the others with the loader's reason."""
    entries = []
    for row in rows:
        config = dataclasses.replace(row.config, root=root, seed=seed, device=device)
        try:
            study.load_data(config)
        except DeepscopeError as exc:
            entries.append(TableEntry(row, None, str(exc)))
            continue
        entries.append(TableEntry(row, study.run(config, store, force=force, progress=progress)))
    return entries


def markdown(entries: list[TableEntry]) -> str:
    """The table: configuration, epochs run, final loss, r (and the seed's r), ρ, verdict."""
    lines = ["| config | epochs run | final train loss | r | seed's r | ρ | law holds |",
             "|---|---|---|---|---|---|---|"]
    for e in entries:
        if e.result is None:
            reason = e.unavailable.splitlines()[0] if e.unavailable else "unavailable"
            lines.append(f"| {e.row.label} | – | – | – | {e.row.reference_r:g} | – | not run: {reason} |")
            continue
        r = e.result
        holds = "diverged" if r.diverged else {"HOLDS": "yes", "FAILS": "no"}.get(study.verdict(r).state, "undecided")
        lines.append(f"| {e.row.label} | {r.epochs_run} | {r.final_train_loss:.2e} | {r.pearson_r:.4f} | "
                     f"{e.row.reference_r:g} | {r.ratio:.3f} | {holds} |")
    return "\n".join(lines) + "\n"


def grid_figure(entries: list[TableEntry], path: str | Path) -> Path:
    """One panel per row: log D per layer and the fit, or the reason the row did not run."""
    from deepscope.report.figures import draw_separation, plt, save_figure
    cols = 5
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax, e in zip(axes.flat, entries):
        title = f"fig {e.row.figure}: {e.row.config.dataset} {e.row.config.data_length}"
        if e.result is None or e.result.diverged:
            ax.text(0.5, 0.5, "not run\n(data not available offline)" if e.result is None else "diverged",
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
            continue
        draw_separation(ax, e.result.log_d, e.result.slope, e.result.intercept, e.result.pearson_r, title)
    for ax in list(axes.flat)[len(entries):]:
        ax.set_axis_off()
    return save_figure(fig, path, dpi=100)


def main(config: study.ESLConfig, out: Path, store: Store, force: bool, as_json: bool) -> int:
    """``deepscope esl --table``: run the table with ``config``'s root, seed and device; print and save it."""
    from deepscope.report.plain import finite
    entries = run_table(root=config.root, seed=config.seed, device=config.device, store=store, force=force,
                        progress=False if as_json else None)
    table_path = out / "esl_table.md"
    table_path.write_text(markdown(entries))
    figure_path = grid_figure(entries, out / "esl_table.png")
    if as_json:
        print(json.dumps(finite([{"figure": e.row.figure, "unavailable": e.unavailable or None,
                                  **(e.result.summary() if e.result else {})} for e in entries])))
    else:
        print(markdown(entries))
        print(f"table: {table_path}\nfigure: {figure_path}")
    return 0
