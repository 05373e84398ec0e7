"""Power planning from observed scores: how each method's comparison with the baseline would fare at other
designs, using the sd of differences and the test/train ratio the scores themselves show.

Pairing and ratio are decided exactly as in :func:`tcrbench.stats.compare`, which runs first; the planner
(:func:`tcrbench.stats.plan_design`) then takes each method's observed sd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.stats._result import Result
from tcrbench.stats._table import Where, read_grid
from tcrbench.stats.compare import Comparison, compare
from tcrbench.stats.power import PowerPlan, plan_design

__all__ = ["MethodPlan", "plan_comparisons"]


@dataclass(frozen=True)
class MethodPlan(Result):
    """One method against the baseline: its current comparison's size and the plan (None: no usable sd)."""

    method: str
    n_pairs: int
    folds: int
    seeds: int
    plan: PowerPlan | None
    note: str = ""


def _cell_sd(x: np.ndarray, base: np.ndarray) -> float:
    """sd of one (seed, fold) difference: the spread a design with redrawn folds would see per pair."""
    d = (x - base)[~(np.isnan(x) | np.isnan(base))]
    return float(np.std(d, ddof=1)) if d.size > 1 else math.nan


def plan_comparisons(
    scores: Any,
    baseline: str,
    effect: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    candidate_folds: Sequence[int] | None = None,
    max_seeds: int = 100,
    sd_scaling: float = 0.5,
    **compare_options: Any,
) -> tuple[Comparison, list[MethodPlan]]:
    """:func:`compare` the table, then plan each method: its power now to detect a true difference ``effect``
    and the folds × seeds needed for ``power`` (see :func:`plan_design`). ``compare_options`` go to compare.
    """
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha={alpha} must lie strictly between 0 and 1")
    result = compare(scores, baseline, confidence=1.0 - alpha, **compare_options)
    source = str(compare_options.get("source", "scores"))
    grid = read_grid(scores, baseline, drop_nan=bool(compare_options.get("drop_nan", False)), where=Where(source, None))
    plans = []
    for row in result.rows:
        if row.is_baseline or row.corrected is None:
            continue
        c = row.corrected
        sd = _cell_sd(grid.scores[row.method], grid.scores[baseline])
        if not (c.sd_diff > 0 and sd > 0):
            plans.append(MethodPlan(row.method, c.n, c.n_folds, c.n_seeds, None, "differences do not vary"))
            continue
        plan = plan_design(
            effect,
            sd,
            folds=c.n_folds,
            seeds=c.n_seeds,
            test_train_ratio=result.test_train_ratio,
            seeds_redraw_folds=result.seeds_redraw_folds,
            n_pairs=c.n,
            current_sd=c.sd_diff,
            power=power,
            alpha=alpha,
            candidate_folds=candidate_folds,
            max_seeds=max_seeds,
            sd_scaling=sd_scaling,
        )
        plans.append(MethodPlan(row.method, c.n, c.n_folds, c.n_seeds, plan))
    return result, plans
