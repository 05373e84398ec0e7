"""tcrbench: an honest benchmark for self-supervised pretraining in TCR-peptide binding prediction.

Plugin authors import everything they need from here (`from tcrbench import hookimpl, param, TokenBatch`), so
the layout of the package behind it can change without breaking a plugin. The names load lazily, so
`import tcrbench` stays cheap (no torch) for the command line and for the layers that read a run folder and
render its report.
"""

from __future__ import annotations

import importlib
import os

# Before torch loads (any tcrbench import runs this first: the CLI, `python -m tcrbench`, the Python API, executor
# workers): with OpenMP's default spin-waiting, every parallel region on a busy 2-core machine waits a scheduler
# time slice for its peer thread (measured: one fine-tuning epoch 42 s instead of 2.5 s). A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
    "moves_tokens": "tcrbench.plugins.protocols",
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
    # the loaded plugins (the registry builds objects from `name:key=value` as the command line does)
    "get_plugins": "tcrbench.plugins.loader",
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
    # batched masking and re-packing for augmentations (one draw for the whole batch, no loop over rows)
    "pick_one": "tcrbench.kernels.masking",
    "mask_one": "tcrbench.kernels.masking",
    "bernoulli_mask": "tcrbench.kernels.masking",
    "bert_replace": "tcrbench.kernels.masking",
    "repack_left": "tcrbench.kernels.masking",
    # model parts an encoder or objective may reuse
    "mean_pool": "tcrbench.models.pooling",
    "ClassifierHead": "tcrbench.models.heads",
    "classification_loss": "tcrbench.models.heads",
    # what the runner does with a splitter's folds and a metric's values
    "fold_warnings": "tcrbench.data.splits",
    "pair_ids": "tcrbench.data.splits",
    "choose_threshold": "tcrbench.run.evaluation",
    "evaluate": "tcrbench.run.evaluation",
    # checking and testing a plugin
    "check_plugin": "tcrbench.plugins.contracts",
    "ContractError": "tcrbench.plugins.checks",
    "random_token_batch": "tcrbench.plugins.batches",
    "validate_layout": "tcrbench.plugins.batches",
    "plugin_module": "tcrbench.testing",
    "temporary_plugins": "tcrbench.testing",
    "tiny_dataset": "tcrbench.testing",
    "UsageError": "tcrbench.errors",
    # fast losses (a module)
    "kernels": "tcrbench.kernels",
}

__all__ = [
    "AMINO_ACIDS",
    "CLS",
    "MASK",
    "PAD",
    "REGION_NAMES",
    "SEP",
    "VOCAB_SIZE",
    "Augmentation",
    "Augmented",
    "Baseline",
    "ClassifierHead",
    "ContractError",
    "Dataset",
    "Encoder",
    "EncoderFactory",
    "Fold",
    "Kind",
    "Metric",
    "MetricValue",
    "Objective",
    "ObjectiveOutput",
    "PretrainBatch",
    "Register",
    "Reporter",
    "Splitter",
    "TokenBatch",
    "Tokenizer",
    "UsageError",
    "__version__",
    "bernoulli_mask",
    "bert_replace",
    "check_plugin",
    "choose_threshold",
    "classification_loss",
    "evaluate",
    "fold_warnings",
    "get_plugins",
    "hookimpl",
    "hookspec",
    "kernels",
    "mask_one",
    "mean_pool",
    "moves_tokens",
    "pair_ids",
    "param",
    "pick_one",
    "plugin_module",
    "random_token_batch",
    "repack_left",
    "temporary_plugins",
    "tiny_dataset",
    "validate_layout",
]  # every key of _EXPORTS, and the version (tests/core/test_public_api.py holds the two together)

if TYPE_CHECKING:
    from tcrbench import kernels
    from tcrbench.data.splits import fold_warnings, pair_ids
    from tcrbench.data.tokenizer import Tokenizer
    from tcrbench.data.vocab import AMINO_ACIDS, CLS, MASK, PAD, REGION_NAMES, SEP, VOCAB_SIZE, TokenBatch
    from tcrbench.errors import UsageError
    from tcrbench.kernels.masking import bernoulli_mask, bert_replace, mask_one, pick_one, repack_left
    from tcrbench.models.heads import ClassifierHead, classification_loss
    from tcrbench.models.pooling import mean_pool
    from tcrbench.plugins.batches import random_token_batch, validate_layout
    from tcrbench.plugins.checks import ContractError
    from tcrbench.plugins.contracts import check_plugin
    from tcrbench.plugins.hookspecs import Register, hookimpl, hookspec
    from tcrbench.plugins.loader import get_plugins
    from tcrbench.plugins.params import param
    from tcrbench.plugins.protocols import (
        Augmentation,
        Augmented,
        Baseline,
        Dataset,
        Encoder,
        EncoderFactory,
        Fold,
        Kind,
        Metric,
        MetricValue,
        Objective,
        ObjectiveOutput,
        PretrainBatch,
        Reporter,
        Splitter,
        moves_tokens,
    )
    from tcrbench.run.evaluation import choose_threshold, evaluate
    from tcrbench.testing import plugin_module, temporary_plugins, tiny_dataset


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562), and keep it so the next lookup is a plain attribute."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tcrbench' has no attribute {name!r}")
    value = importlib.import_module(module) if name == "kernels" else getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
