"""Plugin loading: built-ins, then installed distributions, then single files, with per-plugin error capture.

Built-ins are registered from a tuple rather than entry points, because entry points of an editable install are
frozen at install time; they go through exactly the same hooks as third-party plugins.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from tcrbench import __version__
from tcrbench.errors import UsageError
from tcrbench.plugins import hookspecs
from tcrbench.plugins.protocols import Kind
from tcrbench.plugins.registry import Registry, Source

DEFAULT_PLUGINS: tuple[str, ...] = (
    "tcrbench_plugins.augmentations",
    "tcrbench_plugins.objectives",
    "tcrbench_plugins.encoders",
    "tcrbench_plugins.datasets",
    "tcrbench_plugins.splitters",
    "tcrbench_plugins.metrics",
    "tcrbench_plugins.baselines",
    "tcrbench_plugins.neighbour_baselines",
    "tcrbench_plugins.sceptr_encoder",
    "tcrbench_plugins.hf_encoder",
    "tcrbench_plugins.reporters",
    "tcrbench_plugins.trackers",
)
ENTRY_POINT_GROUP = "tcrbench"


def _env_list(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


def strict_mode() -> bool:
    """Whether TCRBENCH_STRICT_PLUGINS makes a plugin that fails to load fatal (CI wants that; a user's run not)."""
    return os.environ.get("TCRBENCH_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Plugins:
    """A loaded plugin manager and the registry it filled."""

    pm: pluggy.PluginManager
    registry: Registry
    sources: dict[str, Source] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        """pluggy's hook relay, for calling the observer hooks and `register_commands`."""
        return self.pm.hook


class _Loader:
    def __init__(self, strict: bool, disabled: set[str]) -> None:
        self.pm = pluggy.PluginManager("tcrbench")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.sources: dict[str, Source] = {}
        self.warnings: list[str] = []
        self.strict = strict
        self.disabled = disabled

    def warn(self, message: str) -> None:
        if self.strict:
            raise UsageError(f"{message} (TCRBENCH_STRICT_PLUGINS is set)")
        self.warnings.append(message)
        print(f"warning: {message}", file=sys.stderr)

    def add(self, name: str, obj: Any, source: Source) -> None:
        if name in self.disabled:
            return
        if self.pm.has_plugin(name):
            raise UsageError(f"two plugins are named {name!r}: {self.sources[name]} and {source}")
        try:
            self.pm.register(obj, name=name)
        except pluggy.PluginValidationError as exc:
            raise UsageError(f"plugin {name!r} ({source}): {_one_line(exc)}") from None
        unknown = [
            hook_name
            for hook_name, caller in vars(self.pm.hook).items()
            if isinstance(caller, pluggy.HookCaller)
            and caller.spec is None
            and any(impl.plugin_name == name for impl in caller.get_hookimpls())
        ]
        if unknown:
            self.pm.unregister(name=name)
            known = sorted(n for n, c in vars(self.pm.hook).items() if isinstance(c, pluggy.HookCaller) and c.spec)
            import difflib

            hint = difflib.get_close_matches(unknown[0], known, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"plugin {name!r} ({source}) implements unknown hook {unknown[0]!r}{extra}")
        self.sources[name] = source

    def register_objects(self) -> None:
        """Call each plugin's registration hooks one plugin at a time, so an error names its plugin."""
        for plugin_name in list(self.sources):
            source = self.sources[plugin_name]
            staged: list[tuple[Kind, type]] = []
            try:
                for kind in Kind:
                    caller = getattr(self.pm.hook, kind.hook)
                    for impl in caller.get_hookimpls():
                        if impl.plugin_name != plugin_name:
                            continue
                        impl.function(register=lambda cls, _k=kind, _s=staged: _s.append((_k, cls)))
            except UsageError:
                raise
            except Exception as exc:  # a third-party bug must not take the others down
                self.pm.unregister(name=plugin_name)
                del self.sources[plugin_name]
                self.warn(f"plugin {plugin_name!r} ({source}) failed while registering: {_one_line(exc)}")
                continue
            for kind, cls in staged:
                self.registry.add(kind, cls, source)
        self.pm.check_pending()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def file_sha256(path: Path) -> str:
    """The hash a single-file plugin is recorded by, so a result names the exact code that made it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_plugins(
    plugins_dir: str | Path | None = None,
    *,
    strict: bool | None = None,
    disabled: set[str] | None = None,
    builtins: tuple[str, ...] = DEFAULT_PLUGINS,
    entry_points: bool = True,
    _extra: tuple[Any, ...] = (),
) -> Plugins:
    """Load every plugin source in order and fill a fresh registry."""
    loader = _Loader(
        strict_mode() if strict is None else strict,
        _env_list("TCRBENCH_DISABLE_PLUGINS") if disabled is None else disabled,
    )
    for modname in builtins:
        short = modname.rsplit(".", 1)[-1]
        if short in loader.disabled or modname in loader.disabled:
            continue
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            loader.warn(f"built-in plugin {modname!r} failed to import: {_one_line(exc)}")
            continue
        loader.add(modname, module, Source(modname, "built-in", f"tcrbench {__version__}"))

    for i, obj in enumerate(_extra):
        name = getattr(obj, "__name__", None) or f"extra{i}"
        loader.add(name, obj, Source(name, "file", f"<test plugin {name}>"))

    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in loader.disabled:
                continue
            dist = getattr(ep, "dist", None)
            detail = f"{dist.version}" if dist is not None else "unknown version"
            plugin = dist.name if dist is not None else ep.name
            try:
                obj = ep.load()
            except Exception as exc:
                loader.warn(f"plugin {ep.name!r} (distribution {plugin}) failed to import: {_one_line(exc)}")
                continue
            loader.add(ep.name, obj, Source(plugin, "distribution", detail))

    directory = plugins_dir if plugins_dir is not None else os.environ.get("TCRBENCH_PLUGINS_DIR") or None
    if directory is not None:
        path = Path(directory)
        if not path.is_dir():
            raise UsageError(f"--plugins-dir {path}: not a directory")
        for file in sorted(path.glob("*.py")):
            if file.stem in loader.disabled or file.name.startswith("_"):
                continue
            source = Source(file.stem, "file", f"{file} sha256:{file_sha256(file)}")
            try:
                module = _import_file(file)
            except Exception as exc:
                loader.warn(f"plugin file {str(file)!r} failed to import: {_one_line(exc)}")
                continue
            loader.add(file.stem, module, source)

    loader.register_objects()
    return Plugins(loader.pm, loader.registry, loader.sources, loader.warnings)


def _import_file(file: Path) -> ModuleType:
    modname = f"tcrbench_file_plugin_{file.stem}_{hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(modname, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[modname]
        raise
    return module


_current: Plugins | None = None
_current_dir: str | None = None


def get_plugins(plugins_dir: str | Path | None = None) -> Plugins:
    """The process-wide plugins, loaded once (per plugins directory)."""
    global _current, _current_dir
    key = None if plugins_dir is None else str(plugins_dir)
    if _current is None or key != _current_dir:
        _current = load_plugins(plugins_dir)
        _current_dir = key
    return _current


def loaded_plugins() -> Plugins:
    """The plugins this process runs with (those of `--plugins-dir` when the run loaded them), else the defaults:
    what a plugin that looks up another (embedding_knn finding its encoder) must see."""
    return _current if _current is not None else get_plugins()


def set_plugins(plugins: Plugins | None) -> None:
    """Replace the process-wide plugins (tests use `tcrbench.testing.temporary_plugins`)."""
    global _current, _current_dir
    _current = plugins
    _current_dir = None
