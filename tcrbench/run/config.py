"""The run configuration: one typed object from the command line or a TOML file, resolved, saved and hashed.

The hash covers everything that changes the numbers (data, grid, budgets, seeds) and nothing that does not
(output folder, verbosity), so re-running a command recognises its own finished cells.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from tcrbench.errors import UsageError
from tcrbench.plugins.params import coerce
from tcrbench.run.spec import parse_fractions, parse_pairs
from tcrbench.run.validate_values import check_seed_count, check_values

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class Budget:
    """Training budgets, identical for the pretrained arm and the supervised baseline."""

    pretrain_epochs: int = 4
    pretrain_steps: Optional[int] = None  # overrides epochs when set
    pretrain_batch: int = 256  # the contrastive batch: every other row in it is a negative
    pretrain_chunk: int = 0  # gradient-caching chunk (0 = off); objectives with a `chunk` parameter use it
    pretrain_lr: float = 1e-3
    # Fine-tuning runs up to finetune_epochs and stops early once the inner validation split's AUROC has not
    # improved for `patience` epochs; the best epoch's weights are restored. Measured on the default table: the
    # chain CNN's best epoch falls at 10-26, so 40 epochs with patience 8 leave room without wasting time.
    finetune_epochs: int = 40
    finetune_steps: Optional[int] = None
    batch_size: int = 128
    lr: float = 5e-3
    optimizer: Literal["adamw", "sgd"] = "adamw"
    weight_decay: float = 0.01
    warmup: float = 0.0  # fraction of steps with linear warm-up
    schedule: Literal["linear", "constant"] = "constant"  # after warm-up: hold the rate, or decay it to zero
    patience: int = 8  # epochs without a better validation score before stopping (0 = train every epoch)
    monitor: Literal["auroc", "loss"] = "auroc"  # the early-stopping signal on the inner validation split
    val_fraction: float = 0.15  # share of the training fold held out for early stopping (0 = none)
    bucket: bool = True  # length-bucketed batches, each trimmed to its longest row
    grad_clip: float = 1.0  # 0 = off
    max_loss: float = 1e4  # a loss above this (or NaN) fails the cell


@dataclass
class Published:
    """Scores others published on the same benchmark, shown beside ours in the reports but never re-run.

    They never change a number of ours, so they stay out of the config hash.
    """

    metric: str
    results: dict[str, float]
    source: str = ""
    note: str = ""


def parse_published(raw: Any, where: str) -> Published:
    """A [published] table checked field by field, so a typo in a score table fails when the config is read."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: [published] must be a table with metric, results, source and note")
    unknown = set(raw) - {"metric", "results", "source", "note"}
    if unknown:
        raise UsageError(
            f"{where} [published]: unknown setting {sorted(unknown)[0]!r} (expected metric, results, source, note)"
        )
    metric, results = raw.get("metric"), raw.get("results")
    if not isinstance(metric, str) or not metric:
        raise UsageError(f"{where} [published]: metric must name the metric the results are in, such as 'macro_auroc'")
    if not isinstance(results, dict) or not results:
        raise UsageError(f"{where} [published]: results must be a table of method = score")
    scores: dict[str, float] = {}
    for name, value in results.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value == value:
            raise UsageError(f"{where} [published.results]: {name!r} must be a number, got {value!r}")
        scores[str(name)] = float(value)
    return Published(metric, scores, str(raw.get("source", "")), str(raw.get("note", "")))


DEFAULT_CELL_TIMEOUT = 6 * 3600.0  # 6 h: far above any cell of the shipped suites (minutes), far below "forever"
DURATIONS = ("max_time", "cell_timeout")  # settings a TOML file may also write as "90m", "1.5h" or "1h30m"


@dataclass
class RunConfig:
    """Every setting of a run; the command line and a --config TOML file both fill this one object."""

    data: Optional[str] = None  # a table path; None uses `dataset`
    dataset: str = "synthetic"
    columns: Optional[str] = None  # peptide=antigen,cdr3b=TCR,label=interaction
    cdr3: Literal["keep", "strip"] = "keep"
    duplicates: Literal["keep", "drop"] = "keep"
    subsample: Optional[int] = None  # stratified subsample of this many rows (label x peptide), seeded
    augs: list[str] = field(default_factory=lambda: ["mask1"])
    objectives: list[str] = field(default_factory=lambda: ["ntxent"])
    pairs: Optional[list[str]] = None  # ["mask1/ntxent", "identity/mlm"]: these instead of augs x objectives
    encoder: str = "chain_cnn"  # NetTCR-style: learns the default table in seconds (see docs/protocol.md)
    split: str = "tcr"  # TCR-disjoint: random folds reward memorising TCRs that recur across folds
    folds: int = 5
    seeds: list[int] = field(default_factory=lambda: [0])
    fixed_folds: bool = False  # seeds only re-initialise models; folds drawn once with seed 0
    pretrain_on: Literal["train", "all"] = "train"
    # pan: one output for every peptide (the peptide is an input); per_peptide: one output head per peptide on a
    # shared encoder (and a logistic regression per peptide for the probe), the way most IMMREP22 entries trained
    framing: Literal["pan", "per_peptide"] = "pan"
    protocols: list[str] = field(default_factory=lambda: ["finetune", "probe"])
    baselines: Optional[list[str]] = None  # None = every registered baseline; [] = none
    # published pretrained encoders (sceptr, hf:path=DIR) probed and fine-tuned beside the recipe, same folds
    published_encoders: list[str] = field(default_factory=list)
    metrics: Optional[list[str]] = None  # None = every registered metric
    primary_metric: str = "auroc"
    budget: Budget = field(default_factory=Budget)
    device: str = "auto"
    # torch (and BLAS) threads inside each cell; None = 1. The same on every executor, because the thread count
    # changes floating-point sums: it enters the config hash when it is not 1 (runs with 1 keep their hash)
    threads: Optional[int] = None
    eval_every: Optional[str] = None  # training dynamics: "200", "100,500,2000" or "log:8"; None = off
    dynamics_protocol: Literal["probe", "finetune"] = "probe"
    checkpoint_every: Optional[int] = None  # resumable pretraining checkpoint every N steps ...
    checkpoint_minutes: float = 10.0  # ... and every M minutes (0 = off)
    max_time: Optional[float] = None  # seconds; then stop cleanly (exit status 3), resumable
    # seconds one cell may run before it is stopped and recorded as failed (the grid goes on); generous by default
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    published: Optional[Published] = None  # others' scores on this benchmark, for the report only
    # unlabelled sequences pretraining sees besides the training fold: table files or olga:n=...,chain=beta
    pretrain_data: list[str] = field(default_factory=list)
    # fine-tune, probe and baselines on these shares of each training fold's labelled rows (nested subsets)
    label_fractions: list[float] = field(default_factory=lambda: [1.0])
    # a table of binders only gets negatives made: "swapped:ratio=5,seed=0" or "background:source=olga|FILE,..."
    negatives: Optional[str] = None
    # a database export to convert when reading --data (vdjdb, mcpas, airr, scirpy, with options; none = as is);
    # None detects one from the header of a table without labels
    table_format: Optional[str] = None

    # ------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain data (what is saved with the run)."""
        return dataclasses.asdict(self)

    def cell_threads(self) -> int:
        """torch and BLAS threads inside each cell, whatever the executor: --threads, else 1."""
        return self.threads or 1

    def numbers_dict(self) -> dict[str, Any]:
        """What changes the numbers; the device is recorded in the environment instead.

        Checkpointing, --max-time and --cell-timeout never change a number, so a resumed run keeps its hash; the
        dynamics settings count only when dynamics are on, so switching them on is a new run but runs without them
        keep the hash they always had. The per-cell thread count changes floating-point sums, so it counts when it
        is not the default 1 (runs with 1 thread, or none given, keep the hash they always had).
        """
        d = self.to_dict()
        # the data's content is hashed through its fingerprint; its path differs from machine to machine
        for key in ("device", "checkpoint_every", "checkpoint_minutes", "max_time", "cell_timeout", "published"):
            d.pop(key)
        d.pop("data")
        if self.cell_threads() == 1:
            d.pop("threads")
        if d["pairs"] is None:  # runs from before `pairs` existed keep their hash
            d.pop("pairs")
        else:  # augs and objectives are ignored when pairs are given
            d.pop("augs")
            d.pop("objectives")
        if d["eval_every"] is None:
            d.pop("eval_every")
            d.pop("dynamics_protocol")
        # runs without a corpus or label fractions keep the hash they had before these settings existed; a
        # corpus counts through its content hash (config_hash's corpus_fingerprint), not its paths
        d.pop("pretrain_data")
        if d["label_fractions"] == [1.0]:
            d.pop("label_fractions")
        if d["negatives"] is None:  # runs on tables with their own negatives keep their hash
            d.pop("negatives")
        if d["table_format"] is None:
            d.pop("table_format")
        if not d["published_encoders"]:  # runs without published encoders keep their hash
            d.pop("published_encoders")
        return d

    def config_hash(
        self,
        data_fingerprint: str,
        corpus_fingerprint: str | None = None,
        encoder_identities: dict[str, str] | None = None,
    ) -> str:
        """16 hex digits naming what the numbers depend on: a re-run with the same hash resumes the folder.

        `encoder_identities`: the content hash of each checkpoint an encoder reads from a folder (hf:path=DIR), so
        new weights at the same path start a new run instead of mixing rows; runs without one keep their hash."""
        content: dict[str, Any] = {"config": self.numbers_dict(), "data": data_fingerprint}
        if corpus_fingerprint is not None:
            content["corpus"] = corpus_fingerprint
        if encoder_identities:
            content["encoders"] = dict(sorted(encoder_identities.items()))
        payload = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        """The resolved configuration as TOML (None left out: TOML has no null), saved as the run's config.toml."""
        import tomli_w

        return tomli_w.dumps(_drop_none(self.to_dict()))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_drop_none(v) if isinstance(v, dict) else v) for k, v in d.items() if v is not None}


def _set(target: Any, key: str, value: Any, where: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(target)}
    if key not in fields:
        import difflib

        hint = difflib.get_close_matches(key, list(fields), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"{where}: unknown setting {key!r}{extra}")
    import typing

    if key in DURATIONS and isinstance(value, str) and isinstance(target, RunConfig):
        from tcrbench.training.checkpoint import parse_duration  # only for a duration written as text

        value = parse_duration(value, f"{where}: {key}")
    tp = typing.get_type_hints(type(target))[key]
    origin = typing.get_origin(tp)
    if origin is list or (origin is typing.Union and list in [typing.get_origin(a) for a in typing.get_args(tp)]):
        if value is None:
            setattr(target, key, None)
            return
        if key == "label_fractions":
            setattr(target, key, parse_fractions(value if isinstance(value, (str, list)) else [value]))
            return
        if not isinstance(value, list):
            value = [value]
        if key == "seeds":  # before coercing each of (say) a hundred million seeds
            check_seed_count(len(value))
        item_tp = int if key == "seeds" else str
        setattr(target, key, [coerce(v, item_tp, f"{where}: {key}") for v in value])
        return
    setattr(target, key, coerce(value, tp, f"{where}: {key}"))


def load_config_file(path: str | Path) -> RunConfig:
    """Read a TOML grid: top-level run settings and a [budget] table; unknown keys are errors."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config {p}: file not found")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {p}: not valid TOML ({exc})") from None
    if "slurm" in raw:  # how Slurm jobs are asked for, not a number of the run: --executor slurm reads it
        from tcrbench.executors.slurm_spec import SlurmSpec

        SlurmSpec.from_table(raw.pop("slurm"), f"--config {p} [slurm]")  # checked now: a typo fails before any job
    return apply_settings(RunConfig(), raw, str(p), base_dir=p.parent)


def apply_settings(cfg: RunConfig, raw: dict[str, Any], where: str, base_dir: Path | None = None) -> RunConfig:
    """Overlay `raw` settings (a TOML table or the command line's options) on `cfg` and validate the result.

    A relative --data path in a config file is taken relative to that file, so a suite runs from any folder.
    """
    raw = dict(raw)
    if "published" in raw:
        cfg.published = parse_published(raw.pop("published"), where)
    budget = raw.pop("budget", {})
    if not isinstance(budget, dict):
        raise UsageError(f"{where}: [budget] must be a table")
    for key, value in raw.items():
        _set(cfg, key, value, where)
    for key, value in budget.items():
        _set(cfg.budget, key, value, f"{where} [budget]")
    if base_dir is not None and cfg.data and not Path(cfg.data).is_absolute():
        candidate = base_dir / cfg.data
        if candidate.exists():
            cfg.data = str(candidate.resolve())
    if base_dir is not None:  # corpus files next to the config file, like --data; olga:... specs stay as written
        cfg.pretrain_data = [
            str((base_dir / s).resolve()) if not Path(s).is_absolute() and (base_dir / s).is_file() else s
            for s in cfg.pretrain_data
        ]
    if base_dir is not None and cfg.negatives:  # a background file next to the config file, like --data
        cfg.negatives = _relative_source(cfg.negatives, base_dir)
    validate(cfg)
    return cfg


def _relative_source(negatives: str, base_dir: Path) -> str:
    """`background:source=reps.tsv` in a config file names reps.tsv beside that file when it is there."""
    head, sep, rest = negatives.partition("source=")
    source, comma, tail = rest.partition(",")
    path = base_dir / source.strip()
    if not sep or Path(source.strip()).is_absolute() or not path.is_file():
        return negatives
    return f"{head}{sep}{path.resolve()}{comma}{tail}"


def validate(cfg: RunConfig) -> None:
    """Refuse settings that cannot mean what they say, before any data is read or any cell runs."""
    check_values(cfg)  # every number within its bound (see validate_values.py for the bounds and why)
    b = cfg.budget
    checks = [
        (0 <= b.warmup < 1, f"--warmup must be a fraction in [0, 1), got {b.warmup}"),
        (0 <= b.val_fraction < 0.5, f"--val-fraction must be in [0, 0.5), got {b.val_fraction}"),
        (b.patience == 0 or b.val_fraction > 0, "--patience needs an inner validation split: set --val-fraction"),
        (b.schedule in ("linear", "constant"), f"--schedule must be linear or constant, got {b.schedule!r}"),
        (b.monitor in ("auroc", "loss"), f"--monitor must be auroc or loss, got {b.monitor!r}"),
        (cfg.framing in ("pan", "per_peptide"), f"--framing must be pan or per_peptide, got {cfg.framing!r}"),
        (
            set(cfg.protocols) <= {"finetune", "probe"} and cfg.protocols,
            f"--protocol must be finetune and/or probe, got {cfg.protocols}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    if cfg.pairs is not None:
        parse_pairs(cfg.pairs)
    for source in cfg.pretrain_data:  # a missing file fails here; an olga: spec is parsed when the data is prepared
        if not source.strip().startswith("olga") and not Path(source).is_file():
            raise UsageError(f"--pretrain-data {source}: no such file (give a table file or olga:n=...)")
    if cfg.table_format is not None:
        from tcrbench.data.formats import parse_format

        parse_format(cfg.table_format)
    if cfg.negatives is not None:  # resolved (defaults written out) so the saved config says exactly what was made
        from tcrbench.data.negatives import parse_negatives

        cfg.negatives = parse_negatives(cfg.negatives).text
    if cfg.eval_every is not None:
        from tcrbench.training.dynamics import parse_schedule

        parse_schedule(cfg.eval_every)
