"""`tcrbench run`: the main job. Options override a --config TOML file; the resolved config is saved with the run."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Optional

import typer

from tcrbench.errors import UsageError
from tcrbench.results.folder import RunFolder
from tcrbench.run.config import RunConfig, apply_settings, load_config_file

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


def register(app: typer.Typer) -> None:
    """Add `tcrbench run` to `app`; `tcrbench.cli.main` mounts each command module this way."""

    @app.command("run")
    def run_command(
        config: Optional[Path] = typer.Option(None, "--config", help="TOML grid; command-line options override it."),
        data: Optional[str] = typer.Option(None, "--data", help="Table (CSV, TSV, Parquet). Default: synthetic data."),
        dataset: Optional[str] = typer.Option(
            None, "--dataset", help="Dataset plugin when no --data (default synthetic)."
        ),
        columns: Optional[str] = typer.Option(
            None, "--columns", help="Column overrides: peptide=antigen,cdr3b=TCR,label=interaction"
        ),
        cdr3: Optional[str] = typer.Option(None, "--cdr3", help="keep, or strip the conserved C...F/W ends."),
        drop_duplicates: Optional[bool] = typer.Option(
            None, "--drop-duplicates/--keep-duplicates", help="Drop repeated (peptide, TCR) rows."
        ),
        subsample: Optional[int] = typer.Option(
            None, "--subsample", help="Stratified subsample of N rows (bounded CPU runs)."
        ),
        aug: Optional[list[str]] = typer.Option(
            None, "--aug", help="Augmentation, repeatable: mask1, mask:p=0.2, mask1+substitute."
        ),
        objective: Optional[list[str]] = typer.Option(
            None, "--objective", help="Pretraining objective, repeatable: ntxent, mlm, ntxent+mlm."
        ),
        pair: Optional[list[str]] = typer.Option(
            None,
            "--pair",
            help="AUG/OBJECTIVE pair instead of --aug x --objective, repeatable: mask1/ntxent, identity/mlm.",
        ),
        encoder: Optional[str] = typer.Option(None, "--encoder", help="Encoder: transformer:size=small, cnn, ..."),
        split: Optional[str] = typer.Option(
            None, "--split", help="Fold strategy: random, tcr, peptide, given:column=partition."
        ),
        folds: Optional[int] = typer.Option(None, "--folds", help="Number of folds (default 5)."),
        seeds: Optional[int] = typer.Option(None, "--seeds", help="Number of seeds 0..N-1 (default 1)."),
        fixed_folds: Optional[bool] = typer.Option(
            None, "--fixed-folds/--redraw-folds", help="Seeds only re-initialise models (folds drawn once)."
        ),
        pretrain_on: Optional[str] = typer.Option(
            None, "--pretrain-on", help="train (default) or all: the course's transductive protocol."
        ),
        protocol: Optional[list[str]] = typer.Option(None, "--protocol", help="finetune and/or probe (default both)."),
        pretrain_data: Optional[list[str]] = typer.Option(
            None,
            "--pretrain-data",
            help="Unlabelled sequences for pretraining, repeatable: a table file (AIRR TSV too) or olga:n=100000.",
        ),
        label_fraction: Optional[str] = typer.Option(
            None,
            "--label-fraction",
            help="Fine-tune, probe and fit baselines on these shares of each fold's labels: 0.02,0.1,1.0.",
        ),
        table_format: Optional[str] = typer.Option(
            None,
            "--format",
            help="Database export to convert: vdjdb[:min_score=1], mcpas, airr, scirpy, or none (default: detected).",
        ),
        negatives: Optional[str] = typer.Option(
            None,
            "--negatives",
            help="Make negatives for a table of binders only: swapped[:ratio=5,seed=0] or "
            "background:source=olga|FILE[,ratio=5,seed=0] (see docs/negatives.md).",
        ),
        baseline: Optional[list[str]] = typer.Option(
            None, "--baseline", help="Only these simple baselines (repeatable)."
        ),
        no_baselines: bool = typer.Option(
            False, "--no-baselines", help="Skip the simple baselines (the supervised arm stays)."
        ),
        metric: Optional[list[str]] = typer.Option(None, "--metric", help="Only these metrics (repeatable)."),
        pretrain_epochs: Optional[int] = typer.Option(None, "--pretrain-epochs"),
        pretrain_steps: Optional[int] = typer.Option(None, "--pretrain-steps", help="Overrides --pretrain-epochs."),
        pretrain_batch: Optional[int] = typer.Option(
            None, "--pretrain-batch", help="Contrastive batch: rows per pretraining step."
        ),
        pretrain_chunk: Optional[int] = typer.Option(
            None, "--chunk", help="Gradient-caching chunk for huge contrastive batches (0 = off)."
        ),
        pretrain_lr: Optional[float] = typer.Option(None, "--pretrain-lr"),
        finetune_epochs: Optional[int] = typer.Option(None, "--epochs", help="Fine-tuning epochs (both arms)."),
        finetune_steps: Optional[int] = typer.Option(None, "--steps", help="Fine-tuning steps; overrides --epochs."),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Fine-tuning batch size."),
        lr: Optional[float] = typer.Option(None, "--lr", help="Fine-tuning learning rate."),
        optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adamw (default) or sgd (as in the study)."),
        weight_decay: Optional[float] = typer.Option(None, "--weight-decay"),
        warmup: Optional[float] = typer.Option(None, "--warmup", help="Warm-up fraction of steps."),
        grad_clip: Optional[float] = typer.Option(None, "--grad-clip", help="Max gradient norm (0 = off)."),
        schedule: Optional[str] = typer.Option(
            None, "--schedule", help="Learning rate after warm-up: linear (decay to zero) or constant."
        ),
        patience: Optional[int] = typer.Option(
            None, "--patience", help="Early stopping: epochs without a better validation score (0 = off)."
        ),
        monitor: Optional[str] = typer.Option(
            None, "--monitor", help="Early-stopping signal on the inner validation split: auroc or loss."
        ),
        val_fraction: Optional[float] = typer.Option(
            None, "--val-fraction", help="Share of each training fold held out for early stopping (0 = none)."
        ),
        bucket: Optional[bool] = typer.Option(
            None, "--bucket/--no-bucket", help="Length-bucketed batches, trimmed to their longest row."
        ),
        framing: Optional[str] = typer.Option(
            None, "--framing", help="pan (one output for all peptides) or per_peptide (a head per peptide)."
        ),
        device: Optional[str] = typer.Option(None, "--device", help="auto (CUDA when present), cpu, cuda:N."),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads."),
        out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default runs/<data>-<config hash>)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Recompute every cell."),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="Recompute cells that failed before."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
        executor: Optional[str] = typer.Option(None, "--executor", help="serial (default), processes or dask."),
        workers: Optional[int] = typer.Option(
            None, "--workers", help="Local worker processes (default: 2, or one per GPU)."
        ),
        scheduler: Optional[str] = typer.Option(
            None, "--scheduler", help="Join a running Dask cluster: tcp://host:8786."
        ),
        scheduler_file: Optional[Path] = typer.Option(
            None, "--scheduler-file", help="Join a Dask cluster by its scheduler file."
        ),
        dashboard: bool = typer.Option(False, "--dashboard", help="Serve Dask's dashboard (off by default)."),
        track: Optional[list[str]] = typer.Option(
            None, "--track", help="Also log to wandb, mlflow or tensorboard (repeatable)."
        ),
        max_retries: int = typer.Option(2, "--max-retries", help="Times a cell is retried after its worker dies."),
        eval_every: Optional[str] = typer.Option(
            None,
            "--eval-every",
            help="Evaluate pretraining checkpoints: every N steps, a list 100,500,2000, or log:N (off by default).",
        ),
        dynamics_protocol: Optional[str] = typer.Option(
            None, "--dynamics-protocol", help="How checkpoints are evaluated: probe (default, cheap) or finetune."
        ),
        checkpoint_every: Optional[int] = typer.Option(
            None, "--checkpoint-every", help="Resumable pretraining checkpoint every N steps."
        ),
        checkpoint_minutes: Optional[float] = typer.Option(
            None, "--checkpoint-minutes", help="... and every M minutes (default 10; 0 = off)."
        ),
        max_time: Optional[str] = typer.Option(
            None, "--max-time", help="Stop cleanly after this long (5400, 90m, 1h30m): exit status 3, re-run to resume."
        ),
    ) -> None:
        """Pretrain, fine-tune and evaluate every configuration on every fold and seed, against the baselines."""
        from tcrbench.run.validate_values import check_seed_count
        from tcrbench.training.checkpoint import StoppedForTime, parse_duration

        if seeds is not None:  # before the list of seeds is made: --seeds 100000000 must not cost gigabytes
            check_seed_count(seeds)

        given = dict(
            data=data,
            dataset=dataset,
            columns=columns,
            cdr3=cdr3,
            subsample=subsample,
            augs=aug or None,
            objectives=objective or None,
            pairs=pair or None,
            encoder=encoder,
            split=split,
            folds=folds,
            seeds=list(range(seeds)) if seeds is not None else None,
            fixed_folds=fixed_folds,
            pretrain_on=pretrain_on,
            protocols=protocol or None,
            pretrain_data=pretrain_data or None,
            label_fractions=label_fraction,
            negatives=negatives,
            table_format=table_format,
            metrics=metric or None,
            duplicates=None if drop_duplicates is None else ("drop" if drop_duplicates else "keep"),
            pretrain_epochs=pretrain_epochs,
            pretrain_steps=pretrain_steps,
            pretrain_batch=pretrain_batch,
            pretrain_chunk=pretrain_chunk,
            pretrain_lr=pretrain_lr,
            finetune_epochs=finetune_epochs,
            finetune_steps=finetune_steps,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            warmup=warmup,
            grad_clip=grad_clip,
            schedule=schedule,
            patience=patience,
            monitor=monitor,
            val_fraction=val_fraction,
            bucket=bucket,
            framing=framing,
            device=device,
            threads=threads,
            eval_every=eval_every,
            dynamics_protocol=dynamics_protocol,
            checkpoint_every=checkpoint_every,
            checkpoint_minutes=checkpoint_minutes,
            max_time=None if max_time is None else parse_duration(max_time),
        )
        if pair and (aug or objective):
            raise UsageError("--pair replaces --aug and --objective: give pairs or the cross, not both")
        if data is not None and not Path(data).exists():
            raise UsageError(f"--data {data}: file not found")
        cfg = build_config(config, given)
        if no_baselines:
            cfg.baselines = []
        elif baseline:
            cfg.baselines = list(baseline)

        from tcrbench.executors.select import build_executor
        from tcrbench.plugins.loader import get_plugins
        from tcrbench.report.summary import print_summary
        from tcrbench.run.runner import Runner
        from tcrbench.trackers import resolve_trackers

        trackers = resolve_trackers(track or [])
        backend = build_executor(
            executor,
            workers=workers,
            scheduler=scheduler,
            scheduler_file=str(scheduler_file) if scheduler_file else None,
            dashboard=dashboard,
            max_retries=max_retries,
            device=cfg.device,
            threads=cfg.threads,
            say=typer.echo,
        )
        plugins = get_plugins()
        runner = Runner(
            cfg, plugins, out=out, overwrite=overwrite, retry_failed=retry_failed, quiet=quiet, trackers=trackers
        )
        try:
            summary = runner.run(backend)
        except StoppedForTime as stop:  # not an error: the run is resumable, and scripts tell it by the status
            typer.echo(f"tcrbench: {stop}", err=True)
            raise typer.Exit(code=stop.code) from None
        except KeyboardInterrupt:  # Ctrl-C: finished rows are safe on disk, so say so instead of a traceback
            typer.echo(interrupted_line(getattr(runner, "path", None)), err=True)
            raise typer.Exit(code=INTERRUPTED) from None
        print_summary(summary, cfg)
        typer.echo(next_step_line(summary.path))
        if summary.failed:
            raise typer.Exit(code=1)
