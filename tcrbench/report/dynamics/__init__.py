"""The training-dynamics section of a leaderboard: downstream score against pretraining step.

For every pretrained configuration run with --eval-every: the metric at each evaluated step (mean and corrected
CI over folds × seeds), its gain over the supervised arm of the same protocol (paired by fold and seed), the
pretraining loss at that step, the step where the gain plateaus (tcrbench.stats.plateau) and whether the loss
had converged by then. The best checkpoint is reported with the warning it deserves: it was chosen on the test
folds.

One job per module: ``model`` (the section's types), ``build`` (the statistics from result rows), ``text`` (the
sentences and table rows Markdown and HTML show) and ``plot`` (the figure). leaderboard.json writes the section
in tcrbench.report.json_report.
"""
