"""`deepscope report`: one static page per store, checked as written and as headless Chromium renders it."""
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from deepscope.cli import main
from deepscope.report.html import write_report
from deepscope.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """The parts of the page the tests look at: sections, images, and the text of each run's row."""

    def __init__(self, text):
        super().__init__()
        self.studies, self.images, self.rows, self._row = [], [], {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.studies.append(attrs["data-study"])
        if tag == "img":
            self.images.append(attrs["src"])
            if self._row is not None:
                self.rows[self._row] += f"[img {attrs['src']}]"
        if tag == "tr" and "data-run" in attrs:
            self._row = attrs["data-run"]
            self.rows[self._row] = ""

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._row is not None:
            self.rows[self._row] += data


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Tiny runs of three studies (two seeds of esl), a failed run and one whose summary cannot be restored."""
    out = tmp_path_factory.mktemp("runs")
    for args in (["esl", "--seed", "0"], ["esl", "--seed", "1"], ["eos"], ["collapse"]):
        assert main([*args, "--preset", "tiny", "--out", str(out), "--json"]) == 0
    store = Store(out)
    config = dict(store.runs(study="esl").config[0])
    store.start("esl", {**config, "seed": 2}).fail("RuntimeError: boom")
    broken = store.start("esl", {**config, "seed": 3})
    broken.finish({"summary": {"written": "by an older deepscope"}, "verdicts": []})
    return store


@pytest.fixture(scope="module")
def page(store):
    assert main(["report", "--out", str(store.out_dir)]) == 0
    path = store.out_dir / "report.html"
    return path, Page(path.read_text())


def test_every_study_and_run_is_on_the_page_with_its_images(store, page):
    path, parsed = page
    assert parsed.studies == ["esl", "eos", "collapse"]
    assert set(parsed.rows) == set(store.runs().id)
    assert parsed.images and all((path.parent / src).is_file() for src in parsed.images)
    assert all(src.startswith("report_files/") for src in parsed.images)
    for study in ("esl", "eos", "collapse"):                       # an aggregate plot per study
        assert f"report_files/{study}_claims.png" in parsed.images
    for run in store.runs().itertuples():
        if run.status == "finished" and run.seed != 3:             # each finished run's own figure, drawn again
            assert f"[img report_files/{run.study}_{run.id}.png]" in parsed.rows[run.id]


def test_failed_and_unrestorable_runs_show_why_without_a_figure(store, page):
    _, parsed = page
    runs = store.runs(study="esl").set_index("seed")
    failed, broken = parsed.rows[runs.loc[2, "id"]], parsed.rows[runs.loc[3, "id"]]
    assert "failed" in failed and "RuntimeError: boom" in failed and "no figure: the run is failed" in failed
    assert "figure failed: KeyError" in broken and "[img" not in broken and "[img" not in failed


def test_seeds_of_one_config_give_mean_and_std_of_the_measured_value(store, page):
    path, _ = page
    finished = store.runs(study="esl").set_index("seed").loc[[0, 1], "id"]
    measured = [store.results(rid)["verdicts"][0]["measured"] for rid in finished]
    cell = f"{np.mean(measured):.4g} ± {np.std(measured, ddof=1):.4g} (n = 2)"
    assert cell in path.read_text()
    assert "all runs" in path.read_text()                           # one configuration: seeds 0-3 of esl tiny


def test_a_report_elsewhere_links_its_images_beside_it(store, tmp_path):
    page = write_report(store.out_dir, tmp_path / "site" / "sweep.html")
    assert page == tmp_path / "site" / "sweep.html"
    images = Page(page.read_text()).images
    assert all(src.startswith("sweep_files/") and (page.parent / src).is_file() for src in images)


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/missing"], "no such directory"),
    (["--out", "{tmp}"], "no runs there"),
    (["--out", "{store}", "--html", "{tmp}"], "is a directory"),
])
def test_report_errors_say_what_to_do(store, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, store=store.out_dir) for a in args]
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepscope report: error:") and message in err and err.count("\n") == 1


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium); "
                                             "the page's rendering is not checked")
def test_the_page_renders_in_headless_chromium_with_every_image_loaded(page, tmp_path):
    path, parsed = page
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
                           "--virtual-time-budget=10000", "--dump-dom", Path(path).as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", done.stdout)
    assert body, done.stdout[:2000]
    loaded = dict(re.findall(r'data-images-(loaded|total)="(\d+)"', body.group(1)))
    assert loaded == {"loaded": str(len(parsed.images)), "total": str(len(parsed.images))}
    for study in parsed.studies:
        assert f'data-study="{study}"' in done.stdout
