"""The plateau and loss-convergence rules on constructed curves whose answer follows from how they were built."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcrbench.stats.plateau import loss_converged, plateau

STEPS = list(range(0, 2100, 100))  # 0, 100, ..., 2000


def _jitter(n: int, size: float) -> np.ndarray:
    return size * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


def test_a_step_in_the_gain_plateaus_where_it_steps():
    gain = np.where(np.asarray(STEPS) >= 800, 0.05, 0.0) + _jitter(len(STEPS), 0.001)
    found = plateau(STEPS, gain, [0.004] * len(STEPS))
    assert found.step == 800 and found.reached
    assert found.level == pytest.approx(0.05, abs=0.001) and found.half_width == pytest.approx(0.004)


def test_a_ramp_plateaus_once_it_is_within_one_standard_error_of_its_level():
    # rises 0.005 per checkpoint to 0.05 at step 1000; the checkpoint before is 0.005 (> 1 se = 0.004) short
    gain = np.minimum(np.asarray(STEPS) / 1000 * 0.05, 0.05)
    assert plateau(STEPS, gain, [0.004] * len(STEPS)).step == 1000
    # a band twice as wide lets the checkpoint 0.005 short of the level in: one step earlier
    assert plateau(STEPS, gain, [0.004] * len(STEPS), width=2.0).step == 900


def test_the_band_is_the_curves_own_noise():
    gain = np.where(np.asarray(STEPS) >= 800, 0.05, 0.0)
    assert plateau(STEPS, gain, [0.1] * len(STEPS)).step == 0  # the whole rise is inside the noise
    assert plateau(STEPS, gain, [0.0] * len(STEPS)).step == 800  # no noise: exactly where it stops changing


def test_a_curve_still_rising_at_the_end_has_no_plateau_reached():
    gain = np.asarray(STEPS) / 2000 * 0.1
    found = plateau(STEPS, gain, [0.001] * len(STEPS))
    assert found.step == 2000 and not found.reached


def test_missing_points_are_left_out():
    gain = np.where(np.asarray(STEPS) >= 800, 0.05, 0.0)
    gain[10] = math.nan  # a checkpoint whose every cell failed
    noise = [0.004] * len(STEPS)
    noise[12] = math.nan  # a checkpoint with a single cell: no standard error of its own
    assert plateau(STEPS, gain, noise).step == 800


@pytest.mark.parametrize("steps, values, noise, message", [
    ([0, 100], [0.1], [0.0, 0.0], "differ in length"),
    ([100, 100], [0.1, 0.2], [0.0, 0.0], "strictly increasing"),
    ([0, 100], [math.nan, math.nan], [0.0, 0.0], "no finite point"),
])
def test_plateau_rejects_bad_curves(steps, values, noise, message):
    with pytest.raises(ValueError, match=message):
        plateau(steps, values, noise)


def test_an_exponential_loss_converges_where_5_percent_of_its_drop_remains():
    s = np.asarray(STEPS[:16] + list(range(1600, 3100, 100)))
    loss = 1.0 + 3.0 * np.exp(-s / 300.0)
    # remaining drop 3(e^(-s/300) - e^(-10)) <= 0.05 * 3(1 - e^(-10))  <=>  s >= 300 ln(1/0.05) ≈ 899
    assert loss_converged(s, loss) == 900
    assert loss_converged(s, loss, tolerance=0.5) == 300  # 300 ln 2 ≈ 208: the first checkpoint past it


def test_a_loss_still_falling_or_falling_again_late():
    s = np.asarray(STEPS)
    assert loss_converged(s, 5.0 - s / 1000) is None  # straight down to the end
    late = np.where(s < 500, 5.0 - s / 250, 3.0)  # flat from 500 ...
    late = np.where(s >= 1800, 2.5, late)  # ... then a late drop of 0.5 (20% of the range 2.5)
    assert loss_converged(s, late) == 1800
    assert loss_converged(s, np.full(len(s), 2.0)) == 0
    assert loss_converged([5], [1.0]) is None
