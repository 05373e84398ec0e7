"""Contract checks a plugin author runs against their own plugin (`from tcrbench import check_plugin`).

A check builds tiny inputs, calls the plugin the way the runner will, and fails with one message that names the
plugin and the broken promise. Every built-in passes it, so a third-party plugin that passes fits the same slots.
This module holds the entry point and the static checks (name, description, parameters); the behavioural check
of each kind is in `tcrbench.plugins.checks`, and the tiny batches in `tcrbench.plugins.batches`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tcrbench.plugins.batches import random_token_batch, validate_layout
from tcrbench.plugins.checks import DEFAULT_CHECKS, Check, ContractError, fail
from tcrbench.plugins.params import default_fits, param_specs, supported_type
from tcrbench.plugins.protocols import Kind, moves_tokens, plugin_identity

__all__ = [
    "Check",
    "ContractError",
    "check_plugin",
    "moves_tokens",
    "random_token_batch",
    "register_check",
    "validate_layout",
]

_CHECKS: dict[Kind, Check] = dict(DEFAULT_CHECKS)


def register_check(kind: Kind) -> Callable[[Check], Check]:
    """Add (or replace) the behavioural check for one kind: `fn(instance, label)` raising ContractError."""

    def deco(fn: Check) -> Check:
        _CHECKS[kind] = fn
        return fn

    return deco


def _check_static(cls: type, label: str) -> None:
    """What can be seen without calling the plugin: its name and description, and parameters the command line
    can set (a supported type, with a default of that type)."""
    try:
        plugin_identity(cls)
    except ValueError as exc:
        raise fail(label, str(exc)) from None
    for spec in param_specs(cls):
        if spec.default is dataclasses.MISSING:
            raise fail(label, f"parameter {spec.name!r} has no default; every parameter needs one")
        if not supported_type(spec.type):
            raise fail(
                label,
                f"parameter {spec.name!r} has type {spec.type!r}; supported: bool, int, float, "
                "str, Literal[...] of those, Optional[...] of those",
            )
        if not default_fits(spec.default, spec.type):
            raise fail(label, f"parameter {spec.name!r}: default {spec.default!r} is not a {spec.type_name}")


def check_plugin(kind: Kind | str, obj_or_cls: Any, **options: Any) -> Any:
    """Check a plugin class (instantiated with its defaults) or instance against its kind's contract.

    Returns the checked instance; raises ContractError naming the plugin and the first broken promise.
    Options: augmentation checks take none; objective checks accept `encoder_factory=` (default: the tiny
    transformer) and `augmentation=`; encoder checks accept `max_len=` (default 64).
    """
    try:
        kind = Kind(kind)
    except ValueError:
        raise ValueError(f"kind must be one of {', '.join(k.value for k in Kind)}, got {kind!r}") from None
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    label = f"{kind.value} {getattr(cls, 'name', cls.__name__)!r} ({cls.__module__}.{cls.__qualname__})"
    _check_static(cls, label)
    if isinstance(obj_or_cls, type):
        try:
            instance = obj_or_cls()
        except Exception as exc:
            raise fail(label, f"cannot be built with its defaults: {type(exc).__name__}: {exc}") from exc
    else:
        instance = obj_or_cls
    check = _CHECKS.get(kind)
    if check is not None:
        check(instance, label, **options)
    return instance
