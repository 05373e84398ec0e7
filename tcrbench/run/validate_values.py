"""The numeric settings' bounds, checked when the configuration is read: before any data is read, any run folder is
made or any cell runs, so a nonsense number (a negative step count, an infinite learning rate, a hundred million
seeds) fails as one line naming the option and its bound instead of as a quietly wrong or endless run.

Bounds, and why:

- steps and epochs that decide how long something trains are at least 1: `--pretrain-steps` when set (it
  overrides the epochs), `--pretrain-epochs` when no step count is set (0 epochs would give "pretrained" rows
  whose encoder never trained; with --pretrain-steps set the epochs are ignored and only need be >= 0),
  `--steps` when set and `--epochs` always.
- learning rates are finite and above 0; weight decay is finite and >= 0; `--grad-clip` is finite and >= 0
  (0 = off); `max_loss` is above 0 (infinity allowed: only NaN then fails a cell).
- seeds are integers from 0 to 2**32 - 1 (numpy's seed range), at most 10,000 of them; folds from 2 to 100.
- batch sizes and the gradient-caching chunk are at most 1,000,000 rows; `--subsample` is at least 20 rows.
- `--checkpoint-every` is at least 1 step, `--checkpoint-minutes` finite and >= 0, `--max-time` and
  `--cell-timeout` finite and > 0, `--threads` at least 1.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tcrbench.errors import UsageError

if TYPE_CHECKING:
    from tcrbench.run.config import RunConfig

MAX_SEEDS = 10_000
MAX_SEED = 2**32 - 1
MAX_FOLDS = 100
MAX_BATCH = 1_000_000


def _name(flag: str, key: str) -> str:
    """`--steps (finetune_steps)`: the command-line option and the TOML key, so either reader finds it."""
    return flag if flag.lstrip("-").replace("-", "_") == key else f"{flag} ({key})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(value: Any, flag: str, key: str, low: int, high: int | None = None, optional: bool = False) -> None:
    """An integer setting between `low` and `high` (inclusive); None passes when the setting is optional."""
    if value is None and optional:
        return
    bound = f"at least {low:,}" if high is None else f"between {low:,} and {high:,}"
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise UsageError(f"{_name(flag, key)} must be an integer {bound}, got {value!r}")


def check_float(
    value: Any,
    flag: str,
    key: str,
    above: float | None = None,
    at_least: float | None = None,
    finite: bool = True,
    optional: bool = False,
) -> None:
    """A number that is finite (unless `finite=False`; NaN never passes) and above / at least a bound."""
    if value is None and optional:
        return
    parts = ["a finite number" if finite else "a number"]
    if above is not None:
        parts.append(f"above {above:g}")
    if at_least is not None:
        parts.append(f">= {at_least:g}")
    ok = _is_number(value) and not math.isnan(value) and (not finite or math.isfinite(value))
    ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
    if not ok:
        raise UsageError(f"{_name(flag, key)} must be {' '.join(parts)}, got {value!r}")


def check_seed_count(n: int) -> None:
    """From 1 to 10,000 seeds: what `--seeds N` can ask for (check N before making the list of N seeds)."""
    if not 1 <= n <= MAX_SEEDS:
        raise UsageError(f"--seeds must be between 1 and {MAX_SEEDS:,} seeds, got {n:,}")


def check_seeds(seeds: Any) -> None:
    """1 to 10,000 distinct integer seeds, each from 0 to 2**32 - 1."""
    if not isinstance(seeds, list):
        raise UsageError(f"seeds must be a list of integers, got {seeds!r}")
    check_seed_count(len(seeds))
    for seed in seeds:
        if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
            raise UsageError(f"seeds must be integers from 0 to {MAX_SEED:,}, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"seeds must be distinct, got {seeds}")


def check_values(cfg: RunConfig) -> None:
    """Every numeric setting of `cfg` within its bound, or a UsageError naming the option and the bound."""
    b = cfg.budget
    check_seeds(cfg.seeds)
    check_int(cfg.folds, "--folds", "folds", 2, MAX_FOLDS)
    check_int(cfg.subsample, "--subsample", "subsample", 20, optional=True)
    check_int(cfg.threads, "--threads", "threads", 1, optional=True)
    check_int(b.pretrain_steps, "--pretrain-steps", "pretrain_steps", 1, optional=True)
    # the epochs decide pretraining's length only when no step count overrides them
    check_int(b.pretrain_epochs, "--pretrain-epochs", "pretrain_epochs", 1 if b.pretrain_steps is None else 0)
    check_int(b.finetune_steps, "--steps", "finetune_steps", 1, optional=True)
    check_int(b.finetune_epochs, "--epochs", "finetune_epochs", 1)
    check_int(b.pretrain_batch, "--pretrain-batch", "pretrain_batch", 2, MAX_BATCH)
    check_int(b.batch_size, "--batch-size", "batch_size", 1, MAX_BATCH)
    check_int(b.pretrain_chunk, "--chunk", "pretrain_chunk", 0, MAX_BATCH)
    check_int(b.patience, "--patience", "patience", 0)
    check_float(b.lr, "--lr", "lr", above=0)
    check_float(b.pretrain_lr, "--pretrain-lr", "pretrain_lr", above=0)
    check_float(b.weight_decay, "--weight-decay", "weight_decay", at_least=0)
    check_float(b.grad_clip, "--grad-clip", "grad_clip", at_least=0)
    check_float(b.max_loss, "max_loss", "max_loss", above=0, finite=False)
    check_int(cfg.checkpoint_every, "--checkpoint-every", "checkpoint_every", 1, optional=True)
    check_float(cfg.checkpoint_minutes, "--checkpoint-minutes", "checkpoint_minutes", at_least=0)
    check_float(cfg.max_time, "--max-time", "max_time", above=0, optional=True)
    check_float(cfg.cell_timeout, "--cell-timeout", "cell_timeout", above=0)
