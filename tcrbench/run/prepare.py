"""From a RunConfig to the validated table, its fingerprint and its token tensors: done once per run, shared by
every cell, so all folds use the same width and vocabulary."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl
import torch

from tcrbench.data.vocab import TokenBatch
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Kind
from tcrbench.run.config import RunConfig


@dataclass
class PreparedData:
    """The run's table and its tensors, built once and shared by every cell of the grid."""

    frame: pl.DataFrame
    source: str
    fingerprint: str
    tokens: TokenBatch
    labels: torch.Tensor  # float 0/1 per row
    groups: torch.Tensor  # peptide index per row
    max_len: int
    report: Any
    corpus: Any = None  # run.corpus_view.CorpusIndex of the --pretrain-data sequences, or None
    corpus_report: Any = None  # data.corpus.CorpusReport: sources, content hash, rows kept and left out

    @property
    def corpus_fingerprint(self) -> str | None:
        return None if self.corpus_report is None else str(self.corpus_report.fingerprint)


def load_frame(cfg: RunConfig, registry: Any) -> tuple[pl.DataFrame, str, Any]:
    """The validated canonical table from --data or a dataset plugin, where it came from, and the load report;
    with --negatives, the table's binders followed by the negatives made for them."""
    if cfg.negatives is None:
        return _load(cfg, registry)
    from tcrbench.data.negatives import add_negatives, parse_negatives

    spec = parse_negatives(cfg.negatives)
    cfg.negatives = spec.text  # the resolved strategy is what the config (and its hash) records
    frame, source, report = _load(cfg, registry, positives_only=True)
    frame, warnings = add_negatives(frame, spec)
    for w in warnings:  # a short pool changes the class balance: say so even in a quiet run
        print(f"warning: {w}", file=sys.stderr)
    negatives = frame.height - report.rows
    report = replace(report, rows=frame.height, negatives=negatives, warnings=(*report.warnings, *warnings))
    return frame, source, report


def _load(cfg: RunConfig, registry: Any, positives_only: bool = False) -> tuple[pl.DataFrame, str, Any]:
    from tcrbench.data import load_table, validate_frame
    from tcrbench.data.validate import normalise_frame

    if cfg.data:
        loaded = load_table(
            cfg.data,
            columns=cfg.columns,
            cdr3=cfg.cdr3,
            duplicates=cfg.duplicates,
            positives_only=positives_only,
            table_format=cfg.table_format,
        )
        return loaded.frame, str(cfg.data), loaded.report
    if cfg.columns:
        raise UsageError("--columns applies to --data files, not to --dataset plugins")
    dataset = registry.create(Kind.DATASET, cfg.dataset)
    frame = dataset.load()
    source = f"dataset {cfg.dataset}"
    if positives_only:
        if "label" in frame.columns and bool((frame["label"].cast(pl.Int8) == 0).any()):
            raise UsageError(f"{source}: has negatives already; --negatives is for a table of binders only")
        frame, report = normalise_frame(
            frame.with_columns(pl.lit(1).alias("label")), source, duplicates=cfg.duplicates, classes=False
        )
        return frame, source, report
    report = validate_frame(frame, source, duplicates="keep" if cfg.duplicates == "keep" else "drop")
    if cfg.duplicates == "drop":
        from tcrbench.data.schema import pair_key

        frame = frame.unique(subset=pair_key(frame), keep="first", maintain_order=True)
    return frame, source, report


def stratified_subsample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """Keep `n` rows, drawing the same share from every (peptide, label) stratum, identical pairs together."""
    if n >= frame.height:
        return frame
    rng = np.random.default_rng(seed)
    keys = frame.select(pl.concat_str([pl.col("peptide"), pl.col("label").cast(pl.Utf8)], separator="|")).to_series()
    order = rng.permutation(frame.height)
    shuffled = keys.to_numpy()[order]
    frac = n / frame.height
    keep: list[np.ndarray] = []
    strata, inverse = np.unique(shuffled, return_inverse=True)
    for s in range(len(strata)):
        members = order[inverse == s]
        take = round(len(members) * frac)  # round() of a float is an int already
        keep.append(members[:take])
    idx = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)
    return frame[idx.tolist()]


def fingerprint(frame: pl.DataFrame) -> str:
    """A content hash of the canonical table: the same rows in the same order give the same hash."""
    cols = [c for c in ("peptide", "cdr3b", "cdr3a", "mhc", "label") if c in frame.columns]
    payload = frame.select(cols).write_csv().encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def prepare(cfg: RunConfig, registry: Any) -> PreparedData:
    """Load, subsample and tokenize once per run, so every fold shares one width and vocabulary."""
    from tcrbench.data.tokenizer import Tokenizer

    frame, source, report = load_frame(cfg, registry)
    if cfg.subsample is not None:
        frame = stratified_subsample(frame, cfg.subsample, seed=0)
    frame = frame.with_row_index("__index")
    tokenizer = Tokenizer.for_frame(frame)
    tokens = tokenizer.encode(frame)
    labels = torch.as_tensor(frame["label"].to_numpy().astype(np.float32))
    groups = torch.as_tensor(frame["peptide"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int64))
    data = PreparedData(frame, source, fingerprint(frame), tokens, labels, groups, tokens.ids.shape[1], report)
    if cfg.pretrain_data:
        from tcrbench.data.cache_dir import cache_root
        from tcrbench.data.corpus import build_corpus, cdr3_convention
        from tcrbench.run.corpus_view import CorpusIndex

        convention = cdr3_convention(frame["cdr3b"])  # the corpus is written the way the table writes CDR3s
        corpus, data.corpus_report = build_corpus(
            list(cfg.pretrain_data), data.max_len, cache_root() / "corpus", convention
        )
        data.corpus = CorpusIndex(corpus, Tokenizer(data.max_len))
    return data
