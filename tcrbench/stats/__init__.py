"""Paired statistics for comparing a method with a baseline across CV folds and datasets (numpy + scipy).

Start with :func:`compare` (a long table of scores in, one typed row per method out) or, for two arrays of
fold scores, :func:`corrected_ttest`. See docs/statistics.md for which test to use and why.
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

__all__ = [
    "BayesianResult",
    "BootstrapResult",
    "Comparison",
    "FiveByTwoResult",
    "FriedmanResult",
    "McNemarResult",
    "MethodComparison",
    "NemenyiResult",
    "TTestResult",
    "WilcoxonResult",
    "WinsTiesLosses",
    "bayesian_correlated_ttest",
    "benjamini_hochberg",
    "bootstrap_mean_diff",
    "cohens_dz",
    "compare",
    "corrected_ttest",
    "critical_difference",
    "five_by_two_cv",
    "flags",
    "friedman",
    "holm",
    "json_safe",
    "leaderboard_rows",
    "mcnemar",
    "nemenyi",
    "paired_ttest",
    "wilcoxon",
    "wins_ties_losses",
]
