"""`tcrbench --help` and every command's --help parse before any heavy library loads (issue 18: under 0.3 s of CPU,
measured by benchmarks/test_bench_cli_startup.py), plugin commands still show in the help, and the defaults and
choices the help shows are the library's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer

from tcrbench.cli.main import app

#: What `--help` must not import: each costs from 0.1 s (scipy, polars) to 2 s (torch) before the help prints.
HEAVY = ("torch", "scipy", "polars", "sklearn", "matplotlib", "pandas")

PROBE = """
import json, sys
from tcrbench.cli.main import main
code = None
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": sorted(m for m in HEAVY if m in sys.modules)}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def _command_paths(command: typer.core.TyperGroup | None = None, prefix: tuple[str, ...] = ()) -> list[tuple]:
    """Every command and group of the app, as the words that name it (the root is ())."""
    command = command or typer.main.get_command(app)
    paths = [prefix]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[dict, str]:
    """Run the `tcrbench` entry point in a fresh interpreter: its exit code and heavy modules, and its stdout."""
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stderr.strip().splitlines()[-1]), out.stdout


def test_every_command_is_probed() -> None:
    paths = {" ".join(p) for p in _command_paths()}
    assert {"", "run", "report", "leaderboard", "data synth", "data inspect", "stats compare", "stats plan",
            "plugins", "plugins show"} <= paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "tcrbench")
def test_help_imports_no_heavy_library(path: tuple[str, ...]) -> None:
    result, stdout = _probe(*path, "--help")
    assert result["code"] in (0, None) and "Usage: tcrbench" in stdout
    assert result["loaded"] == [], f"`tcrbench {' '.join(path)} --help` imported {result['loaded']}"


def test_builtin_plugins_add_no_commands() -> None:
    """main() loads plugins for their commands only when a plugin outside tcrbench could add one: this holds."""
    from tcrbench.plugins.loader import load_plugins

    plugins = load_plugins(None, entry_points=False)
    assert plugins.sources, "the built-in plugins loaded"
    assert plugins.hook.register_commands.get_hookimpls() == []


HELLO = '''
import typer
from tcrbench import hookimpl


@hookimpl
def register_commands(app: typer.Typer) -> None:
    @app.command()
    def hello() -> None:
        """Say hello from a plugin."""
        typer.echo("hello from a plugin")
'''


def test_a_plugin_command_is_in_the_help_and_runs(tmp_path: Path) -> None:
    from tcrbench.plugins.loader import DEFAULT_PLUGINS

    (tmp_path / "greeter.py").write_text(HELLO)
    quick = {"TCRBENCH_DISABLE_PLUGINS": ",".join(DEFAULT_PLUGINS)}  # the built-ins add no command
    result, stdout = _probe("--plugins-dir", str(tmp_path), "--help", env=quick)
    assert result["code"] in (0, None) and "hello" in stdout and "Say hello from a plugin." in stdout
    result, stdout = _probe("--plugins-dir", str(tmp_path), "hello", env=quick)
    assert result["code"] in (0, None) and stdout == "hello from a plugin\n"


def test_a_plugin_without_commands_does_not_slow_the_help(tmp_path: Path) -> None:
    (tmp_path / "quiet.py").write_text("raise RuntimeError('imported for --help')\n")
    result, stdout = _probe("--plugins-dir", str(tmp_path), "data", "--help")
    assert result == {"code": 0, "loaded": []} and "synth" in stdout


def test_a_missing_plugins_dir_is_still_refused(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tcrbench", "--plugins-dir", str(tmp_path / "nope"), "data", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr == f"error: --plugins-dir {tmp_path / 'nope'}: not a directory\n"


# ------------------------------------------------------------------------- defaults and choices in --help
def test_the_help_defaults_are_the_librarys() -> None:
    from tcrbench.cli import data
    from tcrbench.data.schema import DEFAULT_MAX_LEN
    from tcrbench.data.synthetic import DEFAULT_DIFFICULTY, DEFAULT_NEGATIVE_RATIO, DEFAULT_PEPTIDES, DEFAULT_POSITIVES
    from tcrbench.data.synthetic_corpus import DEFAULT_CORPUS

    assert (data.DEFAULT_MAX_LEN, data.DEFAULT_CORPUS) == (DEFAULT_MAX_LEN, DEFAULT_CORPUS)
    assert (data.DEFAULT_PEPTIDES, data.DEFAULT_POSITIVES, data.DEFAULT_NEGATIVE_RATIO, data.DEFAULT_DIFFICULTY) == (
        DEFAULT_PEPTIDES, DEFAULT_POSITIVES, DEFAULT_NEGATIVE_RATIO, DEFAULT_DIFFICULTY)


def test_the_plugin_kinds_offered_are_the_registrys() -> None:
    from tcrbench.cli.plugins_cmd import KindName
    from tcrbench.plugins.protocols import Kind

    assert typing.get_args(KindName) == tuple(k.value for k in Kind)


OWN = ("report", "leaderboard", "data synth", "data inspect", "stats compare", "stats plan", "plugins",
       "plugins show")


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("path", OWN)
def test_help_shows_every_default_and_choice(path: str) -> None:
    from typer.testing import CliRunner

    words = path.split()
    command = typer.main.get_command(app)
    for word in words:
        command = command.commands[word]
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    checked = 0
    for param in command.params:
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if typing.get_origin(annotation) is typing.Union:  # Optional[Literal[...]]
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if typing.get_origin(annotation) is typing.Literal:
            assert "|".join(map(str, typing.get_args(annotation))) in text, f"{path} {param.opts}: choices"
            checked += 1
        if getattr(param, "is_flag", False) or param.default is None or param.required:
            continue
        shown = param.default.name if isinstance(param.default, Path) else param.default
        assert f"[default: {shown}]" in text, f"{path} {param.opts}: default {param.default!r} not in the help"
        checked += 1
    if path not in ("plugins show",):
        assert checked, f"{path}: no option checked"
