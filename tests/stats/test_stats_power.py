"""Power, detectable difference and the design planner of the corrected t-test, against simulations of the
model they assume: n differences sharing one N(0, ratio·sd²) offset on top of independent N(0, sd²) noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import corrected_power, detectable_difference, plan_design


def _simulated_power(effect: float, sd: float, n: int, ratio: float, draws: int = 2000, seed: int = 0) -> float:
    """Rejection rate of the corrected test (computed by hand, vectorised) on simulated differences."""
    rng = np.random.default_rng(seed)
    d = effect + rng.normal(0.0, sd * math.sqrt(ratio), (draws, 1)) + rng.normal(0.0, sd, (draws, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) * math.sqrt(1.0 / n + ratio))
    return float(np.mean(np.abs(t) > sps.t.ppf(0.975, n - 1)))


@pytest.mark.parametrize(("effect", "sd", "n", "ratio"), [(0.02, 0.02, 15, 0.25), (0.05, 0.03, 10, 1 / 9),
                                                          (1.0, 1.0, 6, 0.5), (0.0, 0.02, 5, 0.25)])
def test_power_matches_a_simulation_of_its_model(effect: float, sd: float, n: int, ratio: float) -> None:
    expected = corrected_power(effect, sd, n, ratio)
    simulated = _simulated_power(effect, sd, n, ratio)
    assert abs(simulated - expected) < 0.035, (simulated, expected)  # 2000 draws: SE at most 0.011
    if effect == 0:
        assert expected == pytest.approx(0.05)


def test_power_without_correction_is_the_one_sample_t_power() -> None:
    # ratio 0: the noncentral t with nc = effect/sd*sqrt(n), the textbook power of a paired t-test
    n, es = 12, 0.8
    crit = sps.t.ppf(0.975, n - 1)
    textbook = sps.nct.sf(crit, n - 1, es * math.sqrt(n)) + sps.nct.cdf(-crit, n - 1, es * math.sqrt(n))
    assert corrected_power(es, 1.0, n, 0.0) == pytest.approx(textbook, rel=1e-10)
    assert corrected_power(-es, 1.0, n, 0.0) == pytest.approx(textbook, rel=1e-10)  # two-sided


def test_detectable_difference_has_the_asked_power_and_saturates() -> None:
    sd, ratio = 0.02, 0.25
    for n in (2, 5, 15, 50):
        d = detectable_difference(sd, n, ratio)
        assert corrected_power(d, sd, n, ratio) == pytest.approx(0.8, abs=1e-6)
    assert detectable_difference(sd, 15, ratio) < detectable_difference(sd, 5, ratio)
    # unlimited pairs: only the ratio term is left, se = sqrt(ratio)*sd, and the normal quantiles apply
    floor = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * math.sqrt(ratio) * sd
    assert detectable_difference(sd, 100_000, ratio) == pytest.approx(floor, rel=2e-3)
    assert detectable_difference(sd, 5, ratio, power=0.9) > detectable_difference(sd, 5, ratio)


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="at least 2 pairs"):
        corrected_power(0.1, 1.0, 1, 0.25)
    with pytest.raises(UsageError, match="power=0.01"):
        detectable_difference(1.0, 5, 0.25, power=0.01)
    with pytest.raises(UsageError, match="effect=0"):
        plan_design(0.0, 1.0, folds=5)


def test_planner_finds_the_smallest_design_and_it_has_the_power() -> None:
    effect, sd = 0.03, 0.02  # ratio 0.25 at 5 folds: unlimited seeds would give nc 3, power 0.85
    plan = plan_design(effect, sd, folds=5, seeds=1, candidate_folds=[5], sd_scaling=0.0)
    five = plan.plans[0]
    assert five.reachable and five.seeds_needed is not None
    r = five.seeds_needed
    assert corrected_power(effect, sd, 5 * r, 0.25) >= 0.8 > corrected_power(effect, sd, 5 * (r - 1), 0.25)
    # simulated: the planned design reaches 80% power, one seed fewer does not
    assert _simulated_power(effect, sd, 5 * r, 0.25, draws=3000, seed=1) > 0.77
    assert _simulated_power(effect, sd, 5 * (r - 1), 0.25, draws=3000, seed=2) < 0.8
    assert plan.power == pytest.approx(corrected_power(effect, sd, 5, 0.25))


def test_planner_says_when_no_number_of_seeds_suffices() -> None:
    effect, sd = 0.02, 0.02  # at 5 folds the standard error never drops below 0.5*sd: nc <= 2
    plan = plan_design(effect, sd, folds=5, seeds=3, candidate_folds=[3, 10], sd_scaling=0.0)
    by_k = {p.folds: p for p in plan.plans}
    assert set(by_k) == {3, 5, 10}
    for k in (3, 5):
        assert not by_k[k].reachable and by_k[k].seeds_needed is None
        assert f"not reachable with {k} folds" in by_k[k].note
        assert by_k[k].power_limit == pytest.approx(sps.norm.sf(1.96 - effect / (sd * math.sqrt(1 / (k - 1)))), abs=1e-3)
    assert by_k[10].reachable and by_k[10].test_train_ratio == pytest.approx(1 / 9)
    assert plan.n == 15 and plan.power < 0.8
    # sd growing with k (test-set noise, exponent 0.5) makes 10 folds unreachable too
    scaled = plan_design(effect, sd, folds=5, seeds=3, candidate_folds=[10])
    assert scaled.plans[-1].sd == pytest.approx(sd * math.sqrt(2)) and not scaled.plans[-1].reachable


def test_planner_current_design_with_fixed_folds_uses_k_pairs() -> None:
    plan = plan_design(0.02, 0.02, folds=5, seeds=4, seeds_redraw_folds=False, current_sd=0.01, candidate_folds=[])
    assert plan.n == 5 and plan.power == pytest.approx(corrected_power(0.02, 0.01, 5, 0.25))
    assert plan.detectable == pytest.approx(detectable_difference(0.01, 5, 0.25))
