"""Run folders for report tests, written through the real RunStore with constructed, seeded scores.

Two builders: ``write_run`` makes test rows per fold with peptides and labels, scores them
``signal * label + noise`` per configuration, computes the metrics from those predictions (so rows and
predictions agree as in a real run) and stores both; ``score_rows`` makes rows straight from given
per-fold metric values, for exact statistics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore

ENV_VERSIONS = {"python": "3.11.7", "tcrbench": "0.1.0", "numpy": "2.4.6"}


@dataclass(frozen=True)
class Spec:
    label: str
    arm: str = "pretrained"
    protocol: str = "finetune"
    signal: float = 1.0
    uses_labels: bool = False
    shortcut: bool = False
    objective: str | None = None
    baseline: str | None = None


def standard_specs(pretrained_signal: float = 1.4, supervised_signal: float = 1.0,
                   shortcut_signal: float = 0.2) -> list[Spec]:
    """The shape of a real grid: supervised and pretrained arms under two protocols, and simple baselines."""
    return [
        Spec("supervised · tiny", "supervised", "finetune", supervised_signal, objective="none"),
        Spec("supervised · tiny", "supervised", "probe", supervised_signal * 0.8, objective="none"),
        Spec("mask1 × ntxent · tiny", "pretrained", "finetune", pretrained_signal, objective="ntxent"),
        Spec("mask1 × ntxent · tiny", "pretrained", "probe", pretrained_signal * 0.8, objective="ntxent"),
        Spec("cnn (supervised)", "baseline", "finetune", 0.9, uses_labels=True, objective="none"),
        Spec("peptide_only", "baseline", "baseline", shortcut_signal, uses_labels=True, shortcut=True,
             baseline="peptide_only"),
    ]


def _metrics(frame: pl.DataFrame, min_positives: int = 5) -> dict[str, float]:
    y, s, peps = frame["label"].to_numpy(), frame["score"].to_numpy(), frame["peptide"].to_numpy()
    per = [roc_auc_score(y[peps == p], s[peps == p]) for p in np.unique(peps)
           if y[peps == p].sum() >= min_positives and (y[peps == p] == 0).any()]
    return {"auroc": float(roc_auc_score(y, s)), "macro_auroc": float(np.mean(per)) if per else float("nan"),
            "macro_auroc_n_peptides": float(len(per))}


def _store(path: Path, source: str, config_hash: str, primary_metric: str = "auroc") -> RunStore:
    store = RunStore(path)
    env = {"versions": ENV_VERSIONS, "git": "deadbeef", "device": "cpu",
           "data": {"source": source, "rows": 0, "fingerprint": "f" * 16}}
    store.open(f'primary_metric = "{primary_metric}"\n', config_hash, env, overwrite=False)
    return store


def _row(spec: Spec, config_hash: str, fold: int, seed: int, redraw: bool, n_train: int, n_test: int,
         metrics: dict[str, float], failed: bool) -> ResultRow:
    slug = "".join(c if c.isalnum() else "-" for c in spec.label.lower())
    return ResultRow(
        row_key=f"{slug}-s{seed}-f{fold}-{spec.protocol}", config_hash=config_hash, config_id=slug[:12],
        label=spec.label, arm=spec.arm, protocol=spec.protocol, augmentation=None, objective=spec.objective,
        encoder=None if spec.baseline else "tiny", baseline=spec.baseline, params={}, uses_labels=spec.uses_labels,
        shortcut=spec.shortcut, pretrain_on="train", fold=fold, fold_name=f"fold{fold}", seed=seed,
        seeds_redraw_folds=redraw, n_train=n_train, n_test=n_test, status="failed" if failed else "ok",
        reason=f"RuntimeError: cell {fold}/{seed} broke" if failed else "", metrics={} if failed else metrics,
        pretrain_loss=1.5 if spec.arm == "pretrained" and not failed else None, versions=ENV_VERSIONS,
    )


def write_run(path: Path, specs: list[Spec], *, n_folds: int = 3, seeds: tuple[int, ...] = (0,),
              redraw: bool = True, source: str = "dataset synth-a", peptides: tuple[str, ...] = ("GILGFVFTL", "NLVPMVATV", "KLGGALQAK"),
              n_per_peptide: int = 90, fail: frozenset[tuple[str, str, int, int]] = frozenset(), seed: int = 0,
              config_hash: str = "c0ffee0123456789") -> Path:
    """A run folder with predictions; ``fail`` holds (label, protocol, fold, seed) cells that failed."""
    store = _store(path, source, config_hash)
    n = n_per_peptide * len(peptides)
    pep = np.repeat(np.array(peptides), n_per_peptide)
    label = (np.arange(n) % 4 == 0).astype(np.int8)  # 1 positive : 3 negatives for every peptide
    for s in seeds:
        rng = np.random.default_rng([seed, s if redraw else 0])
        fold_of = rng.permutation(np.arange(n) % n_folds)
        for fold in range(n_folds):
            test = np.flatnonzero(fold_of == fold)
            for i, spec in enumerate(specs):
                noise = np.random.default_rng([seed, s, fold, i]).normal(size=test.size)
                frame = pl.DataFrame({"row": test.astype(np.uint32), "peptide": pep[test], "cdr3b": ["CASS"] * test.size,
                                      "label": label[test], "score": spec.signal * label[test] + noise})
                failed = (spec.label, spec.protocol, fold, s) in fail
                row = _row(spec, config_hash, fold, s, redraw, n - test.size, test.size, _metrics(frame), failed)
                store.write_row(row)
                if not failed:
                    store.write_predictions(row.row_key, frame)
    return path


def score_rows(scores: dict[tuple[str, str], list[list[float]]], *, arms: dict[str, str] | None = None,
               redraw: bool = True, n_train: int = 200, n_test: int = 100, shortcut: tuple[str, ...] = (),
               uses_labels: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows from given AUROCs: ``scores[(label, protocol)][seed][fold]``; None marks a failed cell."""
    arms = arms or {}
    rows = []
    for (label, protocol), per_seed in scores.items():
        arm = arms.get(label, "supervised" if label.startswith("supervised") else
                       ("baseline" if protocol == "baseline" else "pretrained"))
        spec = Spec(label, arm, protocol, uses_labels=label in uses_labels, shortcut=label in shortcut)
        for s, per_fold in enumerate(per_seed):
            for f, value in enumerate(per_fold):
                metrics = {} if value is None else {"auroc": value, "macro_auroc": value - 0.01}
                row = _row(spec, "hash0001", f, s, redraw, n_train, n_test, metrics, value is None).to_dict()
                row.update(extra or {})
                rows.append(json.loads(json.dumps(row)))
    return rows


@pytest.fixture(scope="session")
def make_run() -> Callable[..., Path]:
    return write_run


@pytest.fixture(scope="session")
def specs() -> Callable[..., list[Spec]]:
    return standard_specs


@pytest.fixture(scope="session")
def spec_type() -> type[Spec]:
    return Spec


@pytest.fixture(scope="session")
def make_rows() -> Callable[..., list[dict[str, Any]]]:
    return score_rows
