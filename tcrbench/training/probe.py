"""The linear probe: a frozen encoder's pooled embeddings into a logistic regression. Cheap, and it separates the
quality of the representation from what fine-tuning can recover."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int,
                 c: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed % (2**32)))
    model.fit(train_x, train_y)
    return model.predict_proba(train_x)[:, 1], model.predict_proba(test_x)[:, 1]
