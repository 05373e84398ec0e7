from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcrbench.results.schema import comparable
from tcrbench.run.config import Budget, RunConfig


def dynamics_config(**overrides) -> RunConfig:
    """240 synthetic rows, 2 folds, no simple baselines, 4 pretraining steps: a dynamics grid in seconds."""
    budget = Budget(pretrain_steps=4, pretrain_batch=32, finetune_steps=2, batch_size=32)
    cfg = RunConfig(dataset="synthetic:n_peptides=3,n_positives_per_peptide=20", augs=["mask1"],
                    objectives=["ntxent"], encoder="transformer:size=tiny", folds=2, seeds=[0], baselines=[],
                    protocols=["probe"], budget=budget, threads=1, eval_every="2")
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def rows_by_key(path: Path) -> dict[str, dict]:
    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((path / "rows").glob("*.json"))}


@pytest.fixture
def dyn_config():
    return dynamics_config


@pytest.fixture
def read_rows():
    return rows_by_key
