"""The `tcrbench` command: sub-apps from each module, plugin commands, and one-line errors with exit code 2.

The command modules (and through the plugin layer, torch) load on first use of `app` or `main()`, not when this
module is imported: `tcrbench --version` answers without them.
"""

from __future__ import annotations

import os
import sys

# Before torch loads: with OpenMP's default spin-waiting, every parallel region on a busy 2-core machine waits a
# scheduler time slice for its peer thread (measured: one fine-tuning epoch 42 s instead of 2.5 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from tcrbench.errors import StorageFault, UsageError


class _Group(TyperGroup):
    """Turns a UsageError raised anywhere below into `error: <message>` on one line and exit code 2 (a
    StorageFault, a run folder that cannot be written to, into exit code 4)."""

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
    app.add_typer(plugins_cmd.app, name="plugins")
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
            app.add_typer(mod.app, name=name)


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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: plugin commands are added before parsing, so they show in --help."""
    args = sys.argv[1:] if argv is None else argv
    if _asks_version(args):  # before the command modules and plugins load: no torch import for a version
        typer.echo(version_line())
        raise SystemExit(0)
    _mount()
    app = _app
    from tcrbench.plugins.loader import get_plugins

    try:
        plugins = get_plugins(_plugins_dir_from_argv(args))
        plugins.hook.register_commands(app=app)
    except UsageError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise SystemExit(2) from None
    app(args=args, prog_name="tcrbench")
