"""Paired statistics for comparing a method with a baseline across CV folds and datasets (numpy + scipy).

Start with :func:`compare` (a long table of scores in, one typed row per method out) or, for two arrays of
fold scores, :func:`corrected_ttest`; :func:`plan_design` and :func:`plan_comparisons` say what a design can
detect. See docs/statistics.md for which test to use and why.
"""

from tcrbench.stats import flags
from tcrbench.stats._result import json_safe
from tcrbench.stats.bayesian import BayesianResult, bayesian_correlated_ttest
from tcrbench.stats.bootstrap import BootstrapResult, bootstrap_mean_diff
from tcrbench.stats.classic import WilcoxonResult, paired_ttest, wilcoxon
from tcrbench.stats.compare import Comparison, MethodComparison, compare, leaderboard_rows
from tcrbench.stats.corrected_t import TTestResult, corrected_ttest
from tcrbench.stats.effect import WinsTiesLosses, cohens_dz, wins_ties_losses
from tcrbench.stats.five_by_two import FiveByTwoResult, five_by_two_cv
from tcrbench.stats.friedman import FriedmanResult, NemenyiResult, critical_difference, friedman, nemenyi
from tcrbench.stats.mcnemar import McNemarResult, mcnemar
from tcrbench.stats.multiple import benjamini_hochberg, holm
from tcrbench.stats.planning import MethodPlan, plan_comparisons
from tcrbench.stats.power import FoldPlan, PowerPlan, corrected_power, detectable_difference, plan_design
from tcrbench.stats.sign_flip import SignFlipResult, sign_flip_test

__all__ = [
    "BayesianResult",
    "BootstrapResult",
    "Comparison",
    "FiveByTwoResult",
    "FoldPlan",
    "FriedmanResult",
    "McNemarResult",
    "MethodComparison",
    "MethodPlan",
    "NemenyiResult",
    "PowerPlan",
    "SignFlipResult",
    "TTestResult",
    "WilcoxonResult",
    "WinsTiesLosses",
    "bayesian_correlated_ttest",
    "benjamini_hochberg",
    "bootstrap_mean_diff",
    "cohens_dz",
    "compare",
    "corrected_power",
    "corrected_ttest",
    "critical_difference",
    "detectable_difference",
    "five_by_two_cv",
    "flags",
    "friedman",
    "holm",
    "json_safe",
    "leaderboard_rows",
    "mcnemar",
    "nemenyi",
    "paired_ttest",
    "plan_comparisons",
    "plan_design",
    "sign_flip_test",
    "wilcoxon",
    "wins_ties_losses",
]
