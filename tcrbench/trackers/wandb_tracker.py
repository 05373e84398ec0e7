"""`--track wandb`: one W&B run per run folder, its files under `<run folder>/wandb`.

Offline works as W&B documents it (`WANDB_MODE=offline`, then `wandb sync`); `WANDB_PROJECT` and `WANDB_ENTITY`
choose where it goes (project default: tcrbench). The W&B run id derives from the run folder and configuration
hash, so resuming a run continues the same W&B run instead of starting a second one.
"""

from __future__ import annotations

import os
from typing import Any

from tcrbench.trackers.records import RunInfo


class WandbTracker:
    name = "wandb"

    def __init__(self, run: RunInfo) -> None:
        import wandb

        self.info = run
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "tcrbench"),
            name=run.name,
            id=run.run_id,
            resume="allow",
            dir=str(run.run_dir),
            group=run.config_hash or None,
            job_type="tcrbench-run",
            config={**run.config, "config_hash": run.config_hash},
            reinit="create_new",
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.run.define_metric("cell_step")
        self.run.define_metric("*", step_metric="cell_step")

    def cell(self, record: dict[str, Any]) -> None:
        key = record["series"]
        data: dict[str, Any] = {"cell_step": self.info.step(record)}
        if record["status"] != "ok":
            data[f"{key}/failed"] = 1.0
        else:
            data.update({f"{key}/{m}": v for m, v in record["metrics"].items() if v is not None})
            if record["pretrain_loss"] is not None:
                data[f"{key}/pretrain_loss"] = record["pretrain_loss"]
        self.run.log(data)

    def finish(self, rows: list[dict[str, Any]]) -> None:
        import wandb

        from tcrbench.trackers.records import cell_record

        records = [cell_record(r) for r in rows]
        metrics = sorted({m for r in records for m in r["metrics"]})
        columns = ["row_key", "label", "protocol", "seed", "fold", "status", *metrics]
        table = wandb.Table(
            columns=columns,
            data=[
                [
                    r["row_key"],
                    r["label"],
                    r["protocol"],
                    r["seed"],
                    r["fold"],
                    r["status"],
                    *[r["metrics"].get(m) for m in metrics],
                ]
                for r in records
            ],
        )
        self.run.log({"cells": table})
        self.run.summary["rows"] = len(records)
        self.run.summary["failed"] = sum(r["status"] != "ok" for r in records)
        self.run.finish()

    def interrupt(self) -> None:
        self.run.finish(exit_code=1)  # shown as not finished; resuming the tcrbench run resumes this W&B run


def create(run: RunInfo) -> WandbTracker:
    return WandbTracker(run)
