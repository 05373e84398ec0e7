"""Nearest-neighbour baselines: a test TCR scores high for a peptide when it lies nearer to that peptide's training
binders than to its training non-binders. `tcrdist_knn` measures nearness with tcrdist (the classical anchor that
topped deep models on IMMREP22); `embedding_knn` in the embedding space of a pretrained encoder, which is how
SCEPTR's authors benchmark few-shot specificity. See docs/neighbours.md for the rules and measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl

from tcrbench.data.schema import CDR1A, CDR1B, CDR2A, CDR2B, CDR3A, CDR3B, LABEL, PEPTIDE, tcr_key
from tcrbench.errors import UsageError
from tcrbench.neighbours.knn import Scorer, embedding_distances, neighbour_scores
from tcrbench.neighbours.tcrdist import CDR3_LOOP, GERMLINE_LOOP, Loop, tcr_distances
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param, split_spec

_K_HELP = "neighbours of each class the score uses (the k nearest binders against the k nearest non-binders)"
_RULE_HELP = (
    "'mean': mean distance to the k nearest non-binders minus that to the k nearest binders; "
    "'kernel': log Σ exp(−d/scale) over the k nearest binders minus the same over the non-binders"
)
_SEP = "\x1f"  # joins the CDR3s of a TCR into one key; cannot occur in a sequence


def _labels(train: pl.DataFrame, who: str) -> np.ndarray:
    if LABEL not in train.columns:
        raise UsageError(f"baseline {who!r}: the training table has no column 'label'")
    y = train[LABEL]
    if y.null_count() or not y.is_in([0, 1]).all():
        raise UsageError(f"baseline {who!r}: training column 'label' must hold only 0 and 1")
    return y.to_numpy().astype(np.int64)


def _strings(frame: pl.DataFrame, column: str) -> list[str]:
    """A sequence column as strings; a missing value is the empty sequence (a gap the length of the other)."""
    return frame[column].cast(pl.String).fill_null("").to_list()


def _require(train: pl.DataFrame, test: pl.DataFrame, columns: list[str], who: str, why: str) -> None:
    for part, frame in (("training", train), ("test", test)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UsageError(
                f"baseline {who!r}: {why} needs column(s) {', '.join(map(repr, missing))}, which the {part} table "
                f"lacks (columns: {', '.join(frame.columns)})"
            )


def _tcr_ids(train: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per distinct TCR (by the given CDR3 columns) among the training rows: leave-one-out drops them."""
    keys = [_SEP.join(parts) for parts in zip(*(_strings(train, c) for c in columns))]
    return np.unique(np.array(keys, dtype=object), return_inverse=True)[1].reshape(-1)


@dataclass
class TcrdistKnn:
    name: ClassVar[str] = "tcrdist_knn"
    description: ClassVar[str] = (
        "per peptide: nearer to its training binders than to its non-binders in tcrdist (CDR3, plus CDR1/CDR2)"
    )
    shortcut: ClassVar[bool] = False
    framing: ClassVar[str] = "per_peptide"  # neighbours come from the row's own peptide only
    k: int = param(50, help=_K_HELP)
    chains: Literal["auto", "beta", "alpha", "both"] = param(
        "auto", help="'auto': alpha and beta where both tables have cdr3a, beta otherwise"
    )
    cdrs: Literal["auto", "cdr3"] = param(
        "auto",
        help="'auto': the chains' germline CDR1/CDR2 as well, where both tables have those columns; 'cdr3': CDR3 only",
    )
    # chosen on IMMREP22's training rows by leave-one-out macro AUROC, never on its test rows (docs/neighbours.md)
    rule: Literal["mean", "kernel"] = param("kernel", help=_RULE_HELP)
    scale: float = param(16.0, help="the kernel rule's distance scale, in tcrdist units")

    def __post_init__(self) -> None:
        Scorer(self.k, self.rule, self.scale)  # its checks, with its messages

    def loops(self, train: pl.DataFrame, test: pl.DataFrame) -> dict[str, Loop]:
        """The CDR columns compared and how: tcrdist3's CDR3 settings, and its germline ones for CDR1/CDR2."""
        _require(train, test, [CDR3B], self.name, "every TCR")
        chains = self.chains
        if chains == "auto":
            chains = "both" if CDR3A in train.columns and CDR3A in test.columns else "beta"
        if chains in ("alpha", "both"):
            _require(train, test, [CDR3A], self.name, f"chains={self.chains!r}")
        wanted = {"beta": ["b"], "alpha": ["a"], "both": ["b", "a"]}[chains]
        loops: dict[str, Loop] = {}
        for chain in wanted:
            loops[f"cdr3{chain}"] = CDR3_LOOP
            for column in (CDR1B, CDR2B) if chain == "b" else (CDR1A, CDR2A):
                if self.cdrs == "auto" and column in train.columns and column in test.columns:
                    loops[column] = GERMLINE_LOOP
        return loops

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        loops = self.loops(train, test)
        seqs = {"train": {c: _strings(train, c) for c in loops}, "test": {c: _strings(test, c) for c in loops}}

        def distances(side: str, rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
            query = {c: [seqs[side][c][i] for i in rows.tolist()] for c in loops}
            return tcr_distances(query, {c: [seqs["train"][c][i] for i in ref.tolist()] for c in loops}, loops)

        tcrs = _tcr_ids(train, [c for c in (CDR3B, CDR3A) if c in loops])
        return neighbour_scores(
            distances, y, _strings(train, PEPTIDE), _strings(test, PEPTIDE), tcrs, Scorer(self.k, self.rule, self.scale)
        )


def encoder_spec(text: str) -> str:
    """`sceptr:variant=cdr3_only;x=1` -> `sceptr:variant=cdr3_only,x=1`. Inside a baseline's spec a comma would end
    the `encoder` value, so the encoder's own options are separated by ';'."""
    spec = text.replace(";", ",")
    split_spec(spec)  # a malformed spec is a UsageError now, not at the first fold
    return spec


@dataclass
class EmbeddingKnn:
    name: ClassVar[str] = "embedding_knn"
    description: ClassVar[str] = (
        "per peptide: nearer to its training binders than to its non-binders in a pretrained encoder's embedding"
    )
    shortcut: ClassVar[bool] = False
    framing: ClassVar[str] = "per_peptide"
    # runs only when named (`--baseline embedding_knn:...`): it needs an encoder with embed_tcrs and its extra
    opt_in: ClassVar[bool] = True
    encoder: str = param(
        "sceptr",
        help="an encoder plugin whose factory has embed_tcrs(frame): NAME, or NAME:a=1;b=2 with ';' between the "
        "encoder's own options (embedding_knn:encoder=sceptr:variant=cdr3_only,k=10)",
    )
    metric: Literal["cosine", "euclidean"] = param("cosine", help="distance between embeddings")
    # chosen like tcrdist_knn's, by leave-one-out on IMMREP22's training rows with SCEPTR (docs/neighbours.md)
    k: int = param(50, help=_K_HELP)
    rule: Literal["mean", "kernel"] = param("kernel", help=_RULE_HELP)
    scale: float = param(0.05, help="the kernel rule's distance scale, in units of the metric (cosine: 0 to 2)")
    _factory: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        Scorer(self.k, self.rule, self.scale)
        encoder_spec(self.encoder)

    @property
    def published(self) -> bool:
        """True in a published model's embedding (SCEPTR, a local checkpoint): the board shows it in that section."""
        from tcrbench.plugins.loader import loaded_plugins
        from tcrbench.plugins.protocols import Kind

        name = encoder_spec(self.encoder).split(":", 1)[0]
        registry = loaded_plugins().registry
        return name in registry.names(Kind.ENCODER) and bool(
            getattr(registry.get(Kind.ENCODER, name).cls, "published", False)
        )

    def factory(self) -> Any:
        """The encoder factory, built once; one without embed_tcrs is a UsageError naming those that have it."""
        if self._factory is None:
            from tcrbench.plugins.loader import loaded_plugins
            from tcrbench.plugins.protocols import Kind

            registry = loaded_plugins().registry
            built = registry.create(Kind.ENCODER, encoder_spec(self.encoder))
            if not callable(getattr(built, "embed_tcrs", None)):
                able = [
                    n for n in registry.names(Kind.ENCODER) if hasattr(registry.get(Kind.ENCODER, n).cls, "embed_tcrs")
                ]
                raise UsageError(
                    f"baseline {self.name!r}: encoder {self.encoder!r} has no embed_tcrs(frame) method, so it cannot "
                    f"embed TCRs for nearest neighbours (encoders that can: {', '.join(able) or 'none installed'})"
                )
            self._factory = built
        return self._factory

    def embed(self, frame: pl.DataFrame, part: str) -> np.ndarray:
        """One finite row per table row, or a UsageError naming the encoder and what it returned."""
        x = np.asarray(self.factory().embed_tcrs(frame))
        if x.ndim != 2 or x.shape[0] != frame.height or not np.isfinite(x).all():
            raise UsageError(
                f"baseline {self.name!r}: encoder {self.encoder!r}.embed_tcrs returned shape {x.shape} for the "
                f"{frame.height} rows of the {part} table; expected one finite row per table row"
            )
        return x

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        _require(train, test, [CDR3B], self.name, "every TCR")
        x = {"train": self.embed(train, "training"), "test": self.embed(test, "test")}

        def distances(side: str, rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
            return embedding_distances(x[side][rows], x["train"][ref], self.metric)

        tcrs = _tcr_ids(train, tcr_key(train))
        return neighbour_scores(
            distances, y, _strings(train, PEPTIDE), _strings(test, PEPTIDE), tcrs, Scorer(self.k, self.rule, self.scale)
        )


@hookimpl
def register_baselines(register: Register) -> None:
    register(TcrdistKnn)
    register(EmbeddingKnn)
