"""The plugin system's promises: sources in order, failures named, duplicates refused, names suggested."""

from __future__ import annotations

import hashlib
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from tcrbench.errors import UsageError
from tcrbench.plugins.loader import load_plugins
from tcrbench.plugins.protocols import Kind
from tcrbench.testing import plugin_module

GOOD = '''
from dataclasses import dataclass
from typing import ClassVar
from tcrbench.plugins.hookspecs import hookimpl
from tcrbench.plugins.params import param


@dataclass
class Flip:
    name: ClassVar[str] = "{name}"
    description: ClassVar[str] = "reverses nothing, for tests"
    strength: float = param(0.5, help="how hard")

    def __call__(self, batch, generator):
        raise NotImplementedError


@hookimpl
def register_augmentations(register):
    register(Flip)
'''


def write(dir_: Path, name: str, text: str) -> Path:
    path = dir_ / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def load(dir_: Path, **kw):
    return load_plugins(dir_, builtins=(), entry_points=False, **kw)


def test_file_plugin_registers_with_path_and_sha256(tmp_path):
    path = write(tmp_path, "flipper", GOOD.format(name="flip"))
    plugins = load(tmp_path)
    entry = plugins.registry.get(Kind.AUGMENTATION, "flip")
    assert entry.source.origin == "file"
    assert str(path) in str(entry.source)
    assert hashlib.sha256(path.read_bytes()).hexdigest() in str(entry.source)
    assert entry.create({"strength": "0.9"}).strength == 0.9


def test_import_failure_warns_once_and_others_still_load(tmp_path, capsys):
    write(tmp_path, "aa_broken", "import no_such_module_xyz\n")
    write(tmp_path, "good", GOOD.format(name="flip"))
    plugins = load(tmp_path)
    assert plugins.registry.names(Kind.AUGMENTATION) == ["flip"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "aa_broken.py" in err[0] and "no_such_module_xyz" in err[0] and err[0].startswith("warning:")


def test_strict_mode_makes_import_failure_fatal(tmp_path):
    write(tmp_path, "broken", "raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match=r"broken\.py.*boom.*TCRBENCH_STRICT_PLUGINS"):
        load(tmp_path, strict=True)


def test_misspelled_hook_is_an_error_naming_plugin_and_suggestion(tmp_path):
    write(tmp_path, "typo", '''
        from tcrbench.plugins.hookspecs import hookimpl

        @hookimpl
        def register_augmentation(register):
            pass
    ''')
    with pytest.raises(UsageError, match=r"plugin 'typo'.*unknown hook 'register_augmentation'.*did you mean 'register_augmentations'"):
        load(tmp_path)


def test_argument_the_spec_lacks_is_an_error_naming_plugin(tmp_path):
    write(tmp_path, "badarg", '''
        from tcrbench.plugins.hookspecs import hookimpl

        @hookimpl
        def register_augmentations(register, config):
            pass
    ''')
    with pytest.raises(UsageError, match=r"plugin 'badarg'.*config"):
        load(tmp_path)


def test_duplicate_name_names_both_sources(tmp_path):
    write(tmp_path, "one", GOOD.format(name="flip"))
    write(tmp_path, "two", GOOD.format(name="flip"))
    with pytest.raises(UsageError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "augmentation 'flip' is registered twice" in message
    assert "one.py" in message and "two.py" in message


def test_disable_list_blocks_named_plugins(tmp_path, monkeypatch):
    write(tmp_path, "one", GOOD.format(name="flip"))
    write(tmp_path, "two", GOOD.format(name="flop"))
    monkeypatch.setenv("TCRBENCH_DISABLE_PLUGINS", "two, something_else")
    plugins = load(tmp_path)
    assert plugins.registry.names(Kind.AUGMENTATION) == ["flip"]


def test_registration_error_inside_hook_is_captured_per_plugin(tmp_path, capsys):
    write(tmp_path, "explodes", '''
        from tcrbench.plugins.hookspecs import hookimpl

        @hookimpl
        def register_augmentations(register):
            raise KeyError("oops")
    ''')
    write(tmp_path, "good", GOOD.format(name="flip"))
    plugins = load(tmp_path)
    assert plugins.registry.names(Kind.AUGMENTATION) == ["flip"]
    assert "plugin 'explodes'" in capsys.readouterr().err


def test_unknown_name_gets_did_you_mean(tmp_path):
    write(tmp_path, "good", GOOD.format(name="flip"))
    plugins = load(tmp_path)
    with pytest.raises(UsageError, match=r"unknown augmentation 'flp'.*did you mean 'flip'"):
        plugins.registry.create(Kind.AUGMENTATION, "flp:strength=1")


def test_class_without_description_is_refused():
    @dataclass
    class NoDoc:
        name: ClassVar[str] = "nodoc"

    with pytest.raises(UsageError, match="needs a one-line `description`"):
        load_plugins(None, builtins=(), entry_points=False, _extra=(plugin_module("m", augmentations=[NoDoc]),))


def test_plugins_dir_must_exist(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        load(tmp_path / "missing")


# ---------------------------------------------------------------- through the command line
def cli(args, env=None):
    from tcrbench.cli.main import app

    return CliRunner().invoke(app, args, env=env)


def test_cli_lists_file_plugin_as_json(tmp_path):
    write(tmp_path, "flipper", GOOD.format(name="flip"))
    result = cli(["--plugins-dir", str(tmp_path), "plugins", "--json", "--kind", "augmentation"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["flip"]["description"] == "reverses nothing, for tests"
    assert "sha256:" in rows["flip"]["source"]
    assert rows["flip"]["params"] == [{"name": "strength", "type": "float", "default": 0.5, "help": "how hard"}]


def test_cli_show_prints_parameters(tmp_path):
    write(tmp_path, "flipper", GOOD.format(name="flip"))
    result = cli(["--plugins-dir", str(tmp_path), "plugins", "show", "flip"])
    assert result.exit_code == 0, result.output
    assert "strength" in result.stdout and "float" in result.stdout and "0.5" in result.stdout


def test_cli_unknown_plugin_is_one_line_exit_2(tmp_path):
    write(tmp_path, "flipper", GOOD.format(name="flip"))
    result = cli(["--plugins-dir", str(tmp_path), "plugins", "show", "flipp"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no plugin named 'flipp'; did you mean 'flip'?"


def test_cli_strict_mode_exits_2(tmp_path):
    write(tmp_path, "broken", "import no_such_module_xyz\n")
    result = cli(["--plugins-dir", str(tmp_path), "plugins"], env={"TCRBENCH_STRICT_PLUGINS": "1"})
    assert result.exit_code == 2
    assert "broken.py" in result.stderr and "Traceback" not in result.output
