"""A worker's death is charged to the cell that was running on it, exactly once, on both parallel backends.

A short grid is not queued on Dask's scheduler: every task is handed out at once, so a worker holds the cell it
runs and one waiting behind it. Before, a death failed both (issue 18: with --max-retries 0 two cells failed for
one kill). The killer augmentation (tests/scale/plugins/killer.py) SIGKILLs its process once, mid-pretraining.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tcrbench.executors import CellTask
from tcrbench.testing import temporary_plugins, tiny_config

PLUGINS = Path(__file__).resolve().parent / "scale" / "plugins"
NO_DASK = importlib.util.find_spec("distributed") is None
REASON = "its worker process died 1 times (killed, out of memory or crashed)"


@pytest.mark.slow
@pytest.mark.parametrize("backend", [
    "processes",
    pytest.param("dask", marks=pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")),
])
def test_one_death_with_no_retries_fails_exactly_the_cell_that_was_running(backend, tmp_path):
    from tcrbench.executors.select import build_executor
    from tcrbench.run.runner import Runner

    marker = tmp_path / "killed"
    # 4 cells on 2 workers: the pretrained cell of each fold (the killer runs in its pretraining) and the supervised
    cfg = tiny_config(augs=[f"die_once:marker={marker}"], baselines=[], protocols=["probe"])
    with temporary_plugins(plugins_dir=PLUGINS) as plugins:
        executor = build_executor(backend, workers=2, max_retries=0)
        summary = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run(executor)
    assert marker.exists()  # a worker did die
    assert len(summary.rows) == 4 and summary.computed == 4
    assert [(r["arm"], r["reason"]) for r in summary.failed] == [("pretrained", REASON)]
    assert sum(r["status"] == "ok" for r in summary.rows) == 3
    delivered = [json.loads(line)["row_key"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sorted(delivered) == sorted(r["row_key"] for r in summary.rows)  # each row written once


# ------------------------------------------------------------------------------------ whom Dask charges
@pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")
@pytest.mark.parametrize("started,executing,charged", [
    ({"k1": "w1"}, (), True),                   # it said it started on the dead worker
    ({}, ("k1",), True),                        # the scheduler last saw it executing there
    ({"k2": "w1"}, (), False),                  # another cell was running there: this one only waited
    ({}, ("k2",), False),                       # same, seen by the scheduler's heartbeat
    ({"k2": "w2"}, (), True),                   # the other cell ran elsewhere: nothing says who ran here
    ({}, (), True),                             # nothing known: the death is charged (bounded by --max-retries)
    ({"k2": "w1", "k3": "w1"}, (), False),
])
def test_a_death_is_charged_to_the_running_cell(started, executing, charged):
    from tcrbench.executors.dask_backend import DaskExecutor, _Loop, _Starts

    starts = _Starts()
    for key, worker in started.items():
        starts.record((0.0, {"key": key, "worker": worker}))
    loop = _Loop(DaskExecutor(workers=1), None, {}, starts, None, None, None, None, None)
    killed = SimpleNamespace(last_worker=SimpleNamespace(address="w1", executing={k: 1.0 for k in executing}))
    assert loop.charged("k1", killed) is charged


@pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")
def test_a_cell_that_returned_on_the_dead_worker_does_not_spare_the_next():
    from tcrbench.executors.dask_backend import DaskExecutor, _Loop, _Starts

    starts = _Starts()
    starts.record((0.0, {"key": "k0", "worker": "w1"}))  # ran on w1 earlier and finished
    loop = _Loop(DaskExecutor(workers=1), None, {}, starts, None, None, None, None, None)
    loop.done.add("k0")
    killed = SimpleNamespace(last_worker=SimpleNamespace(address="w1", executing={}))
    assert loop.charged("k1", killed)


@pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")
def test_a_spared_cell_is_submitted_again_without_using_a_retry(caplog):
    from tcrbench.executors.dask_backend import DaskExecutor, _Loop, _Starts

    submitted, lost = [], []
    starts = _Starts()
    starts.record((0.0, {"key": "other", "worker": "w1"}))
    futures = SimpleNamespace(add=lambda f: None)
    loop = _Loop(DaskExecutor(workers=1, max_retries=0), None, {}, starts,
                 lambda task, attempt, spare=0: submitted.append((task.index, attempt, spare)), futures, None,
                 lambda task, reason: lost.append(task.index), None)
    killed = SimpleNamespace(last_worker=SimpleNamespace(address="w1", executing={}))
    loop.died("mine", CellTask(7, ("probe",), "cell 7"), 0, killed)
    assert submitted == [(7, 0, 1)] and not lost  # same attempt: no retry spent
    loop.died("other", CellTask(8, ("probe",), "cell 8"), 0, killed)
    assert lost == [8]  # the cell that was running is charged: --max-retries 0 loses it
