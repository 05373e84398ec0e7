"""What the default test can detect: power, detectable difference and a folds × seeds planner.

The corrected resampled t-test divides mean(d) by sqrt((1/n + ratio) · var(d)) with n − 1 degrees of freedom.
If the n differences share one random offset of variance ratio·sd² (the overlap of training sets) on top of
independent noise of variance sd², that statistic follows a noncentral t with n − 1 df and noncentrality
effect / (sd · sqrt(1/n + ratio)) exactly, so this is the power of the test as computed. ``sd`` is the sd of
the differences *within* one experiment, i.e. what ``corrected.sd_diff`` reports.

Saturation: more seeds (redrawn folds) shrink only the 1/n term. At k folds the standard error never drops
below sqrt(ratio) · sd, ratio = 1/(k − 1), so some effects are out of reach at k folds whatever the seeds.

How sd changes with k (an approximation the planner states): each fold tests on N/k examples, so when the
noise of a fold's score is mostly test-set sampling noise, sd grows as sqrt(k); ``sd_scaling`` is that
exponent (0.5, the default; 0 holds sd fixed, which flatters designs with more folds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import integrate, optimize
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats._result import Result

__all__ = ["FoldPlan", "PowerPlan", "corrected_power", "detectable_difference", "plan_design"]

DEFAULT_FOLDS = (3, 5, 10)


def _check(sd: float, n: int, ratio: float, alpha: float) -> None:
    if not (isinstance(n, int) or float(n).is_integer()) or n < 2:
        raise UsageError(f"n={n}: the test needs at least 2 pairs")
    if not (math.isfinite(sd) and sd >= 0):
        raise UsageError(f"sd={sd} must be a finite number >= 0")
    if not (math.isfinite(ratio) and ratio >= 0):
        raise UsageError(f"test_train_ratio={ratio} must be a finite number >= 0")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha={alpha} must lie strictly between 0 and 1")


def _power_nc(nc: float, df: float, alpha: float) -> float:
    """Two-sided power of a t-test with ``df`` degrees of freedom at noncentrality ``nc`` (df = inf: normal)."""
    if math.isinf(df):
        z = float(sps.norm.ppf(1.0 - alpha / 2.0))
        return float(sps.norm.sf(z - nc) + sps.norm.cdf(-z - nc))
    crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    if nc == 0.0:
        return alpha
    upper, lower = float(sps.nct.sf(crit, df, nc)), float(sps.nct.cdf(-crit, df, nc))
    if not math.isfinite(upper):  # scipy's nct gives NaN far in the tails at small df
        upper = _nct_integral(crit, df, nc, upper=True)
    if not math.isfinite(lower):
        lower = _nct_integral(crit, df, nc, upper=False)
    return min(1.0, upper + lower)


def _nct_integral(crit: float, df: float, nc: float, *, upper: bool) -> float:
    """P(T > crit) or P(T < -crit) for T = (Z + nc) / sqrt(V / df), V ~ chi2(df), by quadrature over V."""

    def integrand(v: float) -> float:
        s = crit * math.sqrt(v / df)
        z = nc - s if upper else -s - nc  # P(Z + nc > s) or P(Z + nc < -s)
        return float(sps.norm.cdf(z) * sps.chi2.pdf(v, df))

    value, _ = integrate.quad(integrand, 0.0, math.inf, limit=200)
    return float(value)


def corrected_power(effect: float, sd: float, n: int, test_train_ratio: float, *, alpha: float = 0.05) -> float:
    """Probability that the two-sided corrected t-test at ``alpha`` rejects when the true mean difference is
    ``effect``, with ``n`` pairs whose within-experiment sd is ``sd`` (``n`` = folds × seeds when seeds redraw
    the folds, folds otherwise)."""
    _check(sd, n, test_train_ratio, alpha)
    if sd == 0.0:
        return 1.0 if effect != 0 else alpha
    nc = abs(effect) / (sd * math.sqrt(1.0 / n + test_train_ratio))
    return _power_nc(nc, n - 1, alpha)


def detectable_difference(
    sd: float, n: int, test_train_ratio: float, *, power: float = 0.8, alpha: float = 0.05
) -> float:
    """Smallest true difference the corrected test detects with probability ``power``: what a
    non-significant result can rule out, in the metric's units."""
    _check(sd, n, test_train_ratio, alpha)
    if not alpha < power < 1.0:
        raise UsageError(f"power={power} must lie between alpha={alpha} and 1")
    if sd == 0.0:
        return 0.0
    df = n - 1
    hi = 1.0
    while _power_nc(hi, df, alpha) < power:
        hi *= 2.0
    nc = float(optimize.brentq(lambda x: _power_nc(x, df, alpha) - power, 0.0, hi, xtol=1e-10))
    return nc * sd * math.sqrt(1.0 / n + test_train_ratio)


@dataclass(frozen=True)
class FoldPlan(Result):
    """One number of folds: the seeds (redrawn folds) needed for the target power, or None when unreachable.

    ``power_limit`` is the power with unlimited seeds (se = sqrt(ratio)·sd); ``power`` is at ``seeds_needed``,
    or at ``max_seeds`` when the target is not reached.
    """

    folds: int
    test_train_ratio: float
    sd: float
    seeds_needed: int | None
    power: float
    power_limit: float
    reachable: bool
    note: str


@dataclass(frozen=True)
class PowerPlan(Result):
    """The current design's power and detectable difference (n pairs of sd ``current_sd``), and one
    :class:`FoldPlan` per number of folds (redrawn folds, sd of one (seed, fold) difference ``sd``)."""

    effect: float
    sd: float
    current_sd: float
    folds: int
    seeds: int
    n: int
    test_train_ratio: float
    seeds_redraw_folds: bool
    power: float
    detectable: float
    target_power: float
    alpha: float
    sd_scaling: float
    plans: tuple[FoldPlan, ...]


def _fold_plan(effect: float, sd: float, k: int, ratio: float, target: float, alpha: float, max_seeds: int) -> FoldPlan:
    limit = 1.0 if sd == 0 else _power_nc(abs(effect) / (sd * math.sqrt(ratio)), math.inf, alpha)

    def at(r: int) -> float:
        return corrected_power(effect, sd, k * r, ratio, alpha=alpha)

    if at(max_seeds) < target:
        if limit <= target:
            note = f"not reachable with {k} folds: even unlimited seeds give power {limit:.2f}"
        else:
            note = f"needs more than {max_seeds} seeds at {k} folds"
        return FoldPlan(k, ratio, sd, None, at(max_seeds), limit, False, note)
    lo, hi = 1, max_seeds  # power rises with the seeds: the smallest r with at(r) >= target
    while lo < hi:
        mid = (lo + hi) // 2
        if at(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return FoldPlan(k, ratio, sd, lo, at(lo), limit, True, f"{k} folds × {lo} seed(s) = {k * lo} pairs")


def plan_design(
    effect: float,
    sd: float,
    *,
    folds: int,
    seeds: int = 1,
    test_train_ratio: float | None = None,
    seeds_redraw_folds: bool = True,
    n_pairs: int | None = None,
    current_sd: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    candidate_folds: Sequence[int] | None = None,
    max_seeds: int = 100,
    sd_scaling: float = 0.5,
) -> PowerPlan:
    """Power of the observed design (``folds`` × ``seeds``, differences with sd ``sd``) for a true difference
    ``effect``, and for each number of folds the seeds needed for ``power``.

    Planned designs redraw the folds for every seed (with fixed folds extra seeds add no pairs), so ``sd`` is
    the sd of one (seed, fold) difference. The current design's power uses ``n_pairs`` (default: folds × seeds
    when seeds redraw the folds, else folds) and ``current_sd`` (default ``sd``; with fixed folds, the sd of
    the fold means the test used). At the observed k the observed ratio is kept (default 1/(k-1)); other k
    use 1/(k-1) and sd · (k / folds) ** sd_scaling (see the module docstring).
    """
    if not (math.isfinite(effect) and effect != 0):
        raise UsageError(f"effect={effect} must be a non-zero number (the true difference to detect)")
    if folds < 2 or seeds < 1:
        raise UsageError(f"folds={folds} and seeds={seeds}: need at least 2 folds and 1 seed")
    if max_seeds < 1:
        raise UsageError(f"max_seeds={max_seeds} must be at least 1")
    ratio = 1.0 / (folds - 1) if test_train_ratio is None else float(test_train_ratio)
    n = n_pairs if n_pairs is not None else (folds * seeds if seeds_redraw_folds else folds)
    now_sd = sd if current_sd is None else current_sd
    _check(sd, n, ratio, alpha)
    _check(now_sd, n, ratio, alpha)
    now = corrected_power(effect, now_sd, n, ratio, alpha=alpha)
    detectable = detectable_difference(now_sd, n, ratio, power=power, alpha=alpha)
    ks = sorted({folds, *(candidate_folds if candidate_folds is not None else DEFAULT_FOLDS)})
    plans = []
    for k in ks:
        if k < 2:
            raise UsageError(f"candidate folds {k}: need at least 2")
        ratio_k = ratio if k == folds else 1.0 / (k - 1)
        sd_k = sd * (k / folds) ** sd_scaling
        plans.append(_fold_plan(effect, sd_k, k, ratio_k, power, alpha, max_seeds))
    return PowerPlan(
        effect=float(effect),
        sd=float(sd),
        current_sd=float(now_sd),
        folds=folds,
        seeds=seeds,
        n=n,
        test_train_ratio=ratio,
        seeds_redraw_folds=seeds_redraw_folds,
        power=now,
        detectable=detectable,
        target_power=power,
        alpha=alpha,
        sd_scaling=sd_scaling,
        plans=tuple(plans),
    )
