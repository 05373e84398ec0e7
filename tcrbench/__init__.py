"""tcrbench: an honest benchmark for self-supervised pretraining in TCR-peptide binding prediction.

Plugin authors import everything they need from here (`from tcrbench import hookimpl, param, TokenBatch`).
The names load lazily, so `import tcrbench` stays cheap (no torch) for the command line and for the layers that
read a run folder and render its report.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # hooks and parameters
    "hookimpl": "tcrbench.plugins.hookspecs",
    "hookspec": "tcrbench.plugins.hookspecs",
    "Register": "tcrbench.plugins.hookspecs",
    "param": "tcrbench.plugins.params",
    # what each kind of plugin receives and returns
    "Kind": "tcrbench.plugins.protocols",
    "Augmented": "tcrbench.plugins.protocols",
    "Augmentation": "tcrbench.plugins.protocols",
    "Encoder": "tcrbench.plugins.protocols",
    "EncoderFactory": "tcrbench.plugins.protocols",
    "PretrainBatch": "tcrbench.plugins.protocols",
    "ObjectiveOutput": "tcrbench.plugins.protocols",
    "Objective": "tcrbench.plugins.protocols",
    "Dataset": "tcrbench.plugins.protocols",
    "Fold": "tcrbench.plugins.protocols",
    "Splitter": "tcrbench.plugins.protocols",
    "MetricValue": "tcrbench.plugins.protocols",
    "Metric": "tcrbench.plugins.protocols",
    "Baseline": "tcrbench.plugins.protocols",
    "Reporter": "tcrbench.plugins.protocols",
    # tokens
    "TokenBatch": "tcrbench.data.vocab",
    "REGION_NAMES": "tcrbench.data.vocab",
    "VOCAB_SIZE": "tcrbench.data.vocab",
    "AMINO_ACIDS": "tcrbench.data.vocab",
    "PAD": "tcrbench.data.vocab",
    "CLS": "tcrbench.data.vocab",
    "SEP": "tcrbench.data.vocab",
    "MASK": "tcrbench.data.vocab",
    "Tokenizer": "tcrbench.data.tokenizer",
    # model parts an encoder or objective may reuse
    "mean_pool": "tcrbench.models.pooling",
    "ClassifierHead": "tcrbench.models.heads",
    "classification_loss": "tcrbench.models.heads",
    # checking a plugin
    "check_plugin": "tcrbench.plugins.contracts",
    "random_token_batch": "tcrbench.plugins.contracts",
    "ContractError": "tcrbench.plugins.contracts",
    "UsageError": "tcrbench.errors",
    # fast losses (a module)
    "kernels": "tcrbench.kernels",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from tcrbench import kernels
    from tcrbench.data.tokenizer import Tokenizer
    from tcrbench.data.vocab import AMINO_ACIDS, CLS, MASK, PAD, REGION_NAMES, SEP, VOCAB_SIZE, TokenBatch
    from tcrbench.errors import UsageError
    from tcrbench.models.heads import ClassifierHead, classification_loss
    from tcrbench.models.pooling import mean_pool
    from tcrbench.plugins.contracts import ContractError, check_plugin, random_token_batch
    from tcrbench.plugins.hookspecs import Register, hookimpl, hookspec
    from tcrbench.plugins.params import param
    from tcrbench.plugins.protocols import (
        Augmentation, Augmented, Baseline, Dataset, Encoder, EncoderFactory, Fold, Kind, Metric, MetricValue,
        Objective, ObjectiveOutput, PretrainBatch, Reporter, Splitter,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tcrbench' has no attribute {name!r}")
    value = importlib.import_module(module) if name == "kernels" else getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
