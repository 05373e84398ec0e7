"""Names of the warnings a result can carry; strings so they survive JSON and CSV unchanged."""

from __future__ import annotations

#: So few pairs that no rank test could reach p < 0.05 (3 folds: 0.25 at best; 5 folds: 0.0625).
FEW_FOLDS = "few_folds"
#: The differences do not vary but are not zero: the t statistic is infinite, p is the exact sign-flip p.
ZERO_VARIANCE = "zero_variance"
#: Every difference is zero: p = 1.
IDENTICAL = "identical"
#: Some pairs had a NaN score and were dropped on request (the result says how many).
NAN_DROPPED = "nan_dropped"
#: The test assumes independent pairs, which cross-validation folds are not: p is too small.
INVALID_FOR_CV = "invalid_for_cv"
#: n_test/n_train was not given; 1/(k-1), the k-fold value, was assumed.
RATIO_ASSUMED = "ratio_assumed"

#: Below this smallest reachable rank-test p a design has too few folds to show anything at the 5% level.
FEW_FOLDS_ALPHA = 0.05

ALL = (FEW_FOLDS, ZERO_VARIANCE, IDENTICAL, NAN_DROPPED, INVALID_FOR_CV, RATIO_ASSUMED)
