from __future__ import annotations

import pytest

from tcrbench.config import Budget, RunConfig


def tiny_config(**overrides) -> RunConfig:
    """A grid that runs in seconds: 240 synthetic rows, 2 folds, a few optimisation steps."""
    budget = Budget(pretrain_steps=3, pretrain_batch=32, finetune_steps=3, batch_size=32)
    cfg = RunConfig(dataset="synthetic:n_peptides=3,n_positives_per_peptide=20", augs=["mask1"],
                    objectives=["ntxent"], encoder="transformer:size=tiny", folds=2, seeds=[0],
                    baselines=["majority", "peptide_only"], budget=budget, threads=1)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture
def tiny():
    return tiny_config
