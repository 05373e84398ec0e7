"""Real parallel backends on a real grid: a 2-worker loopback Dask LocalCluster and the 2-process pool give the
serial run's rows exactly, a re-run computes nothing, and a worker killed mid-cell costs nothing.

Each test starts real worker processes (torch imported in each), hence slow; one thread per worker."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

NO_DASK = importlib.util.find_spec("distributed") is None
BACKENDS = [
    pytest.param("processes", id="processes"),
    pytest.param("dask", id="dask", marks=pytest.mark.skipif(
        NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")),
]


def test_two_processes_give_the_serial_rows_and_a_rerun_computes_nothing(tmp_path, kit, serial_rows):
    backend = "processes"
    out = tmp_path / "run"
    summary = kit.run(kit.config(), out, backend)
    assert summary.computed == 12 and not summary.failed
    assert kit.rows(out) == serial_rows

    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted(m["row_key"] for m in metrics) == sorted(serial_rows)  # the driver logged each row once

    again = kit.run(kit.config(), out, backend)
    assert (again.computed, again.skipped) == (0, 12)
    assert kit.rows(out) == serial_rows


@pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")
def test_a_two_worker_local_cluster_from_the_cli_gives_the_serial_rows(tmp_path, kit, serial_rows):
    """`tcrbench run --executor dask --workers 2 --track tensorboard`, with the small grid's exact settings."""
    out = tmp_path / "run"
    args = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--aug", "mask1",
            "--objective", "ntxent", "--folds", "2", "--pretrain-steps", "3", "--pretrain-batch", "32",
            "--steps", "3", "--batch-size", "32", "--baseline", "majority", "--baseline", "peptide_only",
            "--encoder", "transformer:size=tiny",
            "--threads", "1", "--quiet", "--executor", "dask", "--workers", "2", "--out", str(out)]
    if importlib.util.find_spec("tensorboard") is not None:
        args += ["--track", "tensorboard"]
    code = "import sys; from tcrbench.cli.main import main; main(sys.argv[1:])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_")}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert kit.rows(out) == serial_rows
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted(m["row_key"] for m in metrics) == sorted(serial_rows)
    if "--track" in args:
        assert json.loads((out / "trackers.json").read_text())["trackers"] == ["tensorboard"]
        assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    again = kit.run(kit.config(), out, "dask")  # nothing missing: no cluster is even started
    assert (again.computed, again.skipped) == (0, 12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_mid_cell_is_replaced_and_nothing_is_lost_or_duplicated(backend, tmp_path, kit, killer):
    killer.marker.unlink(missing_ok=True)
    summary = kit.run(killer.cfg, tmp_path / "run", backend, plugins_dir=kit.plugins_dir)
    assert killer.marker.exists()  # a worker did die mid-pretraining
    assert not summary.failed and summary.computed == 12
    assert kit.rows(tmp_path / "run") == killer.rows
    log = (tmp_path / "run" / "run.log").read_text()
    # cells run longest first, so both workers may start a killing cell before the first death leaves its marker:
    # one or two deaths, each retried once, and still every row exactly once
    assert log.count("worker died computing") in (1, 2) and "retry 1 of 2" in log and "retry 2 of 2" not in log
    keys = [json.loads(line)["row_key"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sorted(keys) == sorted(killer.rows)  # each row delivered exactly once


def test_a_cell_that_keeps_killing_workers_becomes_failed_rows_and_the_grid_goes_on(tmp_path, kit):
    cfg = kit.config(augs=[f"die_once:marker={tmp_path / 'm'},always=true"], baselines=["majority"])
    summary = kit.run(cfg, tmp_path / "run", "processes", plugins_dir=kit.plugins_dir, max_retries=0)
    failed = {(r["arm"], r["fold"], r["protocol"]) for r in summary.failed}
    assert failed == {("pretrained", f, p) for f in (0, 1) for p in ("finetune", "probe")}
    assert {r["reason"] for r in summary.failed} == {
        "its worker process died 1 times (killed, out of memory or crashed)"}
    ok = [r for r in summary.rows if r["status"] == "ok"]
    assert {(r["arm"], r["fold"]) for r in ok} == {(a, f) for a in ("baseline", "supervised") for f in (0, 1)}
    stored = json.loads(next((tmp_path / "run" / "rows").glob("die-once*-f0-probe.json")).read_text())
    assert stored["status"] == "failed" and stored["reason"] == summary.failed[0]["reason"]


def test_max_time_stops_the_workers_cleanly_and_the_same_command_finishes_the_grid(tmp_path, kit, serial_rows):
    import dataclasses

    from tcrbench.run.config import RunConfig

    if "max_time" not in {f.name for f in dataclasses.fields(RunConfig)}:
        pytest.skip("this tcrbench has no --max-time")
    out = tmp_path / "run"
    from tcrbench.training.checkpoint import StoppedForTime

    with pytest.raises(StoppedForTime) as stop:  # each worker stops before its second encoder cell
        kit.run(kit.config(max_time=0.001), out, "processes")
    assert stop.value.code == 3 and "--max-time" in str(stop.value)
    partial = kit.rows(out)  # encoder cells run first (longest first), so the stop may come before any row
    assert len(partial) < 12 and all(r["status"] == "ok" for r in partial.values())  # stopped, not failed
    assert not (out / "rows").exists() or not any(p.suffix == ".tmp" for p in (out / "rows").iterdir())
    again = kit.run(kit.config(), out, "serial")  # any backend resumes any other's run
    assert again.computed == 12 - len(partial) and not again.failed
    assert kit.rows(out) == serial_rows
