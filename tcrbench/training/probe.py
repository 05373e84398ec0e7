"""The linear probe: a frozen encoder's pooled embeddings into a logistic regression. Cheap, and it separates the
quality of the representation from what fine-tuning can recover."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int, c: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed % (2**32)))
    model.fit(train_x, train_y)
    return model.predict_proba(train_x)[:, 1], model.predict_proba(test_x)[:, 1]


def linear_probe_per_group(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    train_groups: np.ndarray,
    test_groups: np.ndarray,
    seed: int,
    c: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression per group (peptide) on the frozen embeddings: the per-peptide framing's probe.

    A peptide whose training rows hold one class only (or none) scores its rows with its training prior (or the
    overall prior): there is nothing to separate, and a constant ranks no pair above another within the peptide.
    """
    s_train = np.full(len(train_x), float(train_y.mean()) if len(train_y) else 0.5)
    s_test = np.full(len(test_x), s_train[0] if len(s_train) else 0.5)
    for group in np.unique(np.concatenate([train_groups, test_groups])):
        tr, te = train_groups == group, test_groups == group
        y = train_y[tr]
        if len(y) and 0 < y.sum() < len(y):
            s_train[tr], scores = linear_probe(train_x[tr], y, test_x[te], seed, c)
            s_test[te] = scores
        elif len(y):
            s_train[tr] = s_test[te] = float(y.mean())
    return s_train, s_test
