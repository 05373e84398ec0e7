"""The `tcrbench` command: sub-apps from each module, plugin commands, and one-line errors with exit code 2.

The command modules (and through the plugin layer, torch) load on first use of `app` or `main()`, not when this
module is imported: `tcrbench --version` answers without them.
"""

from __future__ import annotations

import os
import sys
from functools import partial

# Before torch loads: with OpenMP's default spin-waiting, every parallel region on a busy 2-core machine waits a
# scheduler time slice for its peer thread (measured: one fine-tuning epoch 42 s instead of 2.5 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from tcrbench.errors import StorageFault, UsageError


def _as_parsed(param: Any, coerce: Any, ctx: Any, value: Any) -> Any:
    """A group option that was not given (None) needs no coercion, and typer's imports pydantic (about 60 ms) on
    the way to every subcommand, `tcrbench run --help` included; a given value is coerced as usual."""
    if value is None and not param.required:
        return param.callback(ctx, param, value) if param.callback is not None else value
    return coerce(ctx, value)


def _uncoerced(param: Any) -> Any:
    if not isinstance(param.process_value, partial):  # once: the help option is the same object on every call
        setattr(param, "process_value", partial(_as_parsed, param, param.process_value))  # noqa: B010 (this instance)
    return param


class _Group(TyperGroup):
    """Turns a UsageError raised anywhere below into `error: <message>` on one line and exit code 2 (a
    StorageFault, a run folder that cannot be written to, into exit code 4); the root and every sub-app's group
    options that were not given skip typer's coercion (see _as_parsed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _uncoerced(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        return option if option is None else _uncoerced(option)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(code=2) from None
        except StorageFault as exc:  # disk full: finished rows are kept, the same command resumes
            typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(code=StorageFault.code) from None


_app = typer.Typer(
    cls=_Group,
    help="Does this self-supervised pretraining recipe help TCR-peptide binding prediction, and by how much?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def version_line() -> str:
    """`tcrbench X.Y.Z`: the installed distribution's version (the package's own when it runs uninstalled)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"tcrbench {version('tcrbench')}"
    except PackageNotFoundError:
        from tcrbench import __version__

        return f"tcrbench {__version__}"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@_app.callback()
def _root(
    plugins_dir: Optional[str] = typer.Option(
        None,
        "--plugins-dir",
        envvar="TCRBENCH_PLUGINS_DIR",
        help="Directory of single-file plugins (*.py) to load after the built-ins and installed ones.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if plugins_dir is not None:
        os.environ["TCRBENCH_PLUGINS_DIR"] = plugins_dir


_mounted = False


def _mount() -> None:
    """Add every command module's commands to the app, once."""
    global _mounted
    if _mounted:
        return
    _mounted = True
    from tcrbench.cli import plugins_cmd

    app = _app
    app.add_typer(plugins_cmd.app, name="plugins", cls=_Group)
    for module, name in (
        ("tcrbench.cli.data", "data"),
        ("tcrbench.cli.stats", "stats"),
        ("tcrbench.cli.run", None),
        ("tcrbench.cli.report", None),
    ):
        try:
            mod = __import__(module, fromlist=["app"])
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        if name is None:
            mod.register(app)
        else:
            app.add_typer(mod.app, name=name, cls=_Group)


def __getattr__(name: str) -> Any:
    """`tcrbench.cli.main.app`: the app with every command mounted (mounting imports the command modules)."""
    if name == "app":
        _mount()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _asks_version(argv: list[str]) -> bool:
    """Whether `--version` comes among the root options, before any command."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--version":
            return True
        if arg == "--plugins-dir":
            i += 2
            continue
        if not arg.startswith("--plugins-dir="):
            return False
        i += 1
    return False


def _plugins_dir_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--plugins-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--plugins-dir="):
            return arg.split("=", 1)[1]
    return os.environ.get("TCRBENCH_PLUGINS_DIR") or None


def _commands_from_plugins(plugins_dir: str | None) -> bool:
    """Whether loading the plugins could add commands. The built-in plugins add none (a test holds them to it), so
    only installed plugins and single files in --plugins-dir that name `register_commands` count; plugins already
    loaded in this process (tests, the Python API) are used as they are. Loading them imports torch: skipping it
    keeps every `--help` and the commands that need no plugin fast."""
    loader = sys.modules.get("tcrbench.plugins.loader")
    if loader is not None and getattr(loader, "_current", None) is not None:
        return True
    if plugins_dir is not None:
        from pathlib import Path

        path = Path(plugins_dir)
        if not path.is_dir():
            raise UsageError(f"--plugins-dir {path}: not a directory")
        for file in path.glob("*.py"):
            if not file.name.startswith("_") and "register_commands" in file.read_text(
                encoding="utf-8", errors="replace"
            ):
                return True
    from importlib.metadata import entry_points

    return bool(entry_points(group="tcrbench"))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: plugin commands are added before parsing, so they show in --help."""
    args = sys.argv[1:] if argv is None else argv
    if _asks_version(args):  # before the command modules and plugins load: no torch import for a version
        typer.echo(version_line())
        raise SystemExit(0)
    _mount()
    app = _app
    try:
        plugins_dir = _plugins_dir_from_argv(args)
        if _commands_from_plugins(plugins_dir):
            from tcrbench.plugins.loader import get_plugins

            get_plugins(plugins_dir).hook.register_commands(app=app)
    except UsageError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise SystemExit(2) from None
    app(args=args, prog_name="tcrbench")
