"""`pairs`: chosen (augmentation, objective) pairs instead of the full cross, from TOML and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.cli.run import build_config
from tcrbench.errors import UsageError
from tcrbench.run.config import RunConfig, load_config_file
from tcrbench.run.grid import plan
from tcrbench.testing import temporary_plugins, tiny_config


def _labels(cfg: RunConfig) -> list[str]:
    with temporary_plugins() as plugins:
        return [c.label for c in plan(cfg, plugins.registry) if c.arm == "pretrained"]


def test_pairs_replace_the_cross_of_augmentations_and_objectives() -> None:
    cfg = tiny_config(pairs=["mask1/ntxent", "identity/mlm"], augs=["mask1", "identity"], objectives=["ntxent", "mlm"])
    assert _labels(cfg) == ["mask1 × ntxent · transformer:size=tiny", "identity × mlm · transformer:size=tiny"]
    assert len(_labels(tiny_config(augs=["mask1", "identity"], objectives=["ntxent", "mlm"]))) == 4


def test_pairs_keep_parameters_and_composition() -> None:
    cfg = tiny_config(pairs=["mask:p=0.2/ntxent+mlm"])
    assert _labels(cfg) == ["mask:p=0.2 × ntxent+mlm · transformer:size=tiny"]


def test_hash_ignores_augs_and_objectives_once_pairs_are_given_and_is_unchanged_without_pairs() -> None:
    a = tiny_config(pairs=["mask1/ntxent"], augs=["mask1"])
    b = tiny_config(pairs=["mask1/ntxent"], augs=["substitute", "mask"])
    assert a.config_hash("d") == b.config_hash("d")
    assert "pairs" not in tiny_config().numbers_dict()  # runs from before pairs existed keep their hash
    assert tiny_config(pairs=["mask1/mlm"]).config_hash("d") != a.config_hash("d")


@pytest.mark.parametrize("bad", ["mask1", "mask1/", "/ntxent", "mask1/ntxent/mlm"])
def test_a_malformed_pair_is_one_clear_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(f'pairs = ["{bad}"]\n')
    with pytest.raises(UsageError, match=r"pair .*expected AUGMENTATION/OBJECTIVE"):
        load_config_file(path)


def test_command_line_aug_replaces_the_config_files_pairs(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('pairs = ["identity/mlm"]\n')
    assert build_config(path, {}).pairs == ["identity/mlm"]
    cfg = build_config(path, {"augs": ["mask1"], "objectives": ["ntxent"]})
    assert cfg.pairs is None and cfg.augs == ["mask1"]


def test_cli_refuses_pairs_together_with_aug(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--pair", "mask1/ntxent", "--aug", "mask1", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "--pair replaces --aug and --objective" in result.output
    assert not (tmp_path / "r").exists()


def test_cli_unknown_objective_in_a_pair_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--pair", "mask1/ntxnet", "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 2
    assert "ntxnet" in result.output and "Traceback" not in result.output
