"""Trackers: the always-on metrics log, and W&B, MLflow and TensorBoard writing real files offline that their own
readers read back. The rows fed to them are a real run's, delivered through the plugin hooks as the runner does."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcrbench.errors import UsageError
from tcrbench.testing import temporary_plugins
from tcrbench.trackers import check_available, resolve_trackers, write_selection
from tcrbench.trackers.jsonl import read_metrics
from tcrbench.trackers.records import RunInfo, series


def needs(tracker: str):
    """Skip, saying what to install, where the tracker's optional extra is missing."""
    try:
        check_available(tracker)
    except UsageError as missing:
        return pytest.mark.skip(reason=str(missing))
    return pytest.mark.skipif(False, reason=f"{tracker} is installed")


def _rows(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run / "rows").glob("*.json"))]


def _fresh_run(serial_run: Path, dest: Path) -> Path:
    """A run folder holding the serial run's configuration, as a tracker finds it when cells start arriving."""
    dest.mkdir()
    for name in ("config.toml", "config_hash", "results.jsonl"):
        shutil.copy(serial_run / name, dest / name)
    return dest


def _deliver(run_dir: Path, rows: list[dict], trackers: list[str], finish: bool = True) -> None:
    """What the runner does: select the trackers when the run starts, one hook call per row, then the end."""
    write_selection(run_dir, trackers)
    with temporary_plugins() as plugins:
        for row in rows:
            plugins.hook.cell_finished(row=row, run_dir=run_dir)
        if finish:
            plugins.hook.run_finished(run_dir=run_dir, rows=rows)


def _expected(rows: list[dict], info: RunInfo) -> dict[str, dict[int, float]]:
    """series/metric -> {step: value} for every finite metric of every successful row."""
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["status"] == "ok":
            for m, v in r["metrics"].items():
                if math.isfinite(v):
                    out.setdefault(f"{series(r)}/{m}", {})[info.step(r)] = v
    return out


# ------------------------------------------------------------------------------------ choosing trackers
def test_unknown_and_missing_trackers_are_one_line_errors(monkeypatch):
    with pytest.raises(UsageError, match=r"--track 'mlfow': unknown tracker .*; did you mean 'mlflow'\?"):
        resolve_trackers(["mlfow"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(UsageError) as err:
        resolve_trackers(["mlflow"])
    assert str(err.value) == "--track mlflow needs the mlflow package: pip install 'tcrbench[mlflow]'"


def test_the_cli_checks_trackers_before_any_work(tmp_path):
    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["run", "--track", "tensorbord", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "did you mean 'tensorboard'?" in result.output
    assert not (tmp_path / "r").exists()


def test_selection_is_ordered_deduplicated_and_jsonl_is_implied(tmp_path):
    names = [n for n in ("tensorboard", "wandb") if importlib.util.find_spec(n) is not None]
    assert resolve_trackers(["jsonl", *names, *names]) == names
    write_selection(tmp_path, names)
    assert json.loads((tmp_path / "trackers.json").read_text())["trackers"] == names


# ------------------------------------------------------------------------------------ the metrics log
def test_metrics_log_has_one_strict_json_line_per_cell_and_resume_appends(tmp_path, serial_run):
    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    _deliver(run, rows[:5], [])
    _deliver(run, rows[5:], [])
    text = (run / "metrics.jsonl").read_text()
    lines = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
             for line in text.splitlines()]
    assert [m["row_key"] for m in lines] == [r["row_key"] for r in rows]
    assert len({m["invocation"] for m in lines[:5]}) == 1 and lines[0]["invocation"] != lines[5]["invocation"]
    for m, r in zip(lines, rows):
        assert m["status"] == r["status"] and m["seconds"] == r["seconds"] and m["step"] == r["fold"]
        assert m["metrics"] == {k: (v if math.isfinite(v) else None) for k, v in r["metrics"].items()}
    assert read_metrics(run) == lines


def test_overwrite_starts_the_logs_again_and_a_new_tracker_run(tmp_path, serial_run):
    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    _deliver(run, rows[:3], [])
    before = RunInfo.load(run, "", json.loads((run / "trackers.json").read_text())["generation"]).run_id
    (run / "tensorboard").mkdir()
    write_selection(run, [])  # a resumed run keeps its logs and its tracker run
    assert len(read_metrics(run)) == 3 and (run / "tensorboard").is_dir()
    write_selection(run, [], fresh=True)  # --overwrite: every cell is computed again
    assert read_metrics(run) == [] and not (run / "tensorboard").exists()
    generation = json.loads((run / "trackers.json").read_text())["generation"]
    assert generation == 1 and RunInfo.load(run, "", generation).run_id != before


@needs("mlflow")
def test_a_failing_tracker_is_switched_off_and_the_others_keep_logging(tmp_path, serial_run, monkeypatch, capsys):
    run = _fresh_run(serial_run, tmp_path / "run")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")  # cannot be created
    rows = _rows(serial_run)
    _deliver(run, rows, ["mlflow"])
    err = capsys.readouterr().err
    assert err.count("warning: tracker mlflow could not start") == 1
    assert len(read_metrics(run)) == len(rows)


# ------------------------------------------------------------------------------------ TensorBoard
@needs("tensorboard")
def test_tensorboard_event_files_read_back(tmp_path, serial_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    _deliver(run, rows, ["tensorboard"])
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    expected = _expected(rows, RunInfo.load(run, ""))
    tags = set(events.Tags()["scalars"])
    assert set(expected) <= tags
    for tag, by_step in expected.items():
        got = {e.step: e.value for e in events.Scalars(tag)}
        assert got == pytest.approx(by_step, rel=1e-6)  # event files hold float32
    curves = sorted(t for t in tags if t.startswith("pretrain_loss/"))
    pretrained = [r for r in rows if r["arm"] == "pretrained" and r["protocol"] == "probe"]
    assert len(curves) == len(pretrained) == 2
    for r in pretrained:
        tag = next(t for t in curves if t.endswith(f"-s{r['seed']}-f{r['fold']}"))
        assert [e.value for e in events.Scalars(tag)] == pytest.approx(r["pretrain_losses"], rel=1e-6)


# ------------------------------------------------------------------------------------ MLflow
@pytest.mark.slow
@needs("mlflow")
def test_mlflow_sqlite_store_reads_back_batched_and_resumed(tmp_path, serial_run, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tcrbench.trackers import mlflow_tracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(mlflow_tracker, "FLUSH_SECONDS", 1e9)  # only the batch size or the end flushes
    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    info = RunInfo.load(run, "")
    expected = _expected(rows, info)

    _deliver(run, rows[:6], ["mlflow"], finish=False)
    client = MlflowClient(tracking_uri=f"sqlite:///{run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tcrbench")
    (mlrun,) = client.search_runs([experiment.experiment_id])
    assert mlrun.data.metrics == {}  # six cells are still in the batch, not yet sent
    # a resumed invocation: the interrupted one is flushed first, and the same MLflow run goes on
    _deliver(run, rows[6:], ["mlflow"])

    (mlrun,) = client.search_runs([experiment.experiment_id])
    assert mlrun.info.status == "FINISHED" and mlrun.data.tags["tcrbench.run_id"] == info.run_id
    assert mlrun.data.params["folds"] == "2" and mlrun.data.params["budget.pretrain_steps"] == "3"
    for key, by_step in expected.items():
        history = {m.step: m.value for m in client.get_metric_history(mlrun.info.run_id, key)}
        assert history == by_step  # the SQLite store keeps Python floats exactly
    assert [a.path for a in client.list_artifacts(mlrun.info.run_id)] == ["results.jsonl"]


@pytest.mark.slow
@needs("mlflow")
def test_a_run_that_stops_early_still_flushes_its_batch_at_exit(tmp_path, serial_run):
    from mlflow.tracking import MlflowClient

    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    script = ("import json, sys\nfrom pathlib import Path\n"
              "from tcrbench.testing import temporary_plugins\nfrom tcrbench.trackers import write_selection\n"
              "run, rows = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())\n"
              "write_selection(run, ['mlflow'])\n"
              "with temporary_plugins() as plugins:\n"
              "    for row in rows:\n"
              "        plugins.hook.cell_finished(row=row, run_dir=run)\n"
              "raise SystemExit(3)  # as --max-time stops a run: no run_finished\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCRBENCH_", "MLFLOW_"))}
    proc = subprocess.run([sys.executable, "-c", script, str(run), str(tmp_path / "rows.json")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 3, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{run / 'mlflow.db'}")
    (mlrun,) = client.search_runs([client.get_experiment_by_name("tcrbench").experiment_id])
    assert mlrun.info.status == "KILLED"  # not finished, and every cell it saw is there
    for key, by_step in _expected(rows, RunInfo.load(run, "")).items():
        assert {m.step: m.value for m in client.get_metric_history(mlrun.info.run_id, key)} == by_step


# ------------------------------------------------------------------------------------ Weights & Biases
def read_wandb_records(path: Path) -> list:
    """W&B's offline `.wandb` file: a 7-byte header (':W&B', magic, version), then LevelDB log records
    (crc32c, length, type; in 32 KiB blocks) whose payloads are W&B's own `Record` protocol buffers."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    records, pos, pending = [], 7, b""
    block = 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            break
        payload = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):  # FULL, or LAST of a FIRST/MIDDLE/LAST chain
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


@needs("wandb")
def test_wandb_offline_run_folder_reads_back(tmp_path, serial_run, monkeypatch):
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = _fresh_run(serial_run, tmp_path / "run")
    rows = _rows(serial_run)
    _deliver(run, rows, ["wandb"])

    (log,) = (run / "wandb").glob("offline-run-*/run-*.wandb")
    deadline = time.monotonic() + 60
    while True:  # W&B's writer is a separate process that may still be flushing when finish() returns
        records = read_wandb_records(log)
        kinds = [r.WhichOneof("record_type") for r in records]
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "exit" in kinds  # the run was finished cleanly
    info = RunInfo.load(run, "")
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run_record.run_id == info.run_id and run_record.project == "tcrbench"
    config = {item.key: json.loads(item.value_json) for item in run_record.config.update}
    assert config["folds"] == 2 and config["config_hash"] == info.config_hash

    logged: dict[str, dict[int, float]] = {}
    for r in records:
        if r.WhichOneof("record_type") == "history":
            items = {("/".join(i.nested_key) or i.key): json.loads(i.value_json) for i in r.history.item}
            for key, value in items.items():
                if key.split("/")[-1] in rows[0]["metrics"] and isinstance(value, (int, float)):
                    logged.setdefault(key, {})[items["cell_step"]] = value
    assert logged == _expected(rows, info)  # JSON carries Python floats exactly
    summary = {("/".join(i.nested_key) or i.key): i.value_json for r in records
               if r.WhichOneof("record_type") == "summary" for i in r.summary.update}
    assert json.loads(summary["rows"]) == len(rows) and json.loads(summary["failed"]) == 0


# ------------------------------------------------------------------------------------ lazy imports
@pytest.mark.slow
def test_importing_tcrbench_imports_no_engine_and_no_tracker():
    code = ("import sys, tcrbench, tcrbench.run.runner, tcrbench.cli.main, tcrbench.executors.select, "
            "tcrbench.executors.dask_backend, tcrbench.executors.processes, tcrbench.trackers\n"
            "from tcrbench.plugins.loader import load_plugins; load_plugins()\n"
            "heavy = ('dask', 'distributed', 'wandb', 'mlflow', 'tensorboard', 'torch.utils.tensorboard')\n"
            "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
