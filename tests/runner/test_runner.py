"""The runner's promises: no leakage, fresh models per fold, exact resume, reproducibility, failures isolated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.plugins.protocols import ObjectiveOutput
from tcrbench.results.schema import comparable
from tcrbench.run.runner import Runner
from tcrbench.testing import plugin_module, temporary_plugins


def rows_by_key(path: Path) -> dict[str, dict]:
    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((path / "rows").glob("*.json"))}


def test_grid_has_every_arm_and_protocol(tmp_path, tiny):
    with temporary_plugins() as plugins:
        summary = Runner(tiny(), plugins, out=tmp_path / "run", quiet=True).run()
    assert not summary.failed
    seen = {(r["arm"], r["label"], r["protocol"]) for r in summary.rows}
    assert ("baseline", "majority", "baseline") in seen
    assert ("supervised", "supervised · transformer:size=tiny", "finetune") in seen
    assert ("pretrained", "mask1 × ntxent · transformer:size=tiny", "probe") in seen
    # 2 baselines + supervised x 2 protocols + pretrained x 2 protocols, over 2 folds
    assert len(summary.rows) == 2 * (2 + 2 + 2)
    assert all(r["n_train"] + r["n_test"] == 240 for r in summary.rows)
    pre = [r for r in summary.rows if r["arm"] == "pretrained"]
    assert all(r["pretrain_loss"] is not None and r["pretrain_losses"] for r in pre)
    assert (tmp_path / "run" / "config.toml").read_text().count("ntxent") == 1
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["versions"]["torch"] == torch.__version__ and env["data"]["rows"] == 240


def test_pretraining_never_sees_test_only_sequences(tmp_path, tiny):
    seen: dict[tuple[int, int], set] = {}

    def observe(cell, batch):
        decoded = Tokenizer().decode(batch.tokens)
        seen.setdefault((cell.seed, cell.fold_index), set()).update((p, b) for p, b, *_ in decoded)

    with temporary_plugins() as plugins:
        runner = Runner(tiny(), plugins, out=tmp_path / "run", quiet=True, observe_pretrain_batch=observe)
        runner.run()
        cells, _, _ = runner.cells()
        frame = runner.data.frame
    pairs = list(zip(frame["peptide"].to_list(), frame["cdr3b"].to_list()))
    checked = 0
    for cell in cells:
        if cell.conf.arm != "pretrained":
            continue
        train = {pairs[i] for i in cell.fold.train}
        test_only = {pairs[i] for i in cell.fold.test} - train
        assert test_only, "the fold must have test-only pairs for this test to mean anything"
        assert not (seen[(cell.seed, cell.fold_index)] & test_only)
        checked += 1
    assert checked == 2

    # the transductive protocol does see them: the check above can fail
    seen.clear()
    with temporary_plugins() as plugins:
        Runner(tiny(pretrain_on="all"), plugins, out=tmp_path / "all", quiet=True, observe_pretrain_batch=observe).run()
    fold0 = next(c for c in cells if c.conf.arm == "pretrained" and c.fold_index == 0)
    leaked = {pairs[i] for i in fold0.fold.test} - {pairs[i] for i in fold0.fold.train}
    assert seen[(0, 0)] & leaked


def test_initial_weights_depend_on_seed_and_fold_only(tmp_path, tiny):
    with temporary_plugins() as plugins:
        runner = Runner(tiny(), plugins, out=tmp_path / "run", quiet=True)
        runner.setup()
        cells, _, _ = runner.cells()
        by = {(c.conf.arm, c.fold_index): runner.initial_encoder(c).state_dict() for c in cells if c.conf.enc_obj}
    a, b = by[("supervised", 0)], by[("pretrained", 0)]
    assert all(torch.equal(a[k], b[k]) for k in a)  # both arms start from the same weights
    c = by[("supervised", 1)]
    assert any(not torch.equal(a[k], c[k]) for k in a)  # another fold, another draw


def test_a_fold_gives_the_same_result_without_the_folds_before_it(tmp_path, tiny):
    with temporary_plugins() as plugins:
        Runner(tiny(), plugins, out=tmp_path / "run", quiet=True).run()
    full = rows_by_key(tmp_path / "run")
    for p in list((tmp_path / "run" / "rows").glob("*-f1-*.json")) + list((tmp_path / "run" / "cache").glob("*-f1.*")):
        p.unlink()
    with temporary_plugins() as plugins:
        summary = Runner(tiny(), plugins, out=tmp_path / "run", quiet=True).run()
    assert summary.computed == 6 and summary.skipped == 6  # only fold 1 recomputed, fold 0 did not run first
    assert rows_by_key(tmp_path / "run") == full


def test_same_command_same_numbers(tmp_path, tiny):
    for name in ("a", "b"):
        with temporary_plugins() as plugins:
            Runner(tiny(), plugins, out=tmp_path / name, quiet=True).run()
    a, b = rows_by_key(tmp_path / "a"), rows_by_key(tmp_path / "b")
    assert a == b and len(a) == 12


def test_a_different_configuration_refuses_the_folder(tmp_path, tiny):
    from tcrbench.errors import UsageError

    with temporary_plugins() as plugins:
        Runner(tiny(), plugins, out=tmp_path / "run", quiet=True).run()
        with pytest.raises(UsageError, match="holds a run of another configuration"):
            Runner(tiny(folds=3), plugins, out=tmp_path / "run", quiet=True).run()


@dataclass
class ExplodingObjective:
    name: ClassVar[str] = "explode"
    description: ClassVar[str] = "a loss that turns NaN, to test failure handling"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = True

    def build(self, encoder):
        class Head(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.ones(1))

            def forward(self, encoder, batch, augmentation, generator):
                hidden = encoder(batch.tokens)
                return ObjectiveOutput(hidden.sum() * self.w * float("nan"))

        return Head()


def test_nan_loss_fails_the_cell_and_the_grid_goes_on(tmp_path, tiny):
    module = plugin_module("exploding", objectives=[ExplodingObjective])
    with temporary_plugins(module) as plugins:
        summary = Runner(tiny(objectives=["explode", "ntxent"]), plugins, out=tmp_path / "run", quiet=True).run()
    failed = {(r["objective"], r["protocol"]) for r in summary.failed}
    assert failed == {("explode", "finetune"), ("explode", "probe")}
    assert all("loss is NaN at step 1" in r["reason"] for r in summary.failed)
    ok = [r for r in summary.rows if r["status"] == "ok"]
    assert {r["objective"] for r in ok if r["arm"] == "pretrained"} == {"ntxent"}
    assert len(ok) == 2 * 6


def _run_cli(out: Path, extra: list[str] = ()) -> subprocess.Popen:
    args = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--aug", "mask1",
            "--objective", "ntxent", "--folds", "3", "--pretrain-steps", "4", "--pretrain-batch", "32",
            "--steps", "4", "--batch-size", "32", "--baseline", "majority", "--threads", "1", "--quiet",
            "--out", str(out), *extra]
    code = "import sys; from tcrbench.cli.main import main; main(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_")})


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path):
    reference = _run_cli(tmp_path / "ref")
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err
    expected = rows_by_key(tmp_path / "ref")
    assert len(expected) == 3 * 5

    victim = _run_cli(tmp_path / "killed")
    rows_dir = tmp_path / "killed" / "rows"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(rows_dir.glob("*.json"))) < 4:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    partial = len(list(rows_dir.glob("*.json")))
    assert 4 <= partial < 15, "the kill must land part-way"
    again = _run_cli(tmp_path / "killed")
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert rows_by_key(tmp_path / "killed") == expected
    assert not list((tmp_path / "killed").rglob("*.tmp"))


@pytest.mark.slow
def test_cli_prints_board_and_exit_code(tmp_path):
    proc = _run_cli(tmp_path / "run", ["--folds", "2"])
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "majority" in out and "run folder" in out


@pytest.mark.slow
@pytest.mark.realdata
def test_course_data_tcr_only_shortcut_is_detected(tmp_path, tiny, shared_data):
    """No TCR of the course table is both a binder and a non-binder: a peptide-blind model beats chance."""
    cfg = tiny(data=str(shared_data / "tcrclassifier_pairs.csv"), subsample=4000, folds=3,
               split="random:stratify=label_peptide",  # per-peptide rates then carry no fold artefact
               baselines=["tcr_only", "peptide_only"], protocols=["probe"])
    with temporary_plugins() as plugins:
        summary = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run()
    auroc = {}
    for r in summary.rows:
        auroc.setdefault(r["label"], []).append(r["metrics"]["auroc"])
    tcr_only = sum(auroc["tcr_only"]) / 3
    assert tcr_only > 0.58, tcr_only
    assert abs(sum(auroc["peptide_only"]) / 3 - 0.5) < 0.05
