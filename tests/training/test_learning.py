"""The neural arms learn: on a small synthetic table both encoders beat AUROC 0.7 on held-out TCRs within seconds,
and the same recipe stays near chance when the labels are shuffled (so it cannot pass through a shortcut).

The chain CNN learns with the peptide as an input (pan-peptide framing, its product head); the small transformer
learns in seconds only with an output head per peptide (measured: pan-peptide, it stays at 0.49 here and needs
50-100 epochs to reach 0.70 on the default table), so it is tested in that framing.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from tcrbench.data.splits import tcr_folds
from tcrbench.data.synthetic import synthesize
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.run.config import Budget
from tcrbench.training.early_stopping import auroc
from tcrbench.training.finetune import Validation, finetune, predict
from tcrbench_plugins.encoders import ChainCNN, Transformer

ENCODERS = {  # factory, budget, per-peptide heads
    "chain_cnn": (ChainCNN(channels=16), Budget(finetune_epochs=30, batch_size=64, lr=5e-3, patience=6), False),
    "transformer": (Transformer(size="tiny", pooling="mean", dropout=0.0),
                    Budget(finetune_epochs=40, batch_size=32, lr=1e-3, patience=12), True),
}


def held_out_auroc(name: str, shuffle: bool) -> float:
    """Train on 3 of 4 TCR-disjoint folds (early stopping on a TCR-disjoint inner split), score the fourth."""
    frame = synthesize(n_peptides=4, n_positives_per_peptide=40, difficulty=0.2, seed=3)
    labels_np = frame["label"].to_numpy().astype(np.float32)
    if shuffle:
        labels_np = np.random.default_rng(0).permutation(labels_np)
    tokens = Tokenizer.for_frame(frame).encode(frame)
    labels = torch.as_tensor(labels_np)
    fold = tcr_folds(frame, 4, seed=0)[0]
    train, test = np.asarray(fold.train), np.asarray(fold.test)
    inner = tcr_folds(frame[train.tolist()], 6, seed=1)[0]
    fit, val = train[np.asarray(inner.train)], train[np.asarray(inner.test)]
    factory, budget, per_peptide = ENCODERS[name]
    groups = torch.as_tensor(frame["peptide"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int64))
    torch.manual_seed(0)
    model, _ = finetune(factory.build(tokens.ids.shape[1]), tokens.index(torch.as_tensor(fit)), labels[fit], budget,
                        seed=0, device=torch.device("cpu"),
                        validation=Validation(tokens.index(torch.as_tensor(val)), labels[val], groups[val]),
                        groups=groups[fit] if per_peptide else None, n_groups=4 if per_peptide else 1)
    scores = predict(model, tokens.index(torch.as_tensor(test)), torch.device("cpu"),
                     groups=groups[test] if per_peptide else None)
    return auroc(labels_np[test], scores)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_learns_the_planted_rule_on_unseen_tcrs(name: str) -> None:
    torch.set_num_threads(1)
    assert held_out_auroc(name, shuffle=False) > 0.7


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_shuffled_labels_leave_it_near_chance(name: str) -> None:
    torch.set_num_threads(1)
    assert abs(held_out_auroc(name, shuffle=True) - 0.5) < 0.15
