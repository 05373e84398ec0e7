"""Fold strategies: which rows a model may learn from and which it is judged on.

Every redrawn strategy is one algorithm, `stratified_group_folds`: rows are bundled into groups that must not be
separated (identical pairs, one TCR, one peptide) and groups are dealt to folds so that each fold gets its share
of every stratum (label, or label x peptide). It is written here rather than taken from scikit-learn's
StratifiedGroupKFold because that one holds a dense groups x classes table (130k pairs x 800 label-peptide
strata is ~800 MB) and loops in Python over every group; here only groups of two or more rows are placed one by
one, and the singletons that make up most real tables are water-filled per stratum in one vectorised step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tcrbench.data.schema import CDR3A, CDR3B, LABEL, PEPTIDE, tcr_key
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Fold

Stratify = Literal["label", "label_peptide"]
TcrChains = Literal["pair", "beta", "any"]
_SEP = "\x1f"  # cannot occur in a sequence, so joined keys never collide


# ---------------------------------------------------------------- ids: one integer per row
# (`*_ids` here are per-row group ids; `tcrbench.data.schema`'s `*_key` name the columns that make such a key)
def require_columns(frame: pl.DataFrame, columns: tuple[str, ...] | list[str], who: str) -> None:
    """A UsageError naming `who` and the missing column, instead of a polars error deep inside a split."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(f"{who}: the table has no column {missing[0]!r} (columns: {', '.join(frame.columns)})")


def _dense_ids(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """0..G-1 per row, equal exactly when all `columns` are equal (nulls equal to nulls); independent of row order."""
    joined = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator=_SEP)
    return frame.select(joined.rank("dense")).to_series().to_numpy().astype(np.int64) - 1


def pair_ids(frame: pl.DataFrame) -> np.ndarray:
    """An integer per row, shared by rows with the same peptide and the same TCR chains.

    The MHC is left out on purpose: the same peptide and TCR under two MHC labels is still the same pair of
    sequences to a sequence model, so keeping them together is the safe side of a leak.
    """
    require_columns(frame, (PEPTIDE, CDR3B), "pair_ids")
    return _dense_ids(frame, [PEPTIDE, *tcr_key(frame)])


def tcr_ids(frame: pl.DataFrame, chains: TcrChains = "pair") -> np.ndarray:
    """An integer per row naming its TCR group.

    "pair": the CDR3b together with the CDR3a when present; "beta": the CDR3b alone; "any": rows that share
    either chain are linked, and linked rows form one group (connected components), so no test chain was seen
    in training at all. "any" is the strictest; public alpha chains can make one group of thousands of rows.
    """
    require_columns(frame, (CDR3B,), "tcr_ids")
    if chains not in ("pair", "beta", "any"):
        raise UsageError(f"chains must be 'pair', 'beta' or 'any', got {chains!r}")
    if chains == "pair":
        return _dense_ids(frame, tcr_key(frame))
    beta = _dense_ids(frame, [CDR3B])
    if chains == "beta" or CDR3A not in frame.columns:
        return beta
    alpha = _dense_ids(frame, [CDR3A])
    has_alpha = frame[CDR3A].is_not_null().to_numpy() & (frame[CDR3A].fill_null("").to_numpy() != "")
    n, n_beta = len(frame), int(beta.max()) + 1 if len(frame) else 0
    # bipartite graph: row -> its beta node, row -> its alpha node (only where the row has an alpha chain)
    rows = np.concatenate([np.arange(n), np.arange(n)[has_alpha]])
    nodes = n + np.concatenate([beta, n_beta + alpha[has_alpha]])
    size = n + n_beta + (int(alpha.max()) + 1 if n else 0)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, nodes)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    return np.unique(component[:n], return_inverse=True)[1].astype(np.int64)


def peptide_ids(frame: pl.DataFrame) -> np.ndarray:
    """An integer per row naming its peptide (the groups of the peptide-disjoint split)."""
    require_columns(frame, (PEPTIDE,), "peptide_ids")
    return _dense_ids(frame, [PEPTIDE])


def labels_of(frame: pl.DataFrame, who: str) -> np.ndarray:
    """The 0/1 labels as int64, or a clear error naming the first bad row."""
    require_columns(frame, (LABEL,), who)
    col = frame[LABEL]
    if col.null_count():
        row = int(np.flatnonzero(col.is_null().to_numpy())[0])
        raise UsageError(f"{who}: column 'label' is empty in row {row}")
    y = col.to_numpy()
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        raise UsageError(f"{who}: column 'label' must hold 0 or 1, row {int(bad[0])} holds {y[bad[0]].item()!r}")
    return y.astype(np.int64)


def strata_of(frame: pl.DataFrame, stratify: Stratify, who: str) -> np.ndarray:
    """The stratum per row: the label, or label x peptide so every fold gets each peptide's share of binders."""
    y = labels_of(frame, who)
    if stratify == "label":
        return y
    if stratify == "label_peptide":
        return peptide_ids(frame) * 2 + y
    raise UsageError(f"{who}: stratify must be 'label' or 'label_peptide', got {stratify!r}")


# ---------------------------------------------------------------- the one algorithm behind every redrawn split
def _water_fill(current: np.ndarray, n_items: int, fold_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How many of `n_items` each fold gets so that the per-fold counts end as level as possible.

    Folds below the final level are raised to it; the few items left over go to the folds with the fewest rows
    overall (ties at random), which keeps fold sizes balanced across strata.
    """
    lo, hi = int(current.min()), int(current.max()) + n_items
    while lo < hi:  # highest level L with sum(max(0, L - current)) <= n_items
        mid = (lo + hi + 1) // 2
        if np.maximum(0, mid - current).sum() <= n_items:
            lo = mid
        else:
            hi = mid - 1
    add = np.maximum(0, lo - current)
    left = n_items - int(add.sum())
    if left:
        at_level = np.flatnonzero(current + add == lo)
        order = np.lexsort((rng.random(len(at_level)), fold_rows[at_level]))
        add[at_level[order[:left]]] += 1
    return add


def stratified_group_folds(
    groups: np.ndarray, strata: np.ndarray, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """A fold number per row: rows of one group share a fold; each stratum is spread evenly over the folds.

    Groups of several rows are placed first, largest first (ties in random order), each into the fold where its
    strata are least filled so far, then the fold with fewest rows. Single-row groups then fill each stratum up
    to an even level. `groups` and `strata` are dense integer ids per row.
    """
    n = len(groups)
    if n_folds < 2:
        raise UsageError(f"n_folds must be at least 2, got {n_folds}")
    n_groups = int(groups.max()) + 1 if n else 0
    if n_groups < n_folds:
        raise UsageError(f"cannot make {n_folds} folds from {n_groups} groups: lower n_folds")
    n_strata = int(strata.max()) + 1
    stratum_total = np.bincount(strata, minlength=n_strata).astype(float)
    counts = np.zeros((n_folds, n_strata), dtype=np.int64)
    fold_rows = np.zeros(n_folds, dtype=np.int64)
    group_fold = np.full(n_groups, -1, dtype=np.int64)
    size = np.bincount(groups, minlength=n_groups)

    by_group = np.argsort(groups, kind="stable")
    starts = np.concatenate([[0], np.cumsum(size)])
    multi = np.flatnonzero(size > 1)
    multi = multi[rng.permutation(len(multi))]
    multi = multi[np.argsort(-size[multi], kind="stable")]
    for g in multi:
        s, c = np.unique(strata[by_group[starts[g] : starts[g + 1]]], return_counts=True)
        cost = (counts[:, s] / stratum_total[s]) @ c
        f = int(np.lexsort((fold_rows, cost))[0])
        group_fold[g] = f
        counts[f, s] += c
        fold_rows[f] += size[g]

    single = np.flatnonzero(size == 1)
    single_stratum = strata[by_group[starts[single]]]
    for st in rng.permutation(n_strata):
        members = single[single_stratum == st]
        if not len(members):
            continue
        add = _water_fill(counts[:, st], len(members), fold_rows, rng)
        group_fold[members[rng.permutation(len(members))]] = np.repeat(np.arange(n_folds), add)
        counts[:, st] += add
        fold_rows += add
    return group_fold[groups]


def folds_from_assignment(assignment: np.ndarray, n_folds: int) -> list[Fold]:
    """Fold i tests on the rows assigned to i and trains on all others."""
    rows = np.arange(len(assignment))
    return [Fold(f"fold{i}", rows[assignment != i], rows[assignment == i]) for i in range(n_folds)]


# ---------------------------------------------------------------- the strategies
def random_folds(frame: pl.DataFrame, n_folds: int, seed: int, stratify: Stratify = "label") -> list[Fold]:
    """Stratified k-fold over (peptide, TCR) pairs: duplicates of a pair never straddle train and test."""
    strata = strata_of(frame, stratify, "split 'random'")
    rng = np.random.default_rng(seed)
    return folds_from_assignment(stratified_group_folds(pair_ids(frame), strata, n_folds, rng), n_folds)


def tcr_folds(
    frame: pl.DataFrame, n_folds: int, seed: int, chains: TcrChains = "pair", stratify: Stratify = "label"
) -> list[Fold]:
    """Every test TCR is unseen in training (with any peptide)."""
    strata = strata_of(frame, stratify, "split 'tcr'")
    rng = np.random.default_rng(seed)
    return folds_from_assignment(stratified_group_folds(tcr_ids(frame, chains), strata, n_folds, rng), n_folds)


def peptide_folds(frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]:
    """Every test peptide is unseen in training: the hardest and most honest generalisation test."""
    strata = strata_of(frame, "label", "split 'peptide'")
    groups = peptide_ids(frame)
    n_peptides = int(groups.max()) + 1 if len(groups) else 0
    if n_peptides < n_folds:
        raise UsageError(
            f"split 'peptide': {n_folds} folds need at least {n_folds} peptides, the table has {n_peptides}"
        )
    rng = np.random.default_rng(seed)
    return folds_from_assignment(stratified_group_folds(groups, strata, n_folds, rng), n_folds)


def given_folds(
    frame: pl.DataFrame, column: str = "partition", test_value: str = "test", drop_shared_pairs: bool = False
) -> list[Fold]:
    """Folds the data's authors made.

    If some row's `column` equals `test_value` (compared as text), there is one fold: those rows are the test
    set and every other row trains (IMMREP's `split`). Otherwise each distinct value is one test fold
    (NetTCR's `partition` 1-5 gives five folds). `drop_shared_pairs` removes from each training set the rows
    whose (peptide, TCR) pair also occurs in its test set; by default the authors' folds are kept as they are
    and `fold_warnings` reports such leaks.
    """
    who = f"split 'given' (column {column!r})"
    require_columns(frame, (column,), who)
    values = frame[column]
    if values.null_count():
        row = int(np.flatnonzero(values.is_null().to_numpy())[0])
        raise UsageError(f"{who}: row {row} has no value")
    text = values.cast(pl.String).to_numpy()
    rows = np.arange(len(frame))
    if (text == test_value).any():
        is_test = text == test_value
        if is_test.all():
            raise UsageError(f"{who}: every row has the value {test_value!r}, nothing is left to train on")
        folds = [Fold(f"{column}={test_value}", rows[~is_test], rows[is_test])]
    else:
        distinct = values.unique().sort().to_list()
        if len(distinct) < 2:
            raise UsageError(
                f"{who}: needs at least two distinct values or a row equal to "
                f"test_value={test_value!r}, found only {distinct!r}"
            )
        raw = values.to_numpy()
        folds = [Fold(f"{column}={v}", rows[raw != v], rows[raw == v]) for v in distinct]
    if drop_shared_pairs:
        pairs = pair_ids(frame)
        folds = [Fold(f.name, f.train[~np.isin(pairs[f.train], pairs[f.test])], f.test) for f in folds]
    return folds


# ---------------------------------------------------------------- what a careful reader should know about folds
def _names(items: list[tuple[str, int]], limit: int = 5) -> str:
    shown = ", ".join(f"{p} ({n})" for p, n in items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def fold_warnings(frame: pl.DataFrame, folds: list[Fold], min_positives: int = 5) -> list[str]:
    """Plain-language warnings about folds that make some numbers undefined, noisy or leaky.

    A test fold with a single class has no AUROC; a test peptide with fewer than `min_positives` positives is
    left out of macro AUROC; a (peptide, TCR) pair in both training and test rows is a leak; very unequal test
    folds make fold-to-fold spread hard to read.
    """
    y = labels_of(frame, "fold_warnings")
    peptides = frame[PEPTIDE].to_numpy() if PEPTIDE in frame.columns else None
    pairs = pair_ids(frame) if PEPTIDE in frame.columns and CDR3B in frame.columns else None
    out: list[str] = []
    for fold in folds:
        where = fold.name
        if len(fold.test) == 0 or len(fold.train) == 0:
            out.append(f"{where}: the {'test' if len(fold.test) == 0 else 'training'} set is empty")
            continue
        for part, idx in (("test", fold.test), ("training", fold.train)):
            positives = int(y[idx].sum())
            if positives in (0, len(idx)):
                only = "negatives" if positives == 0 else "positives"
                out.append(f"{where}: the {part} set holds only {only}; AUROC and thresholds are undefined")
        if peptides is not None:
            test_peps, inverse = np.unique(peptides[fold.test], return_inverse=True)
            pos = np.bincount(inverse, weights=y[fold.test], minlength=len(test_peps)).astype(int)
            few = [(str(test_peps[i]), int(pos[i])) for i in np.argsort(pos, kind="stable") if pos[i] < min_positives]
            if few:
                out.append(
                    f"{where}: {len(few)} of {len(test_peps)} test peptides have fewer than {min_positives} "
                    f"positives and are left out of macro_auroc: {_names(few)}"
                )
        if pairs is not None:
            shared = np.intersect1d(pairs[fold.train], pairs[fold.test])
            if len(shared):
                out.append(
                    f"{where}: {len(shared)} (peptide, TCR) pairs occur in both the training and the test "
                    f"set (a leak; given splits can drop them with drop_shared_pairs=true)"
                )
    sizes = np.array([len(f.test) for f in folds])
    if len(folds) > 1 and sizes.min() > 0 and sizes.max() > 2 * sizes.min():
        out.append(f"test folds are unbalanced: from {sizes.min()} to {sizes.max()} rows")
    return out
