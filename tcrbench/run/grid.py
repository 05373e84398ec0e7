"""The grid: which configurations a run compares. The supervised baseline and the simple baselines are always
part of it, with exactly the encoder, folds, seeds and budget of the pretrained arms."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.plugins.params import param_values
from tcrbench.plugins.protocols import Kind
from tcrbench.results.schema import Arm
from tcrbench.run.config import RunConfig
from tcrbench.run.spec import parse_pair, parse_pairs

__all__ = ["Configuration", "describe", "parse_pair", "plan", "pretraining_pairs"]


def describe(obj: Any) -> Any:
    """Name and resolved parameters of a plugin object (composed ones list their parts)."""
    if obj is None:
        return None
    parts = getattr(obj, "parts", None)
    if parts is not None and getattr(obj, "name", "") == "composed":
        weights = getattr(obj, "weights", None)
        out = [describe(p) for p in parts]
        if weights is not None:
            for d, w in zip(out, weights):
                d["weight"] = w
        return out
    return {"name": obj.name, **param_values(obj)}


@dataclass
class Configuration:
    """One arm of the comparison: its plugin objects, built up front, and the protocols it is scored under."""

    label: str
    arm: Arm  # pretrained | supervised | baseline
    protocols: tuple[str, ...]
    augmentation: str | None = None
    objective: str | None = None
    encoder: str | None = None
    baseline: str | None = None
    uses_labels: bool = False
    shortcut: bool = False
    published: bool = False  # weights pretrained by others (SCEPTR, a local checkpoint): its own board section
    aug_obj: Any = field(default=None, repr=False)
    obj_obj: Any = field(default=None, repr=False)
    enc_obj: Any = field(default=None, repr=False)
    base_obj: Any = field(default=None, repr=False)

    @property
    def params(self) -> dict[str, Any]:
        """Every plugin's name and resolved parameters: recorded in each row, and part of the config id."""
        return {
            "augmentation": describe(self.aug_obj),
            "objective": describe(self.obj_obj),
            "encoder": describe(self.enc_obj),
            "baseline": describe(self.base_obj),
        }

    def config_id(self, cfg: RunConfig) -> str:
        """Everything that changes this configuration's numbers."""
        payload = {
            "arm": self.arm,
            "params": self.params,
            "budget": cfg.budget.__dict__,
            "pretrain_on": cfg.pretrain_on,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def finetune_budget(self, budget: Any) -> Any:
        """The run's budget, with fine-tuning epochs capped where the encoder asks (`max_epochs`, a published
        model whose epochs cost minutes on a CPU). The cap is a parameter of the encoder's spec, so it shows in the
        board's label and its config id; 0 = no cap."""
        cap = int(getattr(self.enc_obj, "max_epochs", 0) or 0)
        if cap <= 0 or budget.finetune_epochs <= cap:
            return budget
        return dataclasses.replace(budget, finetune_epochs=cap)

    @property
    def slug(self) -> str:
        """The label made safe for a file name (row keys start with it, so a run folder stays readable)."""
        return re.sub(r"[^A-Za-z0-9]+", "-", self.label).strip("-").lower()[:48]


def pretraining_pairs(cfg: RunConfig) -> list[tuple[str, str]]:
    """(augmentation, objective) pairs: the listed `pairs`, else every augmentation with every objective.

    Pairs exist because a full cross is often wasteful or meaningless: `identity` with NT-Xent gives two equal
    views (a trivial task), while `identity` is exactly what MLM wants.
    """
    if cfg.pairs:
        return parse_pairs(cfg.pairs)
    return [(a, o) for a in cfg.augs for o in cfg.objectives]


SUPERVISED_CNN = "chain_cnn"


def default_baselines(registry: Any) -> list[str]:
    """The baselines a run gets when it names none: every registered one except those that ask to be chosen
    (`opt_in = True`: an embedding kNN needs a published encoder and its optional extra)."""
    names = registry.names(Kind.BASELINE)
    return [n for n in names if not getattr(registry.get(Kind.BASELINE, n).cls, "opt_in", False)]


def published_configurations(cfg: RunConfig, registry: Any) -> list[Configuration]:
    """Published pretrained encoders beside the recipe: each under the run's protocols (probe: frozen; fine-tune:
    through its weights), with the folds, seeds and budget of every other arm, and no further pretraining."""
    none = registry.create(Kind.OBJECTIVE, "none")
    out = []
    for spec in cfg.published_encoders:
        enc = registry.create(Kind.ENCODER, spec)
        out.append(
            Configuration(
                label=f"{spec} (published)",
                arm="baseline",
                protocols=tuple(cfg.protocols),
                objective="none",
                encoder=spec,
                uses_labels=True,
                published=True,
                enc_obj=enc,
                obj_obj=none,
            )
        )
    return out


def plan(cfg: RunConfig, registry: Any) -> list[Configuration]:
    """Build every plugin object up front, so a bad name or parameter fails before any work starts."""
    enc = registry.create(Kind.ENCODER, cfg.encoder)
    configs: list[Configuration] = []
    baselines = default_baselines(registry) if cfg.baselines is None else cfg.baselines
    for spec in baselines:
        obj = registry.create(Kind.BASELINE, spec)
        configs.append(
            Configuration(
                label=spec,
                arm="baseline",
                protocols=("baseline",),
                baseline=spec,
                uses_labels=True,
                shortcut=bool(getattr(obj, "shortcut", False)),
                published=bool(getattr(obj, "published", False)),  # a kNN in a published model's embedding
                base_obj=obj,
            )
        )
    configs += published_configurations(cfg, registry)
    # the NetTCR-style CNN trained with labels only: the small supervised model published CNNs are, on every board
    if cfg.baselines is None and SUPERVISED_CNN in registry.names(Kind.ENCODER) and enc.name != SUPERVISED_CNN:
        cnn = registry.create(Kind.ENCODER, SUPERVISED_CNN)
        none = registry.create(Kind.OBJECTIVE, "none")
        configs.append(
            Configuration(
                label=f"{SUPERVISED_CNN} (supervised)",
                arm="baseline",
                protocols=("finetune",),
                objective="none",
                encoder=SUPERVISED_CNN,
                uses_labels=True,
                enc_obj=cnn,
                obj_obj=none,
            )
        )
    none = registry.create(Kind.OBJECTIVE, "none")
    configs.append(
        Configuration(
            label=f"supervised · {cfg.encoder}",
            arm="supervised",
            protocols=tuple(cfg.protocols),
            objective="none",
            encoder=cfg.encoder,
            enc_obj=enc,
            obj_obj=none,
        )
    )
    for aug_spec, obj_spec in pretraining_pairs(cfg):
        aug = registry.create(Kind.AUGMENTATION, aug_spec)
        obj = registry.create(Kind.OBJECTIVE, obj_spec)
        if not getattr(obj, "pretrains", True):
            continue  # `none` is the supervised arm, already present
        configs.append(
            Configuration(
                label=f"{aug_spec} × {obj_spec} · {cfg.encoder}",
                arm="pretrained",
                protocols=tuple(cfg.protocols),
                augmentation=aug_spec,
                objective=obj_spec,
                encoder=cfg.encoder,
                uses_labels=bool(getattr(obj, "uses_labels", False)),
                aug_obj=aug,
                obj_obj=obj,
                enc_obj=enc,
            )
        )
    labels = [c.label for c in configs]
    dupes = {x for x in labels if labels.count(x) > 1}
    if dupes:
        raise UsageError(f"the grid names a configuration twice: {', '.join(sorted(dupes))}")
    return configs
