"""Simple baselines: the floor a pretrained model must clear, and the shortcut detectors that say whether the
floor is even meaningful.

Shortcut baselines (`shortcut = True`) look at only part of each pair: the peptide alone, the TCR alone, or how
often the TCR occurs in the training table. None of them can know whether *this* TCR binds *this* peptide, so
whatever they score away from 0.5 AUROC (in either direction) is a property of how the table was made, not of
binding.

Features are built with numpy straight from byte arrays (one pass per k-mer size, no Python loop over rows) and
fed as sparse matrices to a logistic regression fitted by averaged SGD, so 130k rows take seconds. The exception
is `kmer_per_peptide`, which fits one small exact logistic regression per peptide instead of one pooled model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import normalize

from tcrbench.data.schema import CDR3A, CDR3B, GERMLINE_CDRS, LABEL, PEPTIDE
from tcrbench.data.vocab import AMINO_ACIDS
from tcrbench.errors import UsageError
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param

if TYPE_CHECKING:
    from collections.abc import Sequence

_SEP = "\x1f"  # joins chains into one TCR key; cannot occur in a sequence
WIDTH = 30  # longest sequence the canonical schema allows; longer ones are truncated
N_CODES = len(AMINO_ACIDS) + 2  # 0 = padding, 1..20 = amino acids, 21 = anything else
_LOOKUP = np.full(256, N_CODES - 1, dtype=np.int64)
_LOOKUP[0] = 0
for _i, _aa in enumerate(AMINO_ACIDS):
    _LOOKUP[ord(_aa)] = _i + 1


# ---------------------------------------------------------------- inputs
def _labels(frame: pl.DataFrame, who: str) -> np.ndarray:
    if LABEL not in frame.columns:
        raise UsageError(f"baseline {who!r}: the training table has no column 'label'")
    y = frame[LABEL].to_numpy()
    if frame[LABEL].null_count() or not np.isin(y, (0, 1)).all():
        raise UsageError(f"baseline {who!r}: training column 'label' must hold only 0 and 1")
    if len(np.unique(y)) < 2:
        raise UsageError(f"baseline {who!r}: the training rows hold a single class; nothing to learn")
    return y.astype(np.int64)


def _strings(frame: pl.DataFrame, column: str, who: str) -> list[str]:
    if column not in frame.columns:
        raise UsageError(f"baseline {who!r}: the table has no column {column!r} (columns: {', '.join(frame.columns)})")
    return frame[column].cast(pl.String).fill_null("").to_list()


def _chains(train: pl.DataFrame, test: pl.DataFrame, who: str) -> list[str]:
    """The TCR chains both tables have: CDR3b always, CDR3a when both carry it."""
    for part, frame in (("training", train), ("test", test)):
        if CDR3B not in frame.columns:
            raise UsageError(
                f"baseline {who!r}: the {part} table has no column {CDR3B!r} (columns: {', '.join(frame.columns)})"
            )
    return [c for c in (CDR3B, CDR3A) if c in train.columns and c in test.columns]


def codes(seqs: Sequence[str], right: bool = False) -> np.ndarray:
    """n x WIDTH residue codes (0 = padding); `right` aligns on the last residue instead of the first."""
    if right:
        seqs = [s[::-1] for s in seqs]
    raw = np.array(seqs, dtype=f"S{WIDTH}") if len(seqs) else np.zeros(0, dtype=f"S{WIDTH}")
    return _LOOKUP[raw.view(np.uint8).reshape(len(seqs), WIDTH)]


# ---------------------------------------------------------------- sparse feature blocks
def onehot(c: np.ndarray) -> sp.csr_matrix:
    """Position one-hot: column pos * N_CODES + code, for every non-padding position."""
    n = c.shape[0]
    rows, pos = np.nonzero(c)
    cols = pos * N_CODES + c[rows, pos]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, WIDTH * N_CODES))


def kmer_ids(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, k-mer id) for every window of k residues that lies inside its sequence."""
    n, width = c.shape
    if k > width:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.zeros((n, width - k + 1), dtype=np.int64)
    valid = np.ones((n, width - k + 1), dtype=bool)
    for j in range(k):
        window = c[:, j : width - k + 1 + j]
        ids = ids * N_CODES + window
        valid &= window > 0
    rows, pos = np.nonzero(valid)
    return rows, ids[rows, pos]


def kmer_counts(c: np.ndarray, ks: Sequence[int]) -> sp.csr_matrix:
    """Counts of every k-mer for each k in `ks`, side by side."""
    blocks = []
    for k in ks:
        rows, ids = kmer_ids(c, k)
        blocks.append(sp.csr_matrix((np.ones(len(rows)), (rows, ids)), shape=(c.shape[0], N_CODES**k)))
    return sp.hstack(blocks, format="csr")


def crossed(category: np.ndarray, n_categories: int, c: np.ndarray, k: int) -> sp.csr_matrix:
    """Counts of (category, k-mer) pairs: a peptide-specific weight for each TCR k-mer. Rows with category -1
    (a peptide unseen in training) get no such feature."""
    rows, ids = kmer_ids(c, k)
    keep = category[rows] >= 0
    rows, ids = rows[keep], ids[keep]
    cols = category[rows] * N_CODES**k + ids
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(c.shape[0], max(n_categories, 1) * N_CODES**k))


def _logistic(
    X_train: sp.csr_matrix, y: np.ndarray, X_test: sp.csr_matrix, alpha: float, epochs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression fitted by averaged SGD on L2-normalised rows.

    Exact solvers (lbfgs, liblinear) needed 30-100 s on 87k rows of k-mer counts on this project's CPU; averaged
    SGD for a fixed number of epochs takes about one second and lands within 0.01 AUROC of them.
    """
    model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, average=True, random_state=seed)
    X_train = normalize(X_train)
    model.fit(X_train, y)
    return model.predict_proba(X_train)[:, 1], model.predict_proba(normalize(X_test))[:, 1]


def _check_logistic(alpha: float, epochs: int) -> None:
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")


def _check_k(k: int) -> None:
    if not 1 <= k <= 4:
        raise ValueError(f"k must be between 1 and 4, got {k}")


_ALPHA_HELP = "L2 penalty of the logistic regression (scikit-learn SGDClassifier alpha)"
_EPOCHS_HELP = "passes of stochastic gradient descent over the training rows"


class _LogisticBaseline:
    """What the logistic-regression baselines share: the checks of `alpha` and `epochs`, and `fit_predict`
    (labels, the chains both tables have, the fit). A subclass says which sparse features a row gets.

    Not a dataclass: each subclass declares its own fields, `alpha` and `epochs` included, so the parameters
    keep the order `tcrbench plugins show` and the result rows list them in.
    """

    name: ClassVar[str]
    alpha: float
    epochs: int

    def __post_init__(self) -> None:
        _check_logistic(self.alpha, self.epochs)

    def features(self, frame: pl.DataFrame, chains: list[str], train: pl.DataFrame) -> sp.csr_matrix:
        """Sparse features of each row of `frame`; `train` is the training table, for features fitted on it."""
        raise NotImplementedError

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        chains = _chains(train, test, self.name)
        return _logistic(
            self.features(train, chains, train), y, self.features(test, chains, train), self.alpha, self.epochs, seed
        )


# ---------------------------------------------------------------- baselines
@dataclass
class Majority:
    name: ClassVar[str] = "majority"
    description: ClassVar[str] = "the training positive rate for every row (AUROC exactly 0.5)"
    shortcut: ClassVar[bool] = False

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rate = float(_labels(train, self.name).mean())
        return np.full(len(train), rate), np.full(len(test), rate)


@dataclass
class PeptideOnly:
    name: ClassVar[str] = "peptide_only"
    description: ClassVar[str] = "each peptide's smoothed positive rate in training; never looks at the TCR"
    shortcut: ClassVar[bool] = True
    smoothing: float = param(1.0, help="pseudo-rows at the overall positive rate added to every peptide")

    def __post_init__(self) -> None:
        if self.smoothing < 0:
            raise ValueError(f"smoothing must be at least 0, got {self.smoothing}")

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        prior = float(y.mean())
        peps = np.array(_strings(train, PEPTIDE, self.name), dtype=object)
        names, inverse = np.unique(peps, return_inverse=True)
        rate = (np.bincount(inverse, weights=y) + self.smoothing * prior) / (np.bincount(inverse) + self.smoothing)
        lookup = dict(zip(names.tolist(), rate.tolist()))
        test_scores = np.array([lookup.get(p, prior) for p in _strings(test, PEPTIDE, self.name)], dtype=float)
        return rate[inverse], test_scores


@dataclass
class TcrOnly(_LogisticBaseline):
    name: ClassVar[str] = "tcr_only"
    description: ClassVar[str] = "logistic regression on k-mer counts of the TCR chains alone; never sees the peptide"
    shortcut: ClassVar[bool] = True
    k: int = param(3, help="use k-mers of length 1..k")
    alpha: float = param(1e-6, help=_ALPHA_HELP)
    epochs: int = param(15, help=_EPOCHS_HELP)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_k(self.k)

    def features(self, frame: pl.DataFrame, chains: list[str], train: pl.DataFrame) -> sp.csr_matrix:
        ks = range(1, self.k + 1)
        return sp.hstack([kmer_counts(codes(_strings(frame, ch, self.name)), ks) for ch in chains], format="csr")


def tcr_ids(train: pl.DataFrame, test: pl.DataFrame, chains: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A shared integer id per distinct TCR (all chains present) across both tables."""
    joined = [_SEP.join(parts) for parts in zip(*(_strings(train, ch, "tcr_frequency") for ch in chains))]
    joined_test = [_SEP.join(parts) for parts in zip(*(_strings(test, ch, "tcr_frequency") for ch in chains))]
    _, inverse = np.unique(np.array(joined + joined_test, dtype=object), return_inverse=True)
    return inverse[: len(joined)], inverse[len(joined) :]


@dataclass
class TcrFrequency:
    name: ClassVar[str] = "tcr_frequency"
    description: ClassVar[str] = "how often the TCR occurs in the training table, as binder and as non-binder"
    shortcut: ClassVar[bool] = True
    score: Literal["learned", "count"] = param(
        "learned",
        help="'learned': logistic regression on log(1 + times seen as positive / as negative); "
        "'count': log(1 + times the TCR occurs among training rows), labels unused",
    )

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        id_train, id_test = tcr_ids(train, test, _chains(train, test, self.name))
        n_ids = int(max(id_train.max(initial=-1), id_test.max(initial=-1))) + 1
        seen = np.bincount(id_train, minlength=n_ids).astype(float)
        seen_pos = np.bincount(id_train, weights=y, minlength=n_ids)
        if self.score == "count":
            # a training row is not counted as its own occurrence, as a test row never is
            return np.log1p(seen[id_train] - 1), np.log1p(seen[id_test])
        # leave-one-out for training rows: their features must look like a test row's, which never sees itself
        pos_train = seen_pos[id_train] - y
        neg_train = seen[id_train] - seen_pos[id_train] - (1 - y)
        X_train = np.log1p(np.column_stack([pos_train, neg_train]))
        X_test = np.log1p(np.column_stack([seen_pos[id_test], seen[id_test] - seen_pos[id_test]]))
        model = LogisticRegression(random_state=seed).fit(X_train, y)
        return model.predict_proba(X_train)[:, 1], model.predict_proba(X_test)[:, 1]


@dataclass
class LogregOnehot(_LogisticBaseline):
    name: ClassVar[str] = "logreg_onehot"
    description: ClassVar[str] = "logistic regression on position one-hot of peptide and CDR3s, aligned at both ends"
    shortcut: ClassVar[bool] = False
    alpha: float = param(1e-6, help=_ALPHA_HELP)
    epochs: int = param(15, help=_EPOCHS_HELP)

    def features(self, frame: pl.DataFrame, chains: list[str], train: pl.DataFrame) -> sp.csr_matrix:
        # CDR3s vary in length and are conserved at both ends: a left- and a right-aligned copy keeps both
        # ends in register without an alignment step
        blocks = []
        for column in [PEPTIDE, *chains]:
            seqs = _strings(frame, column, self.name)
            blocks += [onehot(codes(seqs)), onehot(codes(seqs, right=True))]
        return sp.hstack(blocks, format="csr")


@dataclass
class LogregKmer(_LogisticBaseline):
    name: ClassVar[str] = "logreg_kmer"
    description: ClassVar[str] = "logistic regression on k-mers of peptide and TCR plus peptide x TCR 2-mer crosses"
    shortcut: ClassVar[bool] = False
    k: int = param(3, help="use k-mers of length 1..k for the peptide and each chain")
    interaction: bool = param(True, help="add peptide identity x TCR 2-mer features (peptide-specific motifs)")
    alpha: float = param(1e-6, help=_ALPHA_HELP)
    epochs: int = param(15, help=_EPOCHS_HELP)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_k(self.k)

    def features(self, frame: pl.DataFrame, chains: list[str], train: pl.DataFrame) -> sp.csr_matrix:
        ks = range(1, self.k + 1)
        peptides = _strings(frame, PEPTIDE, self.name)
        blocks = [kmer_counts(codes(peptides), ks)]
        chain_codes = [codes(_strings(frame, ch, self.name)) for ch in chains]
        blocks += [kmer_counts(c, ks) for c in chain_codes]
        if self.interaction:
            # one weight per (training peptide, TCR 2-mer); a peptide unseen in training gets none
            index = {p: i for i, p in enumerate(sorted(set(_strings(train, PEPTIDE, self.name))))}
            category = np.array([index.get(p, -1) for p in peptides], dtype=np.int64)
            blocks += [crossed(category, len(index), c, 2) for c in chain_codes]
        return sp.hstack(blocks, format="csr")


def kmer_blocks(frame: pl.DataFrame, columns: Sequence[str], k: int, who: str) -> sp.csr_matrix:
    """Counts of the k-mers of each column in a block of its own: column `block · 22^k + k-mer id`, so a k-mer of
    CDR1α and the same k-mer of CDR3β are different features. A missing value counts no k-mer."""
    size = N_CODES**k
    rows, cols = [], []
    for block, column in enumerate(columns):
        r, ids = kmer_ids(codes(_strings(frame, column, who)), k)
        rows.append(r)
        cols.append(ids + block * size)
    r, c = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(frame.height, max(len(columns), 1) * size))


def peptide_groups(train: pl.DataFrame, test: pl.DataFrame, who: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(peptide, its training rows, its test rows) for every peptide of either table, sorted by peptide; a peptide
    of one table only has an empty array for the other."""
    peps = np.array(_strings(train, PEPTIDE, who) + _strings(test, PEPTIDE, who), dtype=object)
    names, inverse = np.unique(peps, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    n_train = train.height
    groups = []
    for g, name in enumerate(names.tolist()):
        rows = order[bounds[g] : bounds[g + 1]]
        groups.append((str(name), rows[rows < n_train], rows[rows >= n_train] - n_train))
    return groups


@dataclass
class KmerPerPeptide:
    name: ClassVar[str] = "kmer_per_peptide"
    description: ClassVar[str] = "one logistic regression per peptide on 3-mer counts of the TCR's CDRs"
    shortcut: ClassVar[bool] = False
    # the only per-peptide baseline; a baseline without this attribute is one model for every peptide ("pan")
    framing: ClassVar[str] = "per_peptide"
    k: int = param(3, help="length of the k-mers counted in each CDR (k-mers of this length only)")
    cdrs: Literal["auto", "cdr3"] = param(
        "auto",
        help="'auto': CDR3b, CDR3a and CDR1/CDR2 a/b, each where both tables have the column; "
        "'cdr3': CDR3b and CDR3a only",
    )
    C: float = param(1.0, help="inverse L2 strength of each peptide's logistic regression (scikit-learn C)")

    def __post_init__(self) -> None:
        _check_k(self.k)
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        if self.cdrs not in ("auto", "cdr3"):
            raise ValueError(f"cdrs must be 'auto' or 'cdr3', got {self.cdrs!r}")

    def columns(self, train: pl.DataFrame, test: pl.DataFrame) -> list[str]:
        """The CDR columns read: CDR3b always, the others where both tables have them (and `cdrs` allows)."""
        chains = _chains(train, test, self.name)
        if self.cdrs == "auto":
            chains += [c for c in GERMLINE_CDRS if c in train.columns and c in test.columns]
        return chains

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        y = _labels(train, self.name)
        columns = self.columns(train, test)
        X_train = kmer_blocks(train, columns, self.k, self.name)
        X_test = kmer_blocks(test, columns, self.k, self.name)
        # a peptide no model can be fitted for scores a constant: its training positive rate when it has training
        # rows (of one class: 0 or 1), the overall training rate when it has none
        s_train, s_test = np.empty(train.height), np.full(test.height, float(y.mean()))
        for _, rows, rows_test in peptide_groups(train, test, self.name):
            if len(rows) == 0:
                continue
            labels = y[rows]
            if labels.min() == labels.max():
                s_train[rows] = s_test[rows_test] = float(labels[0])
                continue
            # the dual liblinear solver is exact and fast where features (22^k per CDR) outnumber rows;
            # random_state fixes its coordinate order
            model = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=5000, random_state=seed)
            model.fit(X_train[rows], labels)
            s_train[rows] = model.predict_proba(X_train[rows])[:, 1]
            if len(rows_test):
                s_test[rows_test] = model.predict_proba(X_test[rows_test])[:, 1]
        return s_train, s_test


BASELINES: tuple[type, ...] = (Majority, PeptideOnly, TcrOnly, TcrFrequency, LogregOnehot, LogregKmer, KmerPerPeptide)


@hookimpl
def register_baselines(register: Register) -> None:
    for cls in BASELINES:
        register(cls)
