"""The training-dynamics section's types: plain frozen dataclasses that renderers read, no statistics here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tcrbench.report.model import row_key

if TYPE_CHECKING:
    from tcrbench.stats.plateau import Plateau

RULE = (
    "plateau: the earliest checkpoint from which every later mean gain stays within ± 1 standard error "
    "(the mean of those checkpoints' corrected standard errors over folds × seeds) of the mean gain over "
    "those checkpoints; the pretraining loss has converged at a checkpoint when it never again falls by "
    "more than 5% of its range over the run"
)
OPTIMISTIC = (
    "the best checkpoint is chosen on the test folds, so its score is optimistic: report the plateau "
    "(or the last) checkpoint, or choose on a validation split"
)


@dataclass(frozen=True)
class CurvePoint:
    """One evaluated pretraining step of a curve: score and gain over the reference, each with its CI."""

    step: int
    n_cells: int
    n_failed: int
    mean: float
    ci_low: float
    ci_high: float
    gain: float  # mean of (score - supervised) over the paired cells; NaN without a reference
    gain_se: float
    gain_ci_low: float
    gain_ci_high: float
    loss: float | None  # mean pretraining loss over the cells at this step (None at step 0)


@dataclass(frozen=True)
class DynamicsCurve:
    """One configuration's curve under one protocol."""

    label: str
    protocol: str  # dynamics-probe | dynamics-finetune
    reference: str  # what the gain is taken against
    baseline_mean: float
    baseline_ci: tuple[float, float]
    points: tuple[CurvePoint, ...]
    plateau: Plateau | None
    loss_converged_step: int | None
    best_step: int | None
    label_fraction: float = 1.0  # share of the labels fine-tuning/probing saw (label-fraction runs)

    @property
    def name(self) -> str:
        """The curve's heading: "label [protocol]", with the label fraction when it is below 1."""
        return row_key(self.label, self.protocol, self.label_fraction)

    @property
    def loss_converged_at_plateau(self) -> bool | None:
        """Had the loss converged (by the rule) by the plateau step? None without a plateau or a loss."""
        if self.plateau is None or not any(p.loss is not None for p in self.points):
            return None
        return self.loss_converged_step is not None and self.loss_converged_step <= self.plateau.step

    def point(self, step: int) -> CurvePoint:
        for p in self.points:
            if p.step == step:
                return p
        raise KeyError(step)


@dataclass(frozen=True)
class DynamicsSection:
    """Every curve of a run, with the rule that found the plateaus and the warning about the best checkpoint."""

    metric: str
    confidence: float
    curves: tuple[DynamicsCurve, ...]
    rule: str = RULE
    warning: str = OPTIMISTIC
