"""Every numeric option is checked when the command line (or the --config file) is read: exit 2, one line naming the
option and its bound, and no run folder made."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app


def _run(tmp_path, *args: str):
    return CliRunner().invoke(app, ["run", "--out", str(tmp_path / "run"), "--quiet", *args])


def _refused(tmp_path, result, *words: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--pretrain-steps", "-3", ["--pretrain-steps", "at least 1"]),
        ("--pretrain-steps", "0", ["--pretrain-steps", "at least 1"]),
        ("--pretrain-epochs", "0", ["--pretrain-epochs", "at least 1"]),
        ("--steps", "0", ["--steps", "at least 1"]),
        ("--steps", "-5", ["--steps", "at least 1"]),
        ("--epochs", "0", ["--epochs", "at least 1"]),
        ("--seeds", "10001", ["--seeds", "10,000"]),
        ("--seeds", "100000000", ["--seeds", "100,000,000"]),  # refused before a list of 1e8 seeds is made
        ("--seeds", "0", ["--seeds", "between 1 and 10,000"]),
        ("--folds", "1", ["--folds", "between 2 and 100"]),
        ("--folds", "101", ["--folds", "between 2 and 100"]),
        ("--lr", "inf", ["--lr", "finite", "above 0"]),
        ("--lr", "0", ["--lr", "above 0"]),
        ("--pretrain-lr", "nan", ["--pretrain-lr", "finite"]),
        ("--weight-decay", "nan", ["--weight-decay", "finite", ">= 0"]),
        ("--weight-decay", "-0.1", ["--weight-decay", ">= 0"]),
        ("--grad-clip", "-1", ["--grad-clip", ">= 0"]),
        ("--grad-clip", "inf", ["--grad-clip", "finite"]),
        ("--batch-size", "1000001", ["--batch-size", "1,000,000"]),
        ("--pretrain-batch", "1", ["--pretrain-batch", "between 2 and 1,000,000"]),
        ("--chunk", "-1", ["--chunk", "between 0 and 1,000,000"]),
        ("--subsample", "19", ["--subsample", "at least 20"]),
        ("--checkpoint-every", "0", ["--checkpoint-every", "at least 1"]),
        ("--checkpoint-minutes", "nan", ["--checkpoint-minutes", "finite"]),
        ("--checkpoint-minutes", "-1", ["--checkpoint-minutes", ">= 0"]),
        ("--threads", "0", ["--threads", "at least 1"]),
    ],
)
def test_bad_numbers_are_one_line_errors_before_the_run_folder(tmp_path, option, value, words):
    _refused(tmp_path, _run(tmp_path, option, value), *words)


def test_pretrain_epochs_may_be_zero_when_steps_decide(tmp_path):
    from tcrbench.run.config import RunConfig, apply_settings

    cfg = apply_settings(RunConfig(), {"budget": {"pretrain_epochs": 0, "pretrain_steps": 5}}, "test")
    assert cfg.budget.pretrain_steps == 5


@pytest.mark.parametrize(
    "toml, words",
    [
        ("seeds = [-1]\n", ["seeds", "from 0"]),
        ("seeds = [0, 4294967296]\n", ["seeds", "4,294,967,295"]),
        ("folds = 1000\n", ["--folds", "100"]),
        ("[budget]\nmax_loss = 0\n", ["max_loss", "above 0"]),
        ("[budget]\nmax_loss = nan\n", ["max_loss"]),
        ("[budget]\nlr = inf\n", ["--lr", "finite"]),
        ("[budget]\nfinetune_steps = 0\n", ["finetune_steps", "at least 1"]),
        ("max_time = -5.0\n", ["--max-time", "above 0"]),
    ],
)
def test_bad_values_in_a_config_file(tmp_path, toml, words):
    config = tmp_path / "grid.toml"
    config.write_text(toml)
    _refused(tmp_path, _run(tmp_path, "--config", str(config)), *words)
