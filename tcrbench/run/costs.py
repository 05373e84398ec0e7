"""What a cell costs: the order cells run in (longest first) and the kinds the progress display's ETA averages.

Apart from the runner so that the rules for cost are in one short place; the runner imports them.
"""

from __future__ import annotations

from typing import Any

from tcrbench.run.grid import Configuration


def expected_cost(conf: Configuration, protocols: tuple[str, ...]) -> int:
    """A rough rank of a cell's work: pretraining > neural training > simple baseline.

    Cells run longest first, so parallel workers do not end with one long cell running while the others idle
    (on the 8-cell scaling grid the tail was 7 s of 39). Only the order changes: every cell's numbers come from
    its own seeds, whatever ran before it.
    """
    pretrains = conf.arm == "pretrained"
    neural = conf.objective is not None  # the supervised arms (objective "none") train a network too
    return (2 if pretrains else 0) + (1 if neural else 0) + len(protocols)


def cell_kind(conf: Configuration, protocols: tuple[str, ...]) -> str:
    """What a cell's duration is like (the ETA averages finished cells of each kind): a baseline by its name, a
    neural cell by its arm, objective and encoder, and how many rows it computes."""
    if conf.arm == "baseline" and conf.base_obj is not None:
        return f"baseline {conf.baseline} ×{len(protocols)}"
    return f"{conf.arm} {conf.objective} {conf.encoder} ×{len(protocols)}"


def cell_seconds(rows: list[dict[str, Any]]) -> float | None:
    """A finished cell's time from its rows (each protocol's training and evaluation, plus its pretraining once);
    None when a row failed, whose time says nothing about a healthy cell."""
    if not rows or any(r.get("status") != "ok" for r in rows):
        return None
    return sum(float(r.get("train_seconds") or 0.0) for r in rows) + max(
        float(r.get("pretrain_seconds") or 0.0) for r in rows
    )
