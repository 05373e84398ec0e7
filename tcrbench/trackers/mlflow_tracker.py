"""`--track mlflow`: one MLflow run per run folder, in `MLFLOW_TRACKING_URI` or, by default, a SQLite store
inside the run folder (`mlflow.db`, artifacts in `mlartifacts/`): `mlflow ui --backend-store-uri sqlite:///...`.

Metrics are buffered and sent with `log_batch` (one request per many cells, not one per value): a remote
tracking server then costs one round trip per batch. The buffer is flushed every `BATCH` values, after
`FLUSH_SECONDS`, and at the end of the run; metrics.jsonl keeps every cell whatever happens to the buffer.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from tcrbench.trackers.records import RunInfo, safe

BATCH = 200
FLUSH_SECONDS = 10.0
LIMIT = 1000  # MLflow accepts at most this many metrics per log_batch call
RUN_TAG = "tcrbench.run_id"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[safe(f"{prefix}{k}")] = str(v)[:6000]
    return out


class MlflowTracker:
    name = "mlflow"

    def __init__(self, run: RunInfo) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        for noisy in ("alembic", "mlflow.store.db.utils"):  # schema migrations announce themselves at INFO
            if logging.getLogger(noisy).level == logging.NOTSET:
                logging.getLogger(noisy).setLevel(logging.WARNING)
        self.info = run
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            uri = f"sqlite:///{(run.run_dir / 'mlflow.db').resolve()}"
            artifacts = (run.run_dir / "mlartifacts").resolve().as_uri()
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "tcrbench")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else self.client.create_experiment(name, artifact_location=artifacts)
        )
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run.run_id}'", max_results=1
        )
        if found:  # a resumed run continues its MLflow run
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            created = self.client.create_run(
                experiment_id,
                run_name=run.name,
                tags={
                    RUN_TAG: run.run_id,
                    "tcrbench.config_hash": run.config_hash,
                    "tcrbench.run_dir": str(run.run_dir.resolve()),
                },
            )
            self.run_id = created.info.run_id
            params = [Param(k, v) for k, v in sorted(_flatten(run.config).items())]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params per call
                self.client.log_batch(self.run_id, params=params[i : i + 100])
        self.buffer: list[Any] = []
        self.last_flush = time.monotonic()

    def cell(self, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        step, key = self.info.step(record), record["series"]
        stamp = int(record["finished_at"] * 1000)
        values = (
            {f"{key}/failed": 1.0}
            if record["status"] != "ok"
            else {f"{key}/{m}": v for m, v in record["metrics"].items() if v is not None}
        )
        if record["status"] == "ok" and record["pretrain_loss"] is not None:
            values[f"{key}/pretrain_loss"] = record["pretrain_loss"]
        self.buffer.extend(Metric(k, float(v), stamp, step) for k, v in values.items())
        if len(self.buffer) >= BATCH or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        while self.buffer:
            chunk, self.buffer = self.buffer[:LIMIT], self.buffer[LIMIT:]
            self.client.log_batch(self.run_id, metrics=chunk)
        self.last_flush = time.monotonic()

    def finish(self, rows: list[dict[str, Any]]) -> None:
        self.flush()
        results = self.info.run_dir / "results.jsonl"
        if results.exists():
            self.client.log_artifact(self.run_id, str(results))
        self.client.set_terminated(self.run_id, "FINISHED")

    def interrupt(self) -> None:
        self.flush()  # the buffered cells are done: they must not be lost with the process
        self.client.set_terminated(self.run_id, "KILLED")


def create(run: RunInfo) -> MlflowTracker:
    return MlflowTracker(run)
