"""Several runs (one per dataset) on one board: methods ranked per dataset, then Friedman and Nemenyi.

AUROCs of different datasets are not on one scale, so averaging them lets one easy dataset decide the
ranking; ranks are comparable (Demšar 2006). A method is identified across runs by label and protocol, a
dataset by the data source its run recorded. Only methods present on every dataset enter the test (the
Friedman test needs complete blocks); the others are listed with their scores and no rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.report.model import Banner, BoardMeta, BoardRow, FailedCell, Leaderboard, fraction_text
from tcrbench.stats import FriedmanResult, NemenyiResult, friedman, nemenyi
from tcrbench.stats.friedman import rank_matrix


@dataclass(frozen=True)
class RankRow:
    """A method across datasets: its score on each (None where absent) and its rank there (1 = best)."""

    key: str
    label: str
    protocol: str
    arm: str
    uses_labels: bool
    shortcut: bool
    scores: tuple[float | None, ...]
    ranks: tuple[float | None, ...]
    mean_rank: float | None
    ranked: bool


@dataclass(frozen=True)
class Ranking:
    """Methods across ``datasets``. ``friedman``/``nemenyi`` are None when there is too little to test,
    and ``note`` says why; ``cliques`` are groups of methods whose mean ranks differ by less than ``cd``."""

    datasets: tuple[str, ...]
    rows: tuple[RankRow, ...]
    alpha: float
    friedman: FriedmanResult | None
    nemenyi: NemenyiResult | None
    cd: float | None
    cliques: tuple[tuple[str, ...], ...]
    note: str = ""


def dataset_name(board: Leaderboard) -> str:
    """The data source a run recorded (environment.json "data" → "source"), else its folder name."""
    if board.meta.data_source:
        return board.meta.data_source
    if board.meta.run_dir:
        return Path(board.meta.run_dir).name
    return board.meta.title


def _cliques(keys: Sequence[str], mean_ranks: Sequence[float], cd: float) -> tuple[tuple[str, ...], ...]:
    """Maximal runs of methods (sorted by mean rank) spanning less than CD: the bars of a CD diagram."""
    order = sorted(range(len(keys)), key=lambda i: mean_ranks[i])
    spans: list[tuple[int, int]] = []
    for a in range(len(order)):
        b = a
        while b + 1 < len(order) and mean_ranks[order[b + 1]] - mean_ranks[order[a]] < cd:
            b += 1
        if b > a and not any(s <= a and b <= e for s, e in spans):
            spans.append((a, b))
    return tuple(tuple(keys[order[i]] for i in range(s, e + 1)) for s, e in spans)


def rank_methods(boards: Sequence[Leaderboard], *, alpha: float = 0.05) -> Ranking:
    """Methods ranked within each dataset by mean score, then by mean rank, with Friedman and Nemenyi on top."""
    datasets = tuple(dataset_name(b) for b in boards)
    seen: dict[str, BoardRow] = {}
    for b in boards:
        for r in b.rows:
            seen.setdefault(r.key, r)
    keys = list(seen)
    score = np.full((len(boards), len(keys)), np.nan)
    for i, b in enumerate(boards):
        for r in b.rows:
            if math.isfinite(r.mean):
                score[i, keys.index(r.key)] = r.mean
    hib = all(b.meta.higher_is_better for b in boards)
    complete = [j for j in range(len(keys)) if np.isfinite(score[:, j]).all()]
    ranks = np.full_like(score, np.nan)
    fr = nm = None
    cd = None
    cliques: tuple[tuple[str, ...], ...] = ()
    note = ""
    if len(complete) >= 2:
        sub = score[:, complete]
        ranks[:, complete] = rank_matrix(sub, higher_is_better=hib)
        names = [keys[j] for j in complete]
        if len(boards) >= 2:
            fr = friedman(sub, methods=names, higher_is_better=hib)
            nm = nemenyi(sub, methods=names, alpha=alpha, higher_is_better=hib)
            cd = nm.cd
            cliques = _cliques(names, nm.mean_ranks, cd)
        else:
            note = "one dataset: the Friedman test and the critical difference need at least two"
    else:
        note = "fewer than two methods have a score on every dataset: nothing to rank"
    rows = []
    for j, key in enumerate(keys):
        r = seen[key]
        ranked = j in complete and len(complete) >= 2
        rows.append(
            RankRow(
                key=key,
                label=r.label if r.label_fraction >= 1.0 else f"{r.label} @ {fraction_text(r.label_fraction)} labels",
                protocol=r.protocol,
                arm=r.arm,
                uses_labels=any(x.uses_labels for b in boards for x in b.rows if x.key == key),
                shortcut=r.shortcut,
                scores=tuple(float(s) if math.isfinite(s) else None for s in score[:, j]),
                ranks=tuple(float(x) if math.isfinite(x) else None for x in ranks[:, j]),
                mean_rank=float(ranks[:, j].mean()) if ranked else None,
                ranked=ranked,
            )
        )
    rows.sort(key=lambda r: (r.mean_rank is None, r.mean_rank if r.mean_rank is not None else 0.0, r.key))
    return Ranking(
        datasets=datasets, rows=tuple(rows), alpha=alpha, friedman=fr, nemenyi=nm, cd=cd, cliques=cliques, note=note
    )


def merge_boards(boards: Sequence[Leaderboard], *, alpha: float = 0.05, title: str | None = None) -> Leaderboard:
    """One board over several runs (one per dataset); each run's own board rides along in ``datasets``."""
    if not boards:
        raise UsageError("give at least one run folder to merge")
    metrics = {b.metric for b in boards}
    if len(metrics) > 1:
        raise UsageError(f"the runs were reported on different metrics ({', '.join(sorted(metrics))}); give --metric")
    names: dict[str, str] = {}
    for b in boards:
        name, where = dataset_name(b), b.meta.run_dir or b.meta.title
        if name in names:
            raise UsageError(
                f"{where}: holds data {name!r} like {names[name]}; a merged board ranks methods "
                "across different datasets, so give one run per dataset"
            )
        names[name] = where
    ranking = rank_methods(boards, alpha=alpha)
    banners: list[Banner] = []
    if ranking.note:
        banners.append(Banner("ranking", f"No Friedman test: {ranking.note}."))
    partial = [r.key for r in ranking.rows if not r.ranked]
    if partial and ranking.friedman is not None:
        banners.append(
            Banner(
                "incomplete_methods",
                f"Not ranked (missing or failed on some dataset): {', '.join(partial)}.",
                tuple(partial),
            )
        )
    for name, b in zip(ranking.datasets, boards):
        banners.extend(Banner(x.kind, f"[{name}] {x.message}", x.keys) for x in b.banners)
    failures: list[FailedCell] = [f for b in boards for f in b.failures]
    first = boards[0].meta
    meta = BoardMeta(
        title=title or f"tcrbench leaderboard: {len(boards)} dataset(s)",
        config_hash=",".join(b.meta.config_hash or "?" for b in boards),
        data_source=", ".join(ranking.datasets),
        versions=dict(first.versions),
        git=first.git,
        confidence=first.confidence,
        higher_is_better=first.higher_is_better,
        shortcut_margin=first.shortcut_margin,
        n_rows=sum(b.meta.n_rows for b in boards),
        n_failed=len(failures),
    )
    return Leaderboard(
        metric=boards[0].metric,
        rows=(),
        banners=tuple(banners),
        failures=tuple(failures),
        meta=meta,
        kind="merged",
        ranking=ranking,
        datasets=tuple(boards),
    )
