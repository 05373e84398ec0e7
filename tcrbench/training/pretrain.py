"""The pretraining loop: an objective and an augmentation train an encoder on one fold's training sequences.

The loop can checkpoint itself (model, objective head, optimiser, schedule, every random generator and the
position in the data order) and resume from a checkpoint with exactly the numbers of an uninterrupted run; it
can also leave encoder snapshots at chosen steps, for the training-dynamics evaluation.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import torch
from torch import nn

from tcrbench.plugins.protocols import PretrainBatch
from tcrbench.run.config import Budget
from tcrbench.training.batches import steps_per_epoch, total_steps
from tcrbench.training.checkpoint import (
    CheckpointDir,
    CorruptCheckpoint,
    StoppedForTime,
    load_checkpoint,
    report_corrupt,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from tcrbench.training.failures import check_loss
from tcrbench.training.optim import clip, make_optimizer, make_schedule
from tcrbench.training.seeding import generator


class PretrainRows(Protocol):
    """What pretraining draws batches from: a PretrainBatch, or a fold with a corpus (run.corpus_view)."""

    def __len__(self) -> int: ...

    def index(self, idx: torch.Tensor) -> PretrainBatch: ...


StepCallback = Callable[[int, int, float, float], None]  # step, total, loss, sequences per second
CHECKPOINT_FORMAT = 1


@dataclass
class PretrainStats:
    steps: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    final_loss: Optional[float] = None
    seconds: float = 0.0
    sequences: int = 0
    resumed_from: Optional[int] = None  # the checkpoint step this run went on from
    snapshot_losses: dict[int, float] = field(default_factory=dict)  # written this session


@dataclass
class Checkpointing:
    """Where a pretraining run keeps its state, how often, and when it must stop.

    `snapshot_steps(total)` names the steps whose encoder is kept in `snapshot_dir` for later evaluation;
    `deadline` is a `time.monotonic()` value after which the loop checkpoints and raises StoppedForTime.
    """

    directory: Path
    every_steps: Optional[int] = None
    every_seconds: Optional[float] = None
    deadline: Optional[float] = None
    snapshot_dir: Optional[Path] = None
    snapshot_steps: Optional[Callable[[int], Iterable[int]]] = None
    keep: int = 2


class EpochOrder:
    """Shuffled mini-batches, reshuffled every epoch, that can stop at any step and go on exactly.

    It yields what `batches.batch_indices` yields. Its state is the generator's state before the current
    epoch's permutation plus the number of batches taken from it: replaying the permutation puts the
    generator back where the uninterrupted run had it.
    """

    def __init__(self, n: int, batch_size: int, gen: torch.Generator, min_batch: int = 1) -> None:
        if n < min_batch:
            raise ValueError(f"{n} rows cannot fill a batch of at least {min_batch}")
        self.n, self.batch_size, self.gen, self.min_batch = n, batch_size, gen, min_batch
        self.starts = [s for s in range(0, n, batch_size) if min(batch_size, n - s) >= min_batch]
        self.order: torch.Tensor | None = None
        self.epoch_state: torch.Tensor | None = None
        self.taken = 0

    def next(self) -> torch.Tensor:
        if self.order is None or self.taken == len(self.starts):
            self.epoch_state = self.gen.get_state()
            self.order = torch.randperm(self.n, generator=self.gen)
            self.taken = 0
        start = self.starts[self.taken]
        self.taken += 1
        return self.order[start : start + self.batch_size]

    def state(self) -> dict[str, Any]:
        return {
            "epoch_state": self.epoch_state if self.epoch_state is not None else self.gen.get_state(),
            "taken": self.taken,
            "started": self.order is not None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["epoch_state"])
        if state["started"]:
            self.epoch_state = state["epoch_state"]
            self.order = torch.randperm(self.n, generator=self.gen)
        self.taken = int(state["taken"])


def pretrain(
    encoder: nn.Module,
    objective: Any,
    augmentation: Any,
    data: PretrainRows,
    budget: Budget,
    seed: int,
    device: torch.device,
    on_step: StepCallback | None = None,
    observe_batch: Callable[[PretrainBatch], None] | None = None,
    checkpointing: Checkpointing | None = None,
) -> PretrainStats:
    """Train `encoder` in place; the objective's own head is discarded afterwards, as in SimCLR.

    The head's initial weights and every dropout mask come from `seed` alone (global state is forked and
    restored), so a cell's result never depends on which cells ran before it in the same process. With
    `checkpointing`, a run goes on from the newest good checkpoint in its directory, if there is one.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _Loop(encoder, objective, augmentation, data, budget, seed, device, checkpointing).run(
            on_step, observe_batch
        )


def snapshot_file(directory: Path, step: int) -> Path:
    return Path(directory) / f"step-{step:07d}.snap"


def load_snapshot(directory: Path, step: int) -> dict[str, Any]:
    """{"step", "encoder" (state dict), "loss", "batch_loss"}; CorruptCheckpoint when damaged."""
    return load_checkpoint(snapshot_file(directory, step))


class _Loop:
    """One pretraining run's state: everything a checkpoint must hold to continue bit for bit."""

    def __init__(
        self,
        encoder: nn.Module,
        objective: Any,
        augmentation: Any,
        data: PretrainRows,
        budget: Budget,
        seed: int,
        device: torch.device,
        ckpt: Checkpointing | None,
    ) -> None:
        self.encoder, self.augmentation, self.data = encoder, augmentation, data
        self.budget, self.device = budget, device
        self.ckpt = ckpt
        encoder.to(device).train()
        self.head = objective.build(encoder).to(device)
        self.head.train()
        self.params = list(encoder.parameters()) + list(self.head.parameters())
        self.batch = min(budget.pretrain_batch, len(data))
        self.n_steps = total_steps(len(data), self.batch, budget.pretrain_epochs, budget.pretrain_steps, min_batch=2)
        self.per_epoch = max(1, steps_per_epoch(len(data), self.batch, 2))
        self.stats = PretrainStats()
        if self.n_steps == 0:
            return
        self.opt = make_optimizer(self.params, budget, budget.pretrain_lr)
        self.sched = make_schedule(self.opt, self.n_steps, budget.warmup)
        self.order = EpochOrder(len(data), self.batch, generator(seed), min_batch=2)
        self.aug_gen = generator(seed + 1, device)
        self.identity = {
            "format": CHECKPOINT_FORMAT,
            "n_steps": self.n_steps,
            "n_rows": len(data),
            "batch": self.batch,
            "seed": seed,
        }
        self.epoch_sum, self.epoch_n = 0.0, 0
        self.recent: deque[float] = deque(maxlen=self.per_epoch)  # the last epoch's worth of batch losses
        self.since_snapshot = 0
        self.seconds_before = 0.0
        wanted = ckpt.snapshot_steps(self.n_steps) if ckpt is not None and ckpt.snapshot_steps else ()
        self.snapshots = sorted({int(s) for s in wanted if 0 < int(s) <= self.n_steps})

    # ------------------------------------------------------------ the loop
    def run(self, on_step: StepCallback | None, observe_batch: Callable[[PretrainBatch], None] | None) -> PretrainStats:
        if self.n_steps == 0:
            return self.stats
        first = self._resume() + 1
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else _null()
        start = last_save = time.perf_counter()
        seen_before = self.stats.sequences
        snapshots = set(self.snapshots)
        for step in range(first, self.n_steps + 1):
            idx = self.order.next()
            piece = self.data.index(idx)
            if observe_batch is not None:
                observe_batch(piece)
            piece = PretrainBatch(
                piece.tokens.to(self.device),
                piece.groups.to(self.device),
                None if piece.labels is None else piece.labels.to(self.device),
            )
            with autocast:
                out = self.head(self.encoder, piece, self.augmentation, self.aug_gen)
            value = float(out.loss.detach())
            check_loss(value, self.budget.max_loss, "pretraining", step)
            if not out.backward_done:
                out.loss.backward()
            clip(self.params, self.budget.grad_clip)
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad(set_to_none=True)
            self._record(step, value, len(idx))
            now = time.perf_counter()
            self.stats.seconds = self.seconds_before + (now - start)
            if on_step is not None:
                on_step(step, self.n_steps, value, (self.stats.sequences - seen_before) / max(now - start, 1e-9))
            if step in snapshots:
                self._snapshot(step, value)
            if self.ckpt is None or step == self.n_steps:
                continue
            c = self.ckpt
            stop = c.deadline is not None and time.monotonic() >= c.deadline
            due = bool(c.every_steps and step % c.every_steps == 0) or bool(
                c.every_seconds and now - last_save >= c.every_seconds
            )
            if due or stop:
                self._save(step)
                last_save = time.perf_counter()
            if stop:
                raise StoppedForTime(
                    f"stopped for --max-time at pretraining step {step} of {self.n_steps} "
                    "(checkpoint saved); run the same command again to resume"
                )
        self.stats.steps = self.n_steps
        return self.stats

    def _record(self, step: int, value: float, rows: int) -> None:
        s = self.stats
        s.sequences += rows
        self.epoch_sum += value
        self.epoch_n += 1
        self.recent.append(value)
        self.since_snapshot += 1
        if step % self.per_epoch == 0 or step == self.n_steps:
            s.epoch_losses.append(self.epoch_sum / self.epoch_n)
            self.epoch_sum, self.epoch_n = 0.0, 0
        s.final_loss = value

    # ------------------------------------------------------------ snapshots (training dynamics)
    def _snapshot(self, step: int, value: float) -> None:
        """The encoder at `step` and the loss then: the mean over the steps since the previous snapshot, at
        most an epoch's worth, which is steadier than one batch's loss."""
        assert self.ckpt is not None and self.ckpt.snapshot_dir is not None
        window = list(self.recent)[-min(self.since_snapshot, len(self.recent)) :]
        loss = sum(window) / len(window)
        save_checkpoint(
            snapshot_file(self.ckpt.snapshot_dir, step),
            {"step": step, "encoder": _cpu(self.encoder.state_dict()), "loss": loss, "batch_loss": value},
        )
        self.stats.snapshot_losses[step] = loss
        self.since_snapshot = 0

    def _snapshots_ok(self, upto: int) -> Optional[str]:
        """None when every snapshot due by step `upto` reads back whole; else why a resume from there fails."""
        assert self.ckpt is not None
        for s in self.snapshots:
            if s > upto:
                break
            path = snapshot_file(self.ckpt.snapshot_dir, s) if self.ckpt.snapshot_dir else None
            if path is None or not path.exists():
                return f"the encoder snapshot of step {s} is missing"
            try:
                load_checkpoint(path)
            except CorruptCheckpoint as exc:
                report_corrupt(exc, path, f"pretraining goes back to a checkpoint before step {s}")
                return f"the encoder snapshot of step {s} is damaged"
        return None

    # ------------------------------------------------------------ checkpoints (resume)
    def _save(self, step: int) -> None:
        assert self.ckpt is not None
        s = self.stats
        payload = {
            "identity": self.identity,
            "step": step,
            "encoder": _cpu(self.encoder.state_dict()),
            "head": _cpu(self.head.state_dict()),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "order": self.order.state(),
            "augmentation_rng": self.aug_gen.get_state(),
            "rng": rng_state(self.device),
            "stats": {
                "epoch_losses": list(s.epoch_losses),
                "final_loss": s.final_loss,
                "sequences": s.sequences,
                "seconds": s.seconds,
                "epoch_sum": self.epoch_sum,
                "epoch_n": self.epoch_n,
                "recent": list(self.recent),
                "since_snapshot": self.since_snapshot,
            },
        }
        CheckpointDir(self.ckpt.directory, self.ckpt.keep).save(step, payload)

    def _accept(self, payload: dict[str, Any]) -> Optional[str]:
        if payload.get("identity") != self.identity:
            return f"written for another pretraining ({payload.get('identity')} != {self.identity})"
        step = payload.get("step")
        if not isinstance(step, int) or not 0 < step < self.n_steps:
            return f"step {step!r} is outside 1..{self.n_steps - 1}"
        return self._snapshots_ok(step)

    def _resume(self) -> int:
        """Load the newest usable checkpoint; the step it was taken after (0 = from the start)."""
        if self.ckpt is None:
            return 0
        payload = CheckpointDir(self.ckpt.directory, self.ckpt.keep).latest(self._accept)
        if payload is None:
            return 0
        self.encoder.load_state_dict(payload["encoder"])
        self.head.load_state_dict(payload["head"])
        self.opt.load_state_dict(payload["optimizer"])
        self.sched.load_state_dict(payload["scheduler"])
        self.order.restore(payload["order"])
        self.aug_gen.set_state(payload["augmentation_rng"])
        set_rng_state(payload["rng"], self.device)
        st = payload["stats"]
        s = self.stats
        s.epoch_losses, s.final_loss, s.sequences = list(st["epoch_losses"]), st["final_loss"], int(st["sequences"])
        s.seconds = self.seconds_before = float(st["seconds"])
        self.epoch_sum, self.epoch_n = float(st["epoch_sum"]), int(st["epoch_n"])
        self.recent.extend(float(v) for v in st["recent"])
        self.since_snapshot = int(st["since_snapshot"])
        s.resumed_from = int(payload["step"])
        return s.resumed_from


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
