"""`--track tensorboard`: scalars under `<run folder>/tensorboard`, read by `tensorboard --logdir`.

Each metric is a series per configuration and protocol, `<slug>-<config id>/<protocol>/<metric>`, with the
cell's grid position (seed-major, then fold) as its step; pretraining loss curves are logged per cell with the
epoch as step.
"""

from __future__ import annotations

from typing import Any

from tcrbench.trackers.records import RunInfo


class TensorboardTracker:
    name = "tensorboard"

    def __init__(self, run: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run = run
        self.log_dir = run.run_dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.curves: set[str] = set()

    def cell(self, record: dict[str, Any]) -> None:
        step = self.run.step(record)
        key = record["series"]
        if record["status"] != "ok":
            self.writer.add_scalar(f"{key}/failed", 1.0, step)
            return
        for metric, value in record["metrics"].items():
            if value is not None:
                self.writer.add_scalar(f"{key}/{metric}", value, step)
        curve = f"pretrain_loss/{key.rsplit('/', 1)[0]}-s{record['seed']}-f{record['fold']}"
        if record["pretrain_losses"] and curve not in self.curves:  # both protocols share one pretraining
            self.curves.add(curve)
            for epoch, loss in enumerate(record["pretrain_losses"]):
                if loss is not None:
                    self.writer.add_scalar(curve, loss, epoch)
        self.writer.flush()

    def finish(self, rows: list[dict[str, Any]]) -> None:
        self.writer.close()

    def interrupt(self) -> None:
        self.writer.close()


def create(run: RunInfo) -> TensorboardTracker:
    return TensorboardTracker(run)
