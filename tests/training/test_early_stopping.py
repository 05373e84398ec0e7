"""Early stopping keeps the best epoch's weights, and the fine-tuning loop stops and restores them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tcrbench.run.config import Budget
from tcrbench.training.early_stopping import EarlyStopping, auroc, validation_score
from tcrbench.training.finetune import Validation, finetune, predict


def test_restores_the_best_epoch_when_validation_gets_worse_after_it() -> None:
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    scores = [0.6, 0.8, 0.7, 0.65, 0.9]  # best at epoch 2; patience 2 stops after epoch 4
    kept = []
    for epoch, score in enumerate(scores, start=1):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        kept.append(stopper.update(score, model))
        if not kept[-1]:
            break
    assert kept == [True, True, True, False]
    assert stopper.best_epoch == 2 and stopper.curve == [0.6, 0.8, 0.7, 0.65]
    stopper.restore(model)
    assert torch.all(model.weight == 2.0)


def test_no_patience_trains_every_epoch_but_still_keeps_the_best() -> None:
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=0)
    for score in (0.5, 0.9, 0.1, 0.2):
        assert stopper.update(score, model)
    assert stopper.best_epoch == 2


def test_nan_scores_are_never_best() -> None:
    stopper = EarlyStopping(patience=1)
    stopper.update(float("nan"), nn.Linear(1, 1))
    assert stopper.best_state is None
    stopper.update(0.4, nn.Linear(1, 1))
    assert stopper.best_epoch == 2


def test_auroc_matches_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(auroc(np.ones(4), np.arange(4.0)))


def test_macro_score_averages_peptides_with_both_classes() -> None:
    y = np.array([1, 0, 1, 0, 1, 1])
    s = np.array([0.9, 0.1, 0.2, 0.8, 0.5, 0.6])
    g = np.array([0, 0, 1, 1, 2, 2])  # peptide 2 has no negative
    assert validation_score(y, s, g, "macro_auroc") == pytest.approx(0.5)
    assert validation_score(y, s, None, "auroc") == pytest.approx(auroc(y, s))


def test_finetune_stops_early_and_returns_the_restored_best_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcrbench.data.synthetic import synthesize
    from tcrbench.data.tokenizer import Tokenizer
    from tcrbench.training import finetune as module
    from tcrbench_plugins.encoders import ChainCNN

    frame = synthesize(n_peptides=2, n_positives_per_peptide=10, seed=0)
    tokens = Tokenizer.for_frame(frame).encode(frame)
    labels = torch.as_tensor(frame["label"].to_numpy().astype(np.float32))
    # a validation signal that peaks at epoch 2 and then falls: training must stop at epoch 2 + patience
    signal = iter([0.5, 0.9, 0.6, 0.55, 0.5, 0.4, 0.3])
    seen_weights = []

    def fake_score(*args: object, **kw: object) -> float:
        return next(signal)

    original_update = EarlyStopping.update

    def spy(self: EarlyStopping, score: float, model: nn.Module) -> bool:
        seen_weights.append({k: v.clone() for k, v in model.state_dict().items()})
        return original_update(self, score, model)

    monkeypatch.setattr(module, "validation_score", fake_score)
    monkeypatch.setattr(EarlyStopping, "update", spy)
    torch.manual_seed(0)
    budget = Budget(finetune_epochs=20, batch_size=16, patience=3, warmup=0.0, schedule="constant")
    model, stats = finetune(ChainCNN(channels=4).build(40), tokens, labels, budget, 0, torch.device("cpu"),
                            validation=Validation(tokens, labels))
    assert stats.epochs == 5 and stats.best_epoch == 2 and len(stats.val_curve) == 5
    for key, value in model.state_dict().items():
        assert torch.equal(value, seen_weights[1][key]), key
    assert predict(model, tokens, torch.device("cpu")).shape == (len(frame),)
