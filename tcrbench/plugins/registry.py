"""The typed registry: every plugin object, where it came from, and how to build it from `name:key=value`."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.plugins.params import ParamSpec, build_params, coerce, param_specs, split_spec
from tcrbench.plugins.protocols import Kind, plugin_identity


@dataclass(frozen=True)
class Source:
    """Where a plugin object came from; goes into every result row."""

    plugin: str
    origin: str  # "built-in", "distribution" or "file"
    detail: str  # version, or "path sha256:..."

    def __str__(self) -> str:
        if self.origin == "built-in":
            return f"built-in ({self.detail})"
        if self.origin == "distribution":
            return f"{self.plugin} {self.detail}"
        return f"{self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {"plugin": self.plugin, "origin": self.origin, "detail": self.detail}


@dataclass(frozen=True)
class Entry:
    """One registered plugin class: what `tcrbench plugins` lists and what a spec string builds."""

    kind: Kind
    name: str
    description: str
    cls: type
    source: Source

    @property
    def params(self) -> list[ParamSpec]:
        """The class's typed parameters (its dataclass fields)."""
        return param_specs(self.cls)

    def create(self, values: dict[str, Any] | None = None) -> Any:
        """An instance from raw values (command-line strings or TOML); bad values are a UsageError naming it."""
        where = f"{self.kind.value} {self.name!r}"
        kwargs = build_params(self.cls, values or {}, where)
        try:
            return self.cls(**kwargs)
        except UsageError:
            raise
        except (TypeError, ValueError) as exc:  # a plugin's own validation in __post_init__
            raise UsageError(f"{where}: {exc}") from None


def _check_class(kind: Kind, cls: Any, source: Source) -> tuple[str, str]:
    """The class's name and one-line description, or a UsageError naming the plugin that registered it."""
    where = f"plugin {source.plugin!r} registering a {kind.value}"
    if not isinstance(cls, type):
        raise UsageError(f"{where}: register() takes a class, got {type(cls).__name__}")
    try:
        return plugin_identity(cls)
    except ValueError as exc:
        raise UsageError(f"{where}: {cls.__name__}: {exc}") from None


class Registry:
    """Every plugin class by kind and name; a name is unique within its kind, whoever registers it."""

    def __init__(self) -> None:
        self._entries: dict[Kind, dict[str, Entry]] = {k: {} for k in Kind}

    def add(self, kind: Kind, cls: type, source: Source) -> Entry:
        """Register one class; a bad class or a name already taken is a UsageError naming both sources."""
        name, description = _check_class(kind, cls, source)
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise UsageError(f"{kind.value} {name!r} is registered twice: by {existing.source} and by {source}")
        entry = Entry(kind, name, description, cls, source)
        self._entries[kind][name] = entry
        return entry

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything one plugin registered (it failed part-way through registering)."""
        for kind in Kind:
            for name in [n for n, e in self._entries[kind].items() if e.source.plugin == plugin]:
                del self._entries[kind][name]

    def names(self, kind: Kind) -> list[str]:
        """The registered names of one kind, sorted."""
        return sorted(self._entries[kind])

    def __iter__(self) -> Iterator[Entry]:
        for kind in Kind:
            for name in sorted(self._entries[kind]):
                yield self._entries[kind][name]

    def get(self, kind: Kind, name: str) -> Entry:
        """The entry for a name; an unknown name is a UsageError with the known names and a did-you-mean."""
        try:
            return self._entries[kind][name]
        except KeyError:
            known = self.names(kind)
            hint = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"unknown {kind.value} {name!r} (known: {', '.join(known) or 'none'}){extra}") from None

    def find(self, name: str) -> list[Entry]:
        """Entries of any kind with this name (`tcrbench plugins show NAME` does not ask for the kind)."""
        return [e for e in self if e.name == name]

    def create(self, kind: Kind, spec: str) -> Any:
        """Build one plugin object from `name:key=value,...`; `+` composes augmentations and objectives."""
        parts = spec.split("+")
        if len(parts) > 1:
            if kind not in (Kind.AUGMENTATION, Kind.OBJECTIVE):
                raise UsageError(f"{spec!r}: only augmentations and objectives compose with '+'")
            from tcrbench.plugins.compose import compose_augmentations, compose_objectives

            if kind is Kind.AUGMENTATION:
                return compose_augmentations([self.create(kind, p) for p in parts], spec)
            objectives, weights = [], []
            for part in parts:
                name, values = split_spec(part)
                raw_weight = values.pop("weight", "1")
                weights.append(coerce(raw_weight, float, f"objective {name!r}: parameter 'weight'"))
                objectives.append(self.get(kind, name).create(values))
            return compose_objectives(objectives, weights, spec)
        name, values = split_spec(spec)
        return self.get(kind, name).create(values)
