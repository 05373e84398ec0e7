"""`tcrbench plugins` lists every built-in augmentation, objective and encoder with description and parameters."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.plugins.params import param_specs
from tcrbench_plugins.augmentations import BUILTIN_AUGMENTATIONS
from tcrbench_plugins.encoders import BUILTIN_ENCODERS
from tcrbench_plugins.objectives import BUILTIN_OBJECTIVES

KINDS = {"augmentation": BUILTIN_AUGMENTATIONS, "objective": BUILTIN_OBJECTIVES, "encoder": BUILTIN_ENCODERS}


@pytest.fixture(scope="module")
def listed() -> dict[tuple[str, str], dict]:
    res = CliRunner().invoke(app, ["plugins", "--json"])
    assert res.exit_code == 0, res.output
    start = res.stdout.index("[")  # warnings about other kinds' missing modules go to stderr
    return {(e["kind"], e["name"]): e for e in json.loads(res.stdout[start:])}


@pytest.mark.parametrize("kind, cls", [(k, c) for k, classes in KINDS.items() for c in classes],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_builtin_is_listed_with_description_and_parameters(listed: dict, kind: str, cls: type) -> None:
    entry = listed[(kind, cls.name)]
    assert entry["description"] == cls.description
    assert entry["source"].startswith("built-in")
    expected = {p.name: p.default for p in param_specs(cls)}
    assert {p["name"]: p["default"] for p in entry["params"]} == expected
    assert all(p["help"] for p in entry["params"]), "every parameter has a help line"
    assert all(p.default is not dataclasses.MISSING for p in param_specs(cls))


def test_clip_is_marked_as_using_labels(listed: dict) -> None:
    assert listed[("objective", "clip")]["uses_labels"] is True
    assert not any(e["uses_labels"] for (k, n), e in listed.items() if k == "objective" and n != "clip")


def test_show_prints_types_and_help() -> None:
    res = CliRunner().invoke(app, ["plugins", "show", "substitute"])
    assert res.exit_code == 0, res.output
    assert "BLOSUM62" in res.stdout and "'peptide' | 'tcr' | 'both'" in res.stdout
    res = CliRunner().invoke(app, ["plugins", "show", "clip"])
    assert "uses labels: yes" in res.stdout
