"""`tcrbench stats compare` and `tcrbench stats plan`: the leaderboard statistics and power planning for a
CSV of scores or a run folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tcrbench.cli.stats_format import num as _num
from tcrbench.cli.stats_format import pval as _p
from tcrbench.cli.stats_input import choose_baseline, load_scores, read_scores_table
from tcrbench.cli.stats_plan import SCORES_HELP, pairing_option, plan_cmd
from tcrbench.errors import UsageError

if TYPE_CHECKING:
    from tcrbench.stats import Comparison

app = typer.Typer(help="Paired statistics: is a method really better than the baseline?", no_args_is_help=True)

OUT_SUFFIXES = (".json", ".csv")
__all__ = ["app", "flag_help", "print_comparison", "read_scores_table", "write_csv", "write_json"]


def flag_help() -> dict[str, str]:
    """What each flag of a comparison row means (tcrbench.stats imports scipy, so only when a table is printed)."""
    from tcrbench.stats import flags

    return {
        flags.FEW_FOLDS: "so few pairs that no rank test could reach p < 0.05",
        flags.ZERO_VARIANCE: "differences do not vary: t is infinite, p is the exact sign-flip p",
        flags.IDENTICAL: "every difference is zero",
        flags.NAN_DROPPED: "pairs with a NaN score were dropped (--drop-nan)",
    }


@app.callback()
def _group() -> None:
    """Paired statistics: is a method really better than the baseline?"""


def print_comparison(result: Comparison, console: Console) -> None:
    """Headline table (corrected test) and a contrast table (naive tests, Bayesian posterior)."""
    from tcrbench.report.console import Row, fit_table, hidden_note
    from tcrbench.stats import flags

    ratio_note = "assumed 1/(k-1)" if result.ratio_assumed else "given"
    n_compared = len(result.rows) - 1
    console.print(
        f"[bold]{result.test}-test[/bold] vs baseline [bold]{escape(result.baseline)}[/bold]: "
        f"n_test/n_train = {result.test_train_ratio:.4g} ({ratio_note}); {result.pairing}"
        f"{f' (from the {result.pairing_from})' if result.pairing_from == 'split_seed column' else ''}; "
        f"Holm across {n_compared} method(s)."
    )
    pct = int(round(result.confidence * 100))
    cols = ["method", "mean ± sd", f"diff [{pct}% CI]", "t", "df", "p", "Holm p", "d_z", "W/T/L", "n", "flags"]
    rows: list[Row] = []
    for r in result.rows:
        mean_sd = f"{_num(r.mean)} ± {_num(r.sd)}"
        n = f"{r.n_folds}×{r.n_seeds}"
        if r.is_baseline:
            cells = [f"{r.method} (baseline)", mean_sd, "", "", "", "", "", "", "", n, ""]
        else:
            cells = [
                r.method,
                mean_sd,
                f"{_num(r.diff)} [{_num(r.ci_low)}, {_num(r.ci_high)}]",
                _num(r.t),
                str(r.df),
                _p(r.p),
                _p(r.p_holm),
                _num(r.d_z, 2),
                f"{r.wins}/{r.ties}/{r.losses}",
                n if not r.n_dropped else f"{n} (-{r.n_dropped} NaN)",
                ", ".join(r.flags),
            ]
        rows.append((dict(zip(cols, map(escape, cells))), None))
    numbers = [c for c in cols if c not in ("method", "flags")]
    main, hidden = fit_table(console, cols, rows, numeric=numbers, drop_order=("df", "t", "d_z", "n", "W/T/L", "p"))
    console.print(main)
    if hidden:
        console.print(hidden_note(hidden, "--out FILE.json or FILE.csv has every number"))

    equivalent = f"P(|diff| ≤ {result.rope:g})"
    cols = ["method", "paired t p", "Wilcoxon p", "sign-flip p", "P(better)", equivalent, "P(worse)", "5x2cv t p / F p"]
    rows = []
    for r in result.rows:
        if r.is_baseline or r.paired_t is None or r.wilcoxon is None or r.bayesian is None:
            continue
        five = f"{_p(r.five_by_two.t_p)} / {_p(r.five_by_two.f_p)}" if r.five_by_two else "-"
        cells = [
            r.method,
            _p(r.paired_t.p),
            _p(r.wilcoxon.p),
            _p(r.sign_flip.p) if r.sign_flip else "-",
            _num(r.bayesian.p_better),
            _num(r.bayesian.p_equivalent),
            _num(r.bayesian.p_worse),
            five,
        ]
        rows.append((dict(zip(cols, map(escape, cells))), None))
    contrast, hidden = fit_table(
        console,
        cols,
        rows,
        numeric=cols[1:],
        drop_order=("5x2cv t p / F p", "sign-flip p", "P(worse)", equivalent),
        title="For contrast (paired t and Wilcoxon ignore the overlap of CV training sets)",
    )
    console.print(contrast)
    if hidden:
        console.print(hidden_note(hidden, "--out FILE.json or FILE.csv has every number"))
    power_pct = 80
    for r in result.rows:
        if not r.is_baseline and r.detectable is not None and r.p is not None and r.p >= 1.0 - result.confidence:
            console.print(
                f"  {escape(r.method)}: not shown to differ; this design detects a true difference of "
                f"{_num(r.detectable)} with {power_pct}% power (tcrbench stats plan: what would detect less)"
            )
    shown = sorted({f for r in result.rows for f in r.flags})
    meanings = flag_help()
    for f in shown:
        console.print(f"  {f}: {meanings.get(f, '')}")
    few = [r for r in result.rows if flags.FEW_FOLDS in r.flags]
    if few:
        corrected = few[0].corrected
        if corrected is not None:
            console.print(f"  smallest p a rank test can reach with these pairs: {_p(corrected.min_rank_p)}")


def write_csv(result: Comparison, path: Path) -> None:
    rows = result.to_rows()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_json(result: Comparison, path: Path) -> None:
    from tcrbench.stats import json_safe

    path.write_text(json.dumps(json_safe(result.to_dict()), indent=2, allow_nan=False) + "\n", encoding="utf-8")


@app.command("compare")
def compare_cmd(
    scores: Path = typer.Argument(..., help=SCORES_HELP),
    baseline: Optional[str] = typer.Option(
        None,
        "--baseline",
        "-b",
        help="The method every other method is compared with. Run folder default: the supervised fine-tune arm.",
    ),
    n_train: Optional[float] = typer.Option(None, "--n-train", help="Training-set size per fold (with --n-test)."),
    n_test: Optional[float] = typer.Option(None, "--n-test", help="Test-set size per fold (with --n-train)."),
    ratio: Optional[float] = typer.Option(
        None,
        "--ratio",
        help="n_test / n_train, e.g. 0.5 for 3-fold CV. Default: a run folder's sizes, else 1/(k-1), flagged.",
    ),
    seeds_redraw_folds: Optional[bool] = pairing_option(),
    metric: Optional[str] = typer.Option(
        None, "--metric", help="Run folder only: the metric to compare (default: the run's primary metric)."
    ),
    label_fraction: Optional[float] = typer.Option(
        None, "--label-fraction", help="Run folder only: the label fraction to compare (default: the largest)."
    ),
    drop_nan: bool = typer.Option(False, "--drop-nan", help="Drop pairs with a NaN score instead of failing."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the interval."),
    rope: float = typer.Option(
        0.0, "--rope", help="Region of practical equivalence for the Bayesian test, in score units."
    ),
    resolution: Optional[float] = typer.Option(
        None, "--resolution", help="Round scores to this before counting wins/ties/losses (e.g. 0.001)."
    ),
    lower_is_better: bool = typer.Option(False, "--lower-is-better", help="The score is a loss or an error rate."),
    out: Optional[list[Path]] = typer.Option(None, "--out", help="Also write FILE.json and/or FILE.csv (repeatable)."),
) -> None:
    """Compare every method in SCORES with --baseline: corrected t-test, Holm, d_z, wins/ties/losses."""
    from tcrbench.stats import compare

    outputs = list(out or [])
    for path in outputs:
        if path.suffix.lower() not in OUT_SUFFIXES:
            raise UsageError(f"--out {path}: the file name must end in .json or .csv")
    if ratio is not None and (n_train is not None or n_test is not None):
        raise UsageError("--ratio and --n-train/--n-test both given: use one or the other")
    if (n_train is None) != (n_test is None):
        raise UsageError("--n-train and --n-test go together: give both")
    table = load_scores(scores, metric, label_fraction)
    if ratio is None and n_train is None:
        ratio = table.ratio
    result = compare(
        table.columns,
        choose_baseline(baseline, table),
        test_train_ratio=ratio,
        n_train=n_train,
        n_test=n_test,
        seeds_redraw_folds=seeds_redraw_folds,
        drop_nan=drop_nan,
        confidence=confidence,
        rope=rope,
        resolution=resolution,
        higher_is_better=not lower_is_better,
        source=table.source,
        lines=table.lines,
    )
    from tcrbench.report.console import terminal_console

    console = terminal_console()
    if table.metric:
        console.print(f"metric: {table.metric}")
    print_comparison(result, console)
    for path in outputs:
        (write_json if path.suffix.lower() == ".json" else write_csv)(result, path)
        console.print(f"wrote {path}")


app.command("plan")(plan_cmd)
