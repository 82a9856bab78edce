"""The published references drawn on the study figures the report shows: ESL's fitted line and r, the
edge of stability's 2/η lines, neural collapse's targets, and each claim's threshold on the aggregate plot."""
import numpy as np
import pytest

from deepscope.report import claims_plot, figures
from deepscope.report.aggregate import Group, RunRecord
from deepscope.studies import collapse, eos, esl


@pytest.fixture
def drawn(monkeypatch):
    """The figures the code under test saves, kept open for inspection instead of written."""
    kept = []

    def keep(fig, path, dpi=110):
        kept.append(fig)
        return path

    for module in (figures, eos, collapse, claims_plot):
        monkeypatch.setattr(module, "save_figure", keep)
    yield kept
    for fig in kept:
        figures.plt.close(fig)


def flat_lines(ax):
    """The y of every horizontal line on ``ax``."""
    return [float(np.asarray(line.get_ydata())[0]) for line in ax.get_lines()
            if len(set(np.asarray(line.get_ydata(), dtype=float))) == 1 and len(line.get_ydata()) == 2]


def has_line(ax, y):
    return any(v == pytest.approx(y) for v in flat_lines(ax))


def legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_esl_draws_the_fitted_line_with_r(drawn, tmp_path):
    config = esl.STUDY.configure(esl.STUDY.preset("tiny"))
    log_d = [2.0, 1.5, 1.0, 0.55]
    slope, intercept = np.polyfit(range(4), log_d, 1)
    r = float(np.corrcoef(range(4), log_d)[0, 1])
    result = esl.from_summary(config, {"layers": ["input", "h1", "h2", "h3"], "log_d": log_d, "slope": slope,
                                       "intercept": intercept, "ratio": np.exp(slope), "pearson_r": r, "r2": r * r,
                                       "nc": {}, "epochs_run": 5, "iterations": 30, "final_train_loss": 0.1,
                                       "train_seconds": 1.0, "diverged": False}, "abc")
    esl.figure(result, tmp_path / "esl.png")
    (ax,) = drawn[0].axes
    fit = next(line for line in ax.get_lines() if line.get_linestyle() == "-")
    assert np.allclose(fit.get_ydata(), intercept + slope * np.arange(4))
    assert f"fit: r = {r:.3g}, ρ = {np.exp(slope):.3g}" in legend(ax)


def test_eos_draws_two_over_eta_for_each_learning_rate(drawn, tmp_path):
    config = eos.STUDY.configure(eos.STUDY.preset("tiny"))
    runs = [eos.Trajectory(lr, 2 / lr, [1.0, 0.5, 0.4], [0.1, 0.5, 0.6], [0, 1, 2], [1.0, 2.0, 3.0])
            for lr in (0.5, 0.05)]
    eos.figure(eos.EOSResult(config, runs), tmp_path / "eos.png")
    sharpness = drawn[0].axes[0]
    assert sorted(flat_lines(sharpness)) == pytest.approx([4.0, 40.0])


def test_collapse_draws_the_claims_targets(drawn, tmp_path):
    config = collapse.STUDY.configure(collapse.STUDY.preset("tiny"))
    nc = {"nc1": 0.8, "nc2_etf_distance": 0.4, "nc2_equinorm": 0.1, "nc2_equiangular": 0.1, "nc2_maxangle": 0.2,
          "nc3": 0.6, "nc4": 0.05}
    checkpoints = [collapse.Checkpoint(e, acc, 0.9, {k: v / (e + 1) for k, v in nc.items()}, [])
                   for e, acc in ((0, 0.5), (1, 1.0), (2, 1.0), (3, 1.0))]
    collapse.figure(collapse.CollapseResult(config, checkpoints, last_layer="hidden2"), tmp_path / "nc.png")
    nc1, nc2, nc3, nc4, _ = drawn[0].axes
    start = checkpoints[1].nc                                     # the first checkpoint at zero training error
    assert has_line(nc1, collapse.NC1_FALL * start["nc1"])
    assert has_line(nc2, collapse.APPROACH * start["nc2_etf_distance"])
    assert has_line(nc3, collapse.APPROACH * start["nc3"])
    assert has_line(nc4, collapse.NC4_END)
    assert "simplex ETF" in nc2.get_title() and "nc2_maxangle" in legend(nc2)


def record(seed, measured, direction="<=", threshold=-0.99):
    verdict = {"claim": "law", "quantity": "r", "measured": measured, "threshold": threshold,
               "direction": direction, "holds": True, "detail": "", "reason": None, "state": "HOLDS"}
    return RunRecord(f"run{seed}", "esl", "finished", seed, {"seed": seed}, None, 1.0, (verdict,), {})


def test_the_aggregate_plot_has_the_error_bar_and_the_threshold(drawn, tmp_path):
    group = Group("esl", {}, (record(0, -0.995), record(1, -0.985)))
    claims_plot.plot_claims([group], tmp_path / "claims.png")
    (ax,) = [a for a in drawn[0].axes if a.get_visible() and a.has_data()]
    assert has_line(ax, -0.99)
    bar = ax.containers[0]                                        # the errorbar: mean, and ± std as its bar
    (mean,) = bar.lines[0].get_ydata()
    low, high = bar.lines[2][0].get_segments()[0][:, 1]
    assert mean == pytest.approx(-0.99) and high - mean == pytest.approx(np.std([-0.995, -0.985], ddof=1))
    assert low == pytest.approx(mean - (high - mean))


def test_an_interval_claim_is_drawn_as_its_band(drawn, tmp_path):
    group = Group("lazy", {}, (record(0, -0.5, "within [-0.75, -0.25]", -0.5),))
    claims_plot.plot_claims([group], tmp_path / "claims.png")
    (ax,) = [a for a in drawn[0].axes if a.get_visible() and a.has_data()]
    (band,) = ax.patches
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((-0.75, -0.25))
