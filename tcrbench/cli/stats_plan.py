"""`tcrbench stats plan`: what the observed scores' design can detect, and the folds × seeds that would do.

Each method's observed sd of differences against the baseline and the test/train ratio go into
tcrbench.stats.plan_comparisons; the table shows the power now and, per number of folds, the seeds (with
redrawn folds) needed, or that no number of seeds suffices at that many folds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tcrbench.cli.stats_format import num
from tcrbench.cli.stats_input import choose_baseline, load_scores
from tcrbench.errors import UsageError

if TYPE_CHECKING:
    from tcrbench.stats.planning import MethodPlan

SCORES_HELP = (
    "A run folder, or a CSV (or .tsv) with columns method, fold, score and optionally seed and split_seed "
    "(the seed that drew the folds)."
)


def pairing_option() -> Any:
    """--seeds-redraw-folds/--fixed-folds, default None: the data decide (split_seed, run folder)."""
    return typer.Option(
        None,
        "--seeds-redraw-folds/--fixed-folds",
        " /--seeds-reinit",
        help="Each seed drew new folds (pairs: every cell) or only re-initialised the model on fixed folds "
        "(pairs: fold means). Needed with several seeds unless the table has a split_seed column "
        "or is a run folder.",
    )


def _folds_list(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--folds {text}: expected comma-separated whole numbers, e.g. 3,5,10") from None
    if not ks or min(ks) < 2:
        raise UsageError(f"--folds {text}: every number of folds must be at least 2")
    return ks


def print_plans(
    plans: list[MethodPlan], effect: float, target: float, alpha: float, max_seeds: int, console: Console
) -> None:
    """One row per method: power now, detectable difference, and per number of folds the seeds needed."""
    from tcrbench.report.console import Row, fit_table, hidden_note

    ks = sorted({p.folds for m in plans if m.plan for p in m.plan.plans})
    cols = ["method", "sd(d)", "n_test/n_train", "design now", "power now", "detectable now"]
    cols += [f"{k} folds × seeds" for k in ks]
    rows: list[Row] = []
    notes: list[str] = []
    for m in plans:
        design = f"{m.folds}×{m.seeds} ({m.n_pairs} pairs)"
        if m.plan is None:
            rows.append(
                (dict(zip(cols, map(escape, [m.method, "0", "-", design, "-", "-", *(["-"] * len(ks))]))), None)
            )
            notes.append(escape(f"{m.method}: {m.note}"))
            continue
        cells = []
        for k in ks:
            fp = next(p for p in m.plan.plans if p.folds == k)
            if fp.seeds_needed is not None:
                cells.append(f"{k}×{fp.seeds_needed}")
            elif fp.power_limit <= target:
                cells.append(f"not reachable with {k} folds (max power {fp.power_limit:.2f})")
            else:
                cells.append(f"more than {k}×{max_seeds}")
        values = [
            m.method,
            num(m.plan.current_sd, 4),
            f"{m.plan.test_train_ratio:.4g}",
            design,
            f"{m.plan.power:.2f}",
            num(m.plan.detectable, 4),
            *cells,
        ]
        rows.append((dict(zip(cols, map(escape, values))), None))
    table, hidden = fit_table(
        console,
        cols,
        rows,
        numeric=cols[1:3] + cols[4:6],
        drop_order=("n_test/n_train", "sd(d)", "design now"),
        title=f"Detecting a true difference of {effect:g} with {target:.0%} power (alpha {alpha:g})",
    )
    console.print(table)
    if hidden:
        console.print(hidden_note(hidden, "--out FILE.json has every number"))
    console.print(
        "  Seeds redraw the folds in every planned design; at k folds the standard error never drops below "
        "sqrt(1/(k-1))·sd(d), so more seeds stop helping. sd(d) at other k is scaled by (k/k_now)^sd_scaling."
    )
    for note in notes:
        console.print(f"  {note}")


def plan_cmd(
    scores: Path = typer.Argument(..., help=SCORES_HELP),
    effect: float = typer.Option(..., "--effect", help="The true difference to detect, in score units (e.g. 0.02)."),
    baseline: Optional[str] = typer.Option(
        None,
        "--baseline",
        "-b",
        help="The method every other method is compared with. Run folder default: the supervised fine-tune arm.",
    ),
    power: float = typer.Option(0.8, "--power", help="The power to plan for."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the two-sided test."),
    folds: str = typer.Option("3,5,10", "--folds", help="Numbers of folds to plan for (the current one is added)."),
    max_seeds: int = typer.Option(100, "--max-seeds", help="Most seeds (repetitions of CV) a plan may ask for."),
    sd_scaling: float = typer.Option(
        0.5, "--sd-scaling", help="sd(d) at k folds = sd(d) now · (k/k_now)^this; 0.5: test-set noise dominates."
    ),
    ratio: Optional[float] = typer.Option(
        None, "--ratio", help="n_test / n_train now. Default: a run folder's sizes, else 1/(k-1)."
    ),
    seeds_redraw_folds: Optional[bool] = pairing_option(),
    metric: Optional[str] = typer.Option(
        None, "--metric", help="Run folder only: the metric to plan for (default: the run's primary metric)."
    ),
    label_fraction: Optional[float] = typer.Option(
        None, "--label-fraction", help="Run folder only: the label fraction to plan for (default: the largest)."
    ),
    drop_nan: bool = typer.Option(False, "--drop-nan", help="Drop pairs with a NaN score instead of failing."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the plans to FILE.json."),
) -> None:
    """Power of the current design to detect --effect, and the folds × seeds needed for --power."""
    from tcrbench.stats import json_safe, plan_comparisons  # scipy: only when a plan is made

    if not effect or effect != effect:
        raise UsageError(f"--effect {effect}: give the non-zero true difference to detect, e.g. 0.02")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha {alpha}: must lie strictly between 0 and 1")
    if not alpha < power < 1.0:
        raise UsageError(f"--power {power}: must lie between --alpha and 1")
    if max_seeds < 1:
        raise UsageError(f"--max-seeds {max_seeds}: must be at least 1")
    if out is not None and out.suffix.lower() != ".json":
        raise UsageError(f"--out {out}: the file name must end in .json")
    candidate = _folds_list(folds)
    table = load_scores(scores, metric, label_fraction)
    result, plans = plan_comparisons(
        table.columns,
        choose_baseline(baseline, table),
        abs(effect),
        power=power,
        alpha=alpha,
        candidate_folds=candidate,
        max_seeds=max_seeds,
        sd_scaling=sd_scaling,
        test_train_ratio=ratio if ratio is not None else table.ratio,
        seeds_redraw_folds=seeds_redraw_folds,
        drop_nan=drop_nan,
        source=table.source,
        lines=table.lines,
    )
    from tcrbench.report.console import terminal_console

    console = terminal_console()
    metric_note = f"metric {table.metric}; " if table.metric else ""
    console.print(f"{metric_note}baseline [bold]{result.baseline}[/bold]; {result.pairing}.")
    print_plans(plans, abs(effect), power, alpha, max_seeds, console)
    if out is not None:
        data = {"baseline": result.baseline, "pairing": result.pairing, "plans": [m.to_dict() for m in plans]}
        out.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        console.print(f"wrote {out}")
