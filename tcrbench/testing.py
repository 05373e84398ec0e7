"""Helpers for plugin authors and our own tests: a registry with your plugin in it for one test, a tiny
dataset, and the contract check every built-in passes."""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from tcrbench.run.config import RunConfig

from tcrbench.plugins import loader as _plugins
from tcrbench.plugins.batches import random_token_batch, validate_layout
from tcrbench.plugins.contracts import ContractError, check_plugin
from tcrbench.plugins.hookspecs import Register, hookimpl

__all__ = [
    "ContractError",
    "check_plugin",
    "plugin_module",
    "random_token_batch",
    "temporary_plugins",
    "tiny_config",
    "tiny_dataset",
    "validate_layout",
]


def _registering(kind: str, classes: list[type]) -> Callable[[Register], None]:
    def impl(register: Register) -> None:
        for cls in classes:
            register(cls)

    impl.__name__ = f"register_{kind}"
    return impl


def plugin_module(name: str = "test_plugin", **kinds: list[type]) -> types.ModuleType:
    """A throw-away plugin module: `plugin_module(augmentations=[MyAug])` implements register_augmentations, so a
    test registers classes through the same hooks a real plugin uses."""
    module = types.ModuleType(name)
    for kind, classes in kinds.items():
        setattr(module, f"register_{kind}", hookimpl(_registering(kind, list(classes))))
    return module


@contextlib.contextmanager
def temporary_plugins(
    *extra: Any, plugins_dir: str | Path | None = None, builtins: bool = True
) -> Iterator[_plugins.Plugins]:
    """Load the built-ins plus `extra` plugin objects (modules or classes with hooks) for one test, then restore."""
    previous = _plugins._current, _plugins._current_dir
    loaded = _plugins.load_plugins(
        plugins_dir, builtins=_plugins.DEFAULT_PLUGINS if builtins else (), entry_points=False, _extra=extra
    )
    _plugins.set_plugins(loaded)
    try:
        yield loaded
    finally:
        _plugins._current, _plugins._current_dir = previous


def tiny_dataset(n_peptides: int = 3, n_positives_per_peptide: int = 10, seed: int = 0) -> pl.DataFrame:
    """A few dozen synthetic pairs in the canonical schema, for plugin tests that need a table."""
    from tcrbench.data.synthetic import synthesize

    return synthesize(n_peptides=n_peptides, n_positives_per_peptide=n_positives_per_peptide, seed=seed)


def tiny_config(**overrides: Any) -> RunConfig:
    """A grid that runs in seconds (240 synthetic rows, 2 folds, 3 steps of each training, one thread): for tests of
    the runner, of executors and of plugins that need a whole run rather than one call."""
    from tcrbench.run.config import Budget, RunConfig

    budget = Budget(pretrain_steps=3, pretrain_batch=32, finetune_steps=3, batch_size=32)
    cfg = RunConfig(
        dataset="synthetic:n_peptides=3,n_positives_per_peptide=20",
        augs=["mask1"],
        objectives=["ntxent"],
        encoder="transformer:size=tiny",
        folds=2,
        seeds=[0],
        baselines=["majority", "peptide_only"],
        budget=budget,
        threads=1,
    )
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise TypeError(f"tiny_config: RunConfig has no setting {key!r}")
        setattr(cfg, key, value)
    return cfg
