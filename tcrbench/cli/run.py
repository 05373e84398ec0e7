"""`tcrbench run`: the main job. Options override a --config TOML file; the resolved config is saved with the run.

Module-level imports stay light (no torch, scipy or polars): `tcrbench --help` imports this module to list the
command. Every option defaults to None so that a --config file can set it; `--help` shows the effective default
(the RunConfig's) and, where the values are a fixed set, the choices.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Optional

import typer

from tcrbench.errors import UsageError
from tcrbench.results.folder import RunFolder
from tcrbench.run.config import DEFAULT_CELL_TIMEOUT, RunConfig, apply_settings, load_config_file

_BUDGET = {
    "pretrain_epochs",
    "pretrain_steps",
    "pretrain_batch",
    "pretrain_chunk",
    "pretrain_lr",
    "finetune_epochs",
    "finetune_steps",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "warmup",
    "grad_clip",
    "schedule",
    "patience",
    "monitor",
    "val_fraction",
    "bucket",
}

_C = RunConfig()  # the effective defaults that --help shows
_B = _C.budget


def _opt(*names: str, help: str, shown: Any = None, choices: str = "", default: Any = None) -> Any:
    """An option whose help shows its effective default (`shown`) and, as its metavar, its choices."""
    kw: dict[str, Any] = {"help": help, "show_default": False if shown is None else str(shown)}
    if choices:
        kw["metavar"] = f"[{choices}]"
    return typer.Option(default, *names, **kw)


def build_config(config: Optional[Path], given: dict[str, Any]) -> RunConfig:
    """The run's configuration: the --config file (or the defaults), then every option given on the command line."""
    cfg = load_config_file(config) if config is not None else RunConfig()
    settings: dict[str, Any] = {k: v for k, v in given.items() if v is not None and k not in _BUDGET}
    budget = {k: v for k, v in given.items() if v is not None and k in _BUDGET}
    if (settings.get("augs") or settings.get("objectives")) and "pairs" not in settings:
        settings["pairs"] = None  # --aug/--objective on the command line replace the config file's pairs
    if budget:
        settings["budget"] = budget
    return apply_settings(cfg, settings, "command line")


# the command's parameters that are not run settings, and those whose setting has another name
_NOT_SETTINGS = {"config", "baseline", "no_baselines", "out", "overwrite", "retry_failed", "quiet", "as_json"}
_NOT_SETTINGS |= {"executor", "workers", "scheduler", "scheduler_file", "dashboard", "track", "max_retries"}
_RENAMED = {
    "aug": "augs",
    "objective": "objectives",
    "pair": "pairs",
    "protocol": "protocols",
    "label_fraction": "label_fractions",
    "published_encoder": "published_encoders",
    "metric": "metrics",
}


def settings_given(args: dict[str, Any]) -> dict[str, Any]:
    """The run settings among the command's arguments (None or empty: not given), named as RunConfig names them."""
    from tcrbench.run.validate_values import check_seed_count
    from tcrbench.training.checkpoint import parse_duration

    given: dict[str, Any] = {_RENAMED.get(k, k): (v or None) if isinstance(v, list) else v for k, v in args.items()}
    for key in _NOT_SETTINGS:
        given.pop(key, None)
    if given["seeds"] is not None:  # before the list of seeds is made: --seeds 100000000 must not cost gigabytes
        check_seed_count(given["seeds"])
        given["seeds"] = list(range(given["seeds"]))
    drop = given.pop("drop_duplicates")
    given["duplicates"] = None if drop is None else ("drop" if drop else "keep")
    for key, flag in (("max_time", "--max-time"), ("cell_timeout", "--cell-timeout")):
        if given[key] is not None:
            given[key] = parse_duration(given[key], flag)
    return given


INTERRUPTED = 130  # the shell's status for a command ended by SIGINT (128 + 2)


def next_step_line(path: Path) -> str:
    """The last line of a run: where its results are, and the command that reports them."""
    return f"results: {path}  ·  next: tcrbench report {shlex.quote(str(path))}"


def interrupted_line(path: Optional[Path]) -> str:
    """What a Ctrl-C leaves: the finished rows in the run folder, and that the same command resumes."""
    if path is None:
        return "interrupted before the run folder was set up; run the same command again to start"
    rows_dir = RunFolder(path).rows_dir
    n = sum(1 for _ in rows_dir.glob("*.json")) if rows_dir.is_dir() else 0
    rows = "1 row" if n == 1 else f"{n} rows"
    return f"interrupted: {rows} finished in {path}; run the same command again to resume"


def run_and_report(
    cfg: RunConfig, backend: dict[str, Any], runner_kw: dict[str, Any], track: list[str], as_json: bool
) -> None:
    """Run the grid; then the board and the next command, or with --json the summary object alone on stdout."""
    import contextlib
    import json
    import sys

    from tcrbench.executors.select import build_executor
    from tcrbench.plugins.loader import get_plugins
    from tcrbench.run.outcome import run_outcome, stopped_outcome
    from tcrbench.run.runner import Runner
    from tcrbench.trackers import resolve_trackers
    from tcrbench.training.checkpoint import StoppedForTime

    def say(message: str) -> None:
        typer.echo(message, err=as_json)

    trackers = resolve_trackers(track)
    executor = build_executor(**backend, device=cfg.device, threads=cfg.threads, say=say)
    runner = Runner(cfg, get_plugins(), trackers=trackers, **runner_kw)
    # with --json, anything printed along the way (a plugin's print, a tracker's banner) goes to stderr
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        try:
            summary = runner.run(executor)
        except StoppedForTime as stop:  # not an error: the run is resumable, and scripts tell it by the status
            typer.echo(f"tcrbench: {stop}", err=True)
            if as_json:
                outcome = stopped_outcome(
                    getattr(runner, "path", None), getattr(runner, "config_hash", None), runner.computed, str(stop)
                )
            code, summary = stop.code, None
        except KeyboardInterrupt:  # Ctrl-C: finished rows are safe on disk, so say so instead of a traceback
            typer.echo(interrupted_line(getattr(runner, "path", None)), err=True)
            raise typer.Exit(code=INTERRUPTED) from None
    if summary is not None:
        code = 1 if summary.failed else 0
        if as_json:
            outcome = run_outcome(summary, code)
        else:
            from tcrbench.report.summary import print_summary

            print_summary(summary, cfg)
            typer.echo(next_step_line(summary.path))
    if as_json:
        typer.echo(json.dumps(outcome, sort_keys=True))
    if code:
        raise typer.Exit(code=code)


def register(app: typer.Typer) -> None:
    """Add `tcrbench run` to `app`; `tcrbench.cli.main` mounts each command module this way."""

    @app.command("run")
    def run_command(
        config: Optional[Path] = _opt("--config", help="TOML grid; command-line options override it.", shown="none"),
        data: Optional[str] = _opt("--data", help="Table (CSV, TSV, Parquet).", shown="synthetic data (--dataset)"),
        dataset: Optional[str] = _opt("--dataset", help="Dataset plugin when no --data.", shown=_C.dataset),
        columns: Optional[str] = _opt(
            "--columns", help="Column overrides: peptide=antigen,cdr3b=TCR,label=interaction", shown="aliases"
        ),
        cdr3: Optional[str] = _opt(
            "--cdr3", help="Keep, or strip the conserved C...F/W ends.", shown=_C.cdr3, choices="keep|strip"
        ),
        drop_duplicates: Optional[bool] = _opt(
            "--drop-duplicates/--keep-duplicates", help="Drop repeated (peptide, TCR) rows.", shown="keep-duplicates"
        ),
        subsample: Optional[int] = _opt(
            "--subsample", help="Stratified subsample of N rows (bounded CPU runs).", shown="all rows"
        ),
        aug: Optional[list[str]] = _opt(
            "--aug", help="Augmentation, repeatable: mask1, mask:p=0.2, mask1+substitute.", shown=",".join(_C.augs)
        ),
        objective: Optional[list[str]] = _opt(
            "--objective",
            help="Pretraining objective, repeatable: ntxent, mlm, ntxent+mlm.",
            shown=",".join(_C.objectives),
        ),
        pair: Optional[list[str]] = _opt(
            "--pair",
            help="AUG/OBJECTIVE pair instead of --aug x --objective, repeatable: mask1/ntxent, identity/mlm.",
            shown="the cross",
        ),
        encoder: Optional[str] = _opt("--encoder", help="Encoder: transformer:size=small, cnn, ...", shown=_C.encoder),
        published_encoder: Optional[list[str]] = _opt(
            "--published-encoder", help="Published model beside the recipe: sceptr, hf:path=DIR.", shown="none"
        ),
        split: Optional[str] = _opt(
            "--split", help="Fold strategy: random, tcr, peptide, given:column=partition.", shown=_C.split
        ),
        folds: Optional[int] = _opt("--folds", help="Number of folds (2-100).", shown=_C.folds),
        seeds: Optional[int] = _opt("--seeds", help="Number of seeds 0..N-1 (1-10,000).", shown=len(_C.seeds)),
        fixed_folds: Optional[bool] = _opt(
            "--fixed-folds/--redraw-folds",
            help="Seeds only re-initialise models (folds drawn once).",
            shown="redraw-folds",
        ),
        pretrain_on: Optional[str] = _opt(
            "--pretrain-on", help="all: the course's transductive protocol.", shown=_C.pretrain_on, choices="train|all"
        ),
        protocol: Optional[list[str]] = _opt(
            "--protocol",
            help="Evaluation protocol, repeatable.",
            shown=",".join(_C.protocols),
            choices="finetune|probe",
        ),
        pretrain_data: Optional[list[str]] = _opt(
            "--pretrain-data",
            help="Unlabelled sequences for pretraining, repeatable: a table file (AIRR TSV too) or olga:n=100000.",
            shown="none",
        ),
        label_fraction: Optional[str] = _opt(
            "--label-fraction",
            help="Fine-tune, probe and fit baselines on these shares of each fold's labels: 0.02,0.1,1.0.",
            shown="1.0",
        ),
        table_format: Optional[str] = _opt(
            "--format",
            help="Database export to convert: vdjdb[:min_score=1], mcpas, airr, scirpy, or none.",
            shown="detected from the header",
        ),
        negatives: Optional[str] = _opt(
            "--negatives",
            help="Make negatives for a table of binders only: "
            "swapped[:ratio=5,seed=0] or background:source=olga|FILE[,ratio=5,seed=0] "
            "(see docs/negatives.md).",
            shown="none",
        ),
        baseline: Optional[list[str]] = _opt(
            "--baseline", help="Only these simple baselines (repeatable).", shown="every registered baseline"
        ),
        no_baselines: bool = typer.Option(
            False, "--no-baselines", show_default="off", help="Skip the simple baselines (the supervised arm stays)."
        ),
        metric: Optional[list[str]] = _opt(
            "--metric", help="Only these metrics (repeatable).", shown="every registered metric"
        ),
        pretrain_epochs: Optional[int] = _opt(
            "--pretrain-epochs", help="Pretraining epochs.", shown=_B.pretrain_epochs
        ),
        pretrain_steps: Optional[int] = _opt("--pretrain-steps", help="Overrides --pretrain-epochs.", shown="unset"),
        pretrain_batch: Optional[int] = _opt(
            "--pretrain-batch", help="Contrastive batch: rows per pretraining step.", shown=_B.pretrain_batch
        ),
        pretrain_chunk: Optional[int] = _opt(
            "--chunk", help="Gradient-caching chunk for huge contrastive batches (0 = off).", shown=_B.pretrain_chunk
        ),
        pretrain_lr: Optional[float] = _opt("--pretrain-lr", help="Pretraining learning rate.", shown=_B.pretrain_lr),
        finetune_epochs: Optional[int] = _opt(
            "--epochs", help="Fine-tuning epochs (both arms).", shown=_B.finetune_epochs
        ),
        finetune_steps: Optional[int] = _opt("--steps", help="Fine-tuning steps; overrides --epochs.", shown="unset"),
        batch_size: Optional[int] = _opt("--batch-size", help="Fine-tuning batch size.", shown=_B.batch_size),
        lr: Optional[float] = _opt("--lr", help="Fine-tuning learning rate.", shown=_B.lr),
        optimizer: Optional[str] = _opt(
            "--optimizer", help="sgd as in the study.", shown=_B.optimizer, choices="adamw|sgd"
        ),
        weight_decay: Optional[float] = _opt("--weight-decay", help="Fine-tuning weight decay.", shown=_B.weight_decay),
        warmup: Optional[float] = _opt("--warmup", help="Warm-up fraction of steps.", shown=_B.warmup),
        grad_clip: Optional[float] = _opt("--grad-clip", help="Max gradient norm (0 = off).", shown=_B.grad_clip),
        schedule: Optional[str] = _opt(
            "--schedule",
            help="Learning rate after warm-up: decay to zero, or hold it.",
            shown=_B.schedule,
            choices="linear|constant",
        ),
        patience: Optional[int] = _opt(
            "--patience", help="Early stopping: epochs without a better validation score (0 = off).", shown=_B.patience
        ),
        monitor: Optional[str] = _opt(
            "--monitor",
            help="Early-stopping signal on the inner validation split.",
            shown=_B.monitor,
            choices="auroc|loss",
        ),
        val_fraction: Optional[float] = _opt(
            "--val-fraction",
            help="Share of each training fold held out for early stopping (0 = none).",
            shown=_B.val_fraction,
        ),
        bucket: Optional[bool] = _opt(
            "--bucket/--no-bucket",
            help="Length-bucketed batches, trimmed to their longest row.",
            shown="bucket" if _B.bucket else "no-bucket",
        ),
        framing: Optional[str] = _opt(
            "--framing",
            help="One output for all peptides, or a head per peptide.",
            shown=_C.framing,
            choices="pan|per_peptide",
        ),
        device: Optional[str] = _opt(
            "--device", help="auto: CUDA when present.", shown=_C.device, choices="auto|cpu|cuda|cuda:N"
        ),
        threads: Optional[int] = _opt(
            "--threads",
            help="torch and BLAS threads inside each cell, on every executor "
            "(a count other than 1 is part of the config hash).",
            shown=1,
        ),
        out: Optional[Path] = _opt("--out", help="Run folder.", shown="runs/<data>-<config hash>"),
        overwrite: bool = typer.Option(False, "--overwrite", show_default="off", help="Recompute every cell."),
        retry_failed: bool = typer.Option(
            False, "--retry-failed", show_default="off", help="Recompute cells that failed before."
        ),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", show_default="off", help="No progress bars or warnings on the terminal."
        ),
        as_json: bool = typer.Option(
            False,
            "--json",
            show_default="off",
            help="Print one JSON summary at the end and nothing else on stdout (progress and warnings go to stderr).",
        ),
        executor: Optional[str] = _opt(
            "--executor",
            help="Where cells run.",
            shown="serial, or processes with --workers, or dask with --scheduler",
            choices="serial|processes|dask|slurm",
        ),
        workers: Optional[int] = _opt(
            "--workers", help="Local worker processes.", shown="cores / --threads (at least 2), or one per GPU"
        ),
        scheduler: Optional[str] = _opt(
            "--scheduler", help="Join a running Dask cluster: tcp://host:8786.", shown="none"
        ),
        scheduler_file: Optional[Path] = _opt(
            "--scheduler-file", help="Join a Dask cluster by its scheduler file.", shown="none"
        ),
        dashboard: bool = typer.Option(False, "--dashboard", show_default="off", help="Serve Dask's dashboard."),
        track: Optional[list[str]] = _opt(
            "--track", help="Also log to these trackers (repeatable).", shown="none", choices="wandb|mlflow|tensorboard"
        ),
        max_retries: int = typer.Option(2, "--max-retries", help="Times a cell is retried after its worker dies."),
        eval_every: Optional[str] = _opt(
            "--eval-every",
            help="Evaluate pretraining checkpoints: every N steps, a list 100,500,2000, or log:N.",
            shown="off",
        ),
        dynamics_protocol: Optional[str] = _opt(
            "--dynamics-protocol",
            help="How checkpoints are evaluated.",
            shown=_C.dynamics_protocol,
            choices="probe|finetune",
        ),
        checkpoint_every: Optional[int] = _opt(
            "--checkpoint-every", help="Resumable pretraining checkpoint every N steps.", shown="off"
        ),
        checkpoint_minutes: Optional[float] = _opt(
            "--checkpoint-minutes", help="... and every M minutes (0 = off).", shown=f"{_C.checkpoint_minutes:g}"
        ),
        max_time: Optional[str] = _opt(
            "--max-time",
            help="Stop cleanly after this long (5400, 90m, 1h30m): exit status 3, re-run to resume.",
            shown="none",
        ),
        cell_timeout: Optional[str] = _opt(
            "--cell-timeout",
            help="Stop a cell that runs longer (same syntax as --max-time) and record it as failed; the grid goes on.",
            shown=f"{DEFAULT_CELL_TIMEOUT / 3600:g}h",
        ),
    ) -> None:
        """Pretrain, fine-tune and evaluate every configuration on every fold and seed, against the baselines."""
        given = settings_given(dict(locals()))
        if pair and (aug or objective):
            raise UsageError("--pair replaces --aug and --objective: give pairs or the cross, not both")
        if data is not None and not Path(data).exists():
            raise UsageError(f"--data {data}: file not found")
        cfg = build_config(config, given)
        if no_baselines:
            cfg.baselines = []
        elif baseline:
            cfg.baselines = list(baseline)
        backend = dict(
            kind=executor,
            workers=workers,
            scheduler=scheduler,
            scheduler_file=str(scheduler_file) if scheduler_file else None,
            dashboard=dashboard,
            max_retries=max_retries,
            config_file=config,  # its [slurm] table, for --executor slurm
        )
        runner_kw = dict(out=out, overwrite=overwrite, retry_failed=retry_failed, quiet=quiet)
        run_and_report(cfg, backend, runner_kw, track or [], as_json)
