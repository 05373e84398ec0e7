"""A cell that cannot produce a trustworthy number fails loudly with a reason, and the grid goes on."""


class CellFailed(RuntimeError):
    """Raised inside a cell (NaN or exploding loss, ...); the runner writes a failed row with this message."""


def check_loss(value: float, max_loss: float, where: str, step: int) -> None:
    """Fail the cell on a NaN, infinite or exploding loss: training on would only produce a meaningless number."""
    if value != value:  # NaN
        raise CellFailed(f"{where}: loss is NaN at step {step}")
    if value in (float("inf"), float("-inf")) or abs(value) > max_loss:
        raise CellFailed(f"{where}: loss exploded to {value:.4g} at step {step} (limit {max_loss:g})")
