"""Dynamics rows from the runner: one per (configuration, fold, seed, step), anchored at both ends to the
leaderboard's own rows; --max-time stops that resume to the uninterrupted numbers; damaged snapshots rebuilt."""

from __future__ import annotations

import itertools

import pytest

from tcrbench.report.board import load_board
from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins
from tcrbench.training.checkpoint import CorruptCheckpointWarning, StoppedForTime
from tcrbench.training.pretrain import snapshot_file


def _run(cfg, out):
    with temporary_plugins() as plugins:
        return Runner(cfg, plugins, out=out, quiet=True).run()


def _by(rows, **match):
    return {(r["fold"], r["seed"], r.get("step")): r for r in rows if all(r.get(k) == v for k, v in match.items())}


@pytest.mark.slow
def test_probe_dynamics_rows_for_every_step_fold_and_seed(tmp_path, dyn_config):
    summary = _run(dyn_config(seeds=[0, 1]), tmp_path / "run")
    assert not summary.failed
    dyn = _by(summary.rows, protocol="dynamics-probe")
    assert set(dyn) == set(itertools.product([0, 1], [0, 1], [0, 2, 4]))
    assert len({r["row_key"] for r in dyn.values()}) == 12
    assert all(r["arm"] == "pretrained" and r["status"] == "ok" for r in dyn.values())
    assert all((r["pretrain_loss"] is None) == (r["step"] == 0) for r in dyn.values())
    supervised = _by(summary.rows, arm="supervised", protocol="probe")
    final = _by(summary.rows, arm="pretrained", protocol="probe")
    for fold, seed in itertools.product([0, 1], [0, 1]):
        # step 0 is the very encoder the supervised arm probes; the last step the pretrained arm's
        assert dyn[(fold, seed, 0)]["metrics"] == supervised[(fold, seed, None)]["metrics"]
        assert dyn[(fold, seed, 4)]["metrics"] == final[(fold, seed, None)]["metrics"]
        assert dyn[(fold, seed, 4)]["threshold"] == final[(fold, seed, None)]["threshold"]

    board = load_board(tmp_path / "run")
    assert {r.protocol for r in board.rows} == {"probe"} and len(board.rows) == 2  # no checkpoint is a configuration
    assert board.meta.n_rows == 8
    (curve,) = board.dynamics.curves
    assert [p.step for p in curve.points] == [0, 2, 4] and all(p.n_cells == 4 for p in curve.points)
    assert curve.point(0).gain == 0.0 and curve.reference.startswith("supervised")


@pytest.mark.slow
def test_finetune_dynamics_on_a_log_schedule(tmp_path, dyn_config):
    summary = _run(dyn_config(eval_every="log:3", dynamics_protocol="finetune", protocols=["finetune"]), tmp_path / "r")
    assert not summary.failed
    dyn = _by(summary.rows, protocol="dynamics-finetune")
    assert set(dyn) == set(itertools.product([0, 1], [0], [0, 1, 2, 4]))
    supervised = _by(summary.rows, arm="supervised", protocol="finetune")
    final = _by(summary.rows, arm="pretrained", protocol="finetune")
    for fold in (0, 1):
        assert dyn[(fold, 0, 0)]["metrics"] == supervised[(fold, 0, None)]["metrics"]
        assert dyn[(fold, 0, 4)]["metrics"] == final[(fold, 0, None)]["metrics"]


@pytest.mark.slow
def test_max_time_stops_cleanly_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path, dyn_config, read_rows):
    _run(dyn_config(), tmp_path / "ref")
    expected = read_rows(tmp_path / "ref")
    stops, messages = 0, []
    while True:  # 1 microsecond: every run does one unit of work (a step, an evaluation, a cell) and stops
        try:
            summary = _run(dyn_config(max_time=1e-6, checkpoint_minutes=0.0), tmp_path / "cut")
            break
        except StoppedForTime as stop:  # an ordinary exception; `tcrbench run` maps it to exit status 3
            assert stop.code == 3
            messages.append(str(stop))
            stops += 1
            assert stops < 40, "each stopped run must make progress"
    assert stops >= 4 + 3  # at least every pretraining step of one cell and each of its evaluations
    assert not summary.failed
    assert read_rows(tmp_path / "cut") == expected
    assert not list((tmp_path / "cut").rglob("*.tmp"))
    assert all("stopped for --max-time" in m for m in messages)  # the command prints it (test_dynamics_kill)
    assert "stopped for --max-time" in (tmp_path / "cut" / "run.log").read_text()


@pytest.mark.slow
def test_a_damaged_snapshot_is_rebuilt_with_the_same_numbers(tmp_path, dyn_config, read_rows):
    run = tmp_path / "run"
    _run(dyn_config(), run)
    expected = read_rows(run)
    cell = next(p.stem for p in (run / "rows").glob("*-f1-dynamics-probe-step2.json")).rsplit("-dynamics", 1)[0]
    for p in (run / "rows").glob(f"{cell}-*.json"):  # the cell's rows were never written ...
        p.unlink()
    cache = next((run / "cache" / "dynamics").glob("*-f1"))
    for p in cache.glob("probe-step-*.json"):  # ... nor its evaluations; and a snapshot was damaged
        p.unlink()
    snap = snapshot_file(cache, 2)
    snap.write_bytes(snap.read_bytes()[:-64])
    with pytest.warns(CorruptCheckpointWarning, match="step-0000002.snap"):
        summary = _run(dyn_config(), run)
    assert summary.computed == 4  # three dynamics rows and the probe row of that one cell
    assert read_rows(run) == expected
