"""Running sweeps: resumable, interrupted and killed at any moment without losing or faking a run,
with serial, process and Ray executors writing one store."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepscope.cli import main
from deepscope.store import Store
from deepscope.store.sqlite import DB_NAME, INTERRUPTED
from deepscope.sweep import load_sweep
from deepscope.sweep.executors import execute
from deepscope.sweep.jobs import RUN, SKIP, plan


def sleepy_sweep(tmp_path: Path, seconds: float = 0.0, runs: int = 4, rows: int = 10) -> Path:
    path = tmp_path / "sleepy.yaml"
    values = ", ".join(f"{v:.1f}" for v in range(1, runs + 1))
    path.write_text(f"study: sleepy\nbase:\n  seconds: {seconds}\n  rows: {rows}\ngrid:\n  value: [{values}]\n")
    return path


def statuses(out: Path) -> dict[str, str]:
    return dict(Store(out).runs()[["id", "status"]].itertuples(index=False))


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepscope.cli", *argv], capture_output=True, text=True,
                          timeout=300)


def test_serial_sweep_runs_once_and_skips_finished_runs(tmp_path, capsys):
    path, out = sleepy_sweep(tmp_path), tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in first["runs"]] == ["finished"] * 4
    assert first["runs"][0]["verdicts"][0]["state"] == "HOLDS"
    started = Store(out).runs().set_index("id")["started_at"]
    assert main(["sweep", str(path), "--out", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["outcomes"] == [] and [r["note"] for r in again["runs"]] == ["finished"] * 4
    assert Store(out).runs().set_index("id")["started_at"].equals(started)  # nothing reran


def test_dry_run_lists_the_plan_and_runs_nothing(tmp_path, capsys):
    path, out = sleepy_sweep(tmp_path), tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "4 runs, 4 to run" in text and text.count(" new") == 4
    assert Store(out).runs().empty


def test_plan_reruns_interrupted_runs_and_leaves_live_ones(tmp_path):
    sweep = load_sweep(sleepy_sweep(tmp_path))
    store = Store(tmp_path / "out")
    a, b, c, d = (p.job for p in plan(sweep.points, store))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store.start("sleepy", a.settings)                        # running, owner: this (live) process
    store.start("sleepy", b.settings)                        # running, owner: a process that has ended
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(dead.stdout), b.run_id))
    store.start("sleepy", c.settings).fail(INTERRUPTED)      # Ctrl-C
    store.start("sleepy", d.settings).fail("RuntimeError: asked to fail")
    got = {p.job.run_id: (p.action, p.why) for p in plan(sweep.points, store)}
    assert got[a.run_id][0] == SKIP and "running in process" in got[a.run_id][1]
    assert got[b.run_id][0] == RUN and "is gone" in got[b.run_id][1]
    assert got[c.run_id] == (RUN, "interrupted: rerun")
    assert got[d.run_id][0] == SKIP and "--retry-failed" in got[d.run_id][1]
    assert {p.job.run_id: p.action for p in plan(sweep.points, store, retry_failed=True)}[d.run_id] == RUN


def test_failed_runs_are_recorded_and_retried_on_request(tmp_path, capsys):
    path, out = tmp_path / "f.yaml", tmp_path / "out"
    path.write_text("study: sleepy\ngrid:\n  fail: [true, false]\n")
    assert main(["sweep", str(path), "--out", str(out)]) == 1
    assert sorted(statuses(out).values()) == ["failed", "finished"]
    assert "asked to fail" in capsys.readouterr().out
    assert main(["sweep", str(path), "--out", str(out)]) == 0          # kept, not rerun
    assert main(["sweep", str(path), "--out", str(out), "--retry-failed"]) == 1


def test_process_pool_survives_a_killed_worker(tmp_path):
    sweep = load_sweep(sleepy_sweep(tmp_path, seconds=1.5, runs=4, rows=50))
    out = tmp_path / "out"
    jobs = [p.job for p in plan(sweep.points, Store(out))]
    ended, killed = [], []

    def done(job, outcome):
        ended.append(outcome.status)
        if not killed:  # kill the worker of a run that is still going
            for _, row in Store(out).runs().iterrows():
                if row["status"] == "running" and row["pid"] != os.getpid():
                    os.kill(int(row["pid"]), signal.SIGKILL)
                    killed.append(row["id"])
                    break

    execute(jobs, str(out), done, executor="process", workers=2, threads=1)
    assert killed, "no run was in flight to kill"
    runs = Store(out).runs().set_index("id")
    assert set(runs["status"]) == {"finished"} and len(runs) == 4
    assert len(Store(out).metrics(run_id=killed[0])) == 50  # rerun whole, not half-logged
    with sqlite3.connect(Store(out).path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_concurrent_workers_lose_nothing(tmp_path):
    sweep = load_sweep(sleepy_sweep(tmp_path, seconds=0.0, runs=12, rows=3000))
    out = tmp_path / "out"
    execute([p.job for p in plan(sweep.points, Store(out))], str(out), lambda j, o: None, executor="process",
            workers=3, threads=1)
    store = Store(out)
    assert len(store.runs()) == 12 and set(store.runs()["status"]) == {"finished"}
    assert len(store.metrics()) == 12 * 3000


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _store_rows(out: Path):
    return Store(out).runs() if (out / DB_NAME).exists() else None


@pytest.mark.slow
def test_killed_driver_loses_no_finished_run_and_resumes(tmp_path):
    path, out = sleepy_sweep(tmp_path, seconds=1.0, runs=6), tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "deepscope.cli", "sweep", str(path), "--out", str(out),
                               "--executor", "process", "--workers", "2"], stderr=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL)

    def some_finished_some_running():
        rows = _store_rows(out)
        return rows is not None and {"finished", "running"} <= set(rows["status"])

    _wait_for(some_finished_some_running)
    driver.kill()
    driver.wait()
    _wait_for(lambda: all(Store(out).owner_alive(row) is False for _, row in Store(out).runs().iterrows()
                          if row["status"] == "running"), timeout=30)  # the workers died with their driver
    before = Store(out).runs().set_index("id")
    finished = before.index[before["status"] == "finished"]
    assert set(before["status"]) <= {"finished", "running"}
    assert all(len(Store(out).metrics(run_id=rid)) == 10 for rid in finished)
    result = run_cli("sweep", str(path), "--out", str(out), "--executor", "process", "--workers", "2")
    assert result.returncode == 0, result.stderr
    after = Store(out).runs().set_index("id")
    assert len(after) == 6 and set(after["status"]) == {"finished"}
    assert after.loc[finished, "started_at"].equals(before.loc[finished, "started_at"])  # kept, not rerun


@pytest.mark.slow
def test_ctrl_c_marks_the_run_in_flight_interrupted_and_a_rerun_completes_it(tmp_path):
    path, out = sleepy_sweep(tmp_path, seconds=2.0, runs=2), tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "deepscope.cli", "sweep", str(path), "--out", str(out)],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    _wait_for(lambda: (rows := _store_rows(out)) is not None and "running" in set(rows["status"]))
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=60) == 130
    assert "interrupted" in driver.stderr.read()
    rows = Store(out).runs()
    assert "finished" not in set(rows["status"]) and INTERRUPTED in set(rows["error"])
    assert run_cli("sweep", str(path), "--out", str(out)).returncode == 0
    assert set(statuses(out).values()) == {"finished"}


def test_ray_executor_writes_the_same_runs_into_the_store(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'deepscope[ray]')")
    path = tmp_path / "esl.yaml"
    path.write_text("study: esl\npreset: tiny\ngrid:\n  depth: [3, 4]\n")
    serial, on_ray = tmp_path / "serial", tmp_path / "ray"
    assert run_cli("sweep", str(path), "--out", str(serial)).returncode == 0
    result = run_cli("sweep", str(path), "--out", str(on_ray), "--executor", "ray", "--workers", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    a, b = Store(serial), Store(on_ray)
    assert set(b.runs()["status"]) == {"finished"}
    for rid in a.runs()["id"]:
        assert a.results(rid)["summary"]["pearson_r"] == pytest.approx(b.results(rid)["summary"]["pearson_r"])
        assert len(a.metrics(run_id=rid)) == len(b.metrics(run_id=rid))


def test_executor_flags_are_checked(tmp_path, capsys):
    path = sleepy_sweep(tmp_path)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "3"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--address", "auto"]) == 2
    assert "--address" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sweep", str(path), "--workers", "0"])


def test_runs_shows_a_run_whose_process_is_gone_as_interrupted(tmp_path, capsys):
    store = Store(tmp_path)
    live = store.start("sleepy", {"value": 1.0, "seed": 0})
    gone = store.start("sleepy", {"value": 2.0, "seed": 0})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(dead.stdout), gone.id))
    assert main(["runs", "--out", str(tmp_path)]) == 0
    lines = {line[:8]: line for line in capsys.readouterr().out.splitlines()}
    assert " running " in lines[live.id[:8]] and " interrupted " in lines[gone.id[:8]]
