"""Same configuration, same numbers, whatever the executor: the default grid (every default baseline, the default
encoder, both protocols; a tiny budget and no --threads) run serially, on a 2-process pool and on a 2-worker Dask
cluster gives the same rows and the same predictions, bit for bit.

Before, a cell's thread count came from the executor (serially torch's default, all cores; on workers the cores
shared among them; on Dask one) and the numbers differed in the third decimal under one config hash (issue 18).
The `threads_seen` baseline makes the test see it on any machine: its scores are the thread counts its cell ran
with (torch's and the BLAS pool's).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest

from tcrbench.results.schema import comparable
from tcrbench.run.config import Budget, RunConfig
from tcrbench.testing import temporary_plugins

NO_DASK = importlib.util.find_spec("distributed") is None

THREADS_SEEN = '''
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from threadpoolctl import threadpool_info

from tcrbench.plugins.hookspecs import hookimpl


@dataclass
class ThreadsSeen:
    name: ClassVar[str] = "threads_seen"
    description: ClassVar[str] = "scores are the thread counts the cell ran with (tests executors)"
    shortcut: ClassVar[bool] = False

    def fit_predict(self, train, test, seed):
        blas = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=0)
        score = torch.get_num_threads() + 100 * blas
        return np.full(train.height, float(score)), np.full(test.height, float(score))


@hookimpl
def register_baselines(register):
    register(ThreadsSeen)
'''


def default_grid() -> RunConfig:
    """The default configuration with a budget that runs in seconds, and the thread-count probe beside it."""
    from tcrbench.run.grid import default_baselines

    with pytest.MonkeyPatch.context() as env:
        env.delenv("TCRBENCH_PLUGINS_DIR", raising=False)  # the built-ins' defaults, whatever a test left behind
        with temporary_plugins() as plugins:
            baselines = default_baselines(plugins.registry)
    budget = Budget(pretrain_steps=2, pretrain_batch=32, finetune_steps=2, batch_size=32)
    return RunConfig(dataset="synthetic:n_peptides=3,n_positives_per_peptide=20", folds=2, budget=budget,
                     baselines=[*baselines, "threads_seen"])


def run(out: Path, backend: str, plugins_dir: Path):
    from tcrbench.executors.select import build_executor
    from tcrbench.run.runner import Runner

    with temporary_plugins(plugins_dir=plugins_dir) as plugins:
        executor = build_executor(backend, workers=None if backend == "serial" else 2)
        return Runner(default_grid(), plugins, out=out, quiet=True).run(executor)


def numbers(out: Path) -> dict[str, object]:
    """Every row without its timings, and every prediction file's scores."""
    rows = {p.stem: comparable(json.loads(p.read_text())) for p in sorted((out / "rows").glob("*.json"))}
    preds = {p.stem: pl.read_parquet(p).to_dict(as_series=False) for p in sorted((out / "predictions").glob("*"))}
    return {"rows": rows, "predictions": preds}


@pytest.fixture(scope="module")
def plugins_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "threads_seen.py").write_text(THREADS_SEEN)
    return folder


@pytest.fixture(scope="module")
def serial(tmp_path_factory, plugins_dir) -> dict[str, object]:
    out = tmp_path_factory.mktemp("serial") / "run"
    summary = run(out, "serial", plugins_dir)
    assert not summary.failed and summary.computed == len(summary.rows) > 20
    return numbers(out)


def test_the_serial_run_records_and_uses_the_configurations_thread_count(serial):
    rows = serial["rows"]
    assert {r["versions"]["torch_threads"] for r in rows.values()} == {"1"}  # each row records it
    probe = [k for k in serial["predictions"] if k.startswith("threads-seen")]
    assert probe and all(set(serial["predictions"][k]["score"]) == {101.0} for k in probe)  # 1 torch, 1 BLAS
    arms = {r["arm"] for r in rows.values()}
    assert arms == {"pretrained", "supervised", "baseline"}


@pytest.mark.slow
def test_a_process_pool_gives_the_serial_numbers(serial, tmp_path, plugins_dir):
    run(tmp_path / "run", "processes", plugins_dir)
    assert numbers(tmp_path / "run") == serial


@pytest.mark.slow
@pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")
def test_a_dask_cluster_gives_the_serial_numbers(serial, tmp_path, plugins_dir):
    run(tmp_path / "run", "dask", plugins_dir)
    assert numbers(tmp_path / "run") == serial


def test_the_thread_count_enters_the_config_hash_only_when_it_is_not_one():
    """Runs with 1 thread (or none given) keep the hash they always had; other counts give other numbers."""
    base = RunConfig().config_hash("data")
    assert RunConfig(threads=1).config_hash("data") == base
    assert RunConfig(threads=2).config_hash("data") != base
    assert RunConfig(threads=2).cell_threads() == 2 and RunConfig().cell_threads() == 1
