"""The tutorial's example plugin, installed for real: it must keep working, so the tutorial cannot rot.

The package under docs/plugins/example is pip-installed (offline, no dependencies, with the project venv's
build backend) into a scratch folder put on PYTHONPATH, then found through its entry point; the single-file
version is loaded with --plugins-dir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "plugins" / "example"
SINGLE_FILE = REPO / "docs" / "plugins" / "example_single_file" / "reverse_plugin.py"
CLI = "from tcrbench.cli.main import main; main()"


def run(args: list[str], pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_") and k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    res = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{args}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("the example package builds with hatchling; install it into the test environment")
    scratch = tmp_path_factory.mktemp("example")
    source = scratch / "src"
    shutil.copytree(EXAMPLE, source)  # build from a copy so nothing is written into docs/
    target = scratch / "site"
    run(["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)])
    return target


def reverse_entries(output: str) -> list[dict]:
    return [e for e in json.loads(output) if e["name"] == "reverse"]


@pytest.mark.slow
def test_installed_package_is_listed_with_distribution_and_version(installed: Path) -> None:
    res = run(["-c", CLI, "plugins", "--json", "--kind", "augmentation"], pythonpath=installed)
    (entry,) = reverse_entries(res.stdout)
    assert entry["plugin"] == "tcrbench-reverse"
    assert entry["source"] == "tcrbench-reverse 0.1.0"
    assert entry["description"].startswith("reverses the residue order")
    assert {p["name"]: p["default"] for p in entry["params"]} == {"p": 0.5, "region": "tcr"}


@pytest.mark.slow
def test_installed_package_passes_the_contract_and_reverses(installed: Path) -> None:
    code = """
import torch
from tcrbench.plugins.protocols import Kind
from tcrbench.plugins.contracts import check_plugin, random_token_batch
from tcrbench.data.vocab import REGION_CDR3B
from tcrbench.plugins.loader import load_plugins

entry = load_plugins(builtins=(), strict=True).registry.get(Kind.AUGMENTATION, "reverse")
check_plugin(Kind.AUGMENTATION, entry.cls)
aug = entry.create({"p": "1.0"})
batch = random_token_batch(4, torch.Generator().manual_seed(0))
out = aug(batch, torch.Generator().manual_seed(1))
for row in range(4):
    before = batch.ids[row][batch.regions[row] == REGION_CDR3B].tolist()
    after = out.batch.ids[row][out.batch.regions[row] == REGION_CDR3B].tolist()
    assert after == before[::-1], (before, after)
print("ok", entry.source)
"""
    res = run(["-c", code], pythonpath=installed)
    assert res.stdout.strip() == "ok tcrbench-reverse 0.1.0"


@pytest.mark.slow
def test_single_file_version_is_listed_with_path_and_sha256() -> None:
    res = run(["-c", CLI, "--plugins-dir", str(SINGLE_FILE.parent), "plugins", "--json", "--kind", "augmentation"])
    (entry,) = reverse_entries(res.stdout)
    digest = hashlib.sha256(SINGLE_FILE.read_bytes()).hexdigest()
    assert entry["plugin"] == "reverse_plugin"
    assert str(SINGLE_FILE) in entry["source"] and f"sha256:{digest}" in entry["source"]


def test_single_file_and_package_hold_the_same_plugin_code() -> None:
    def body(path: Path) -> str:
        text = path.read_text()
        return text[text.index("from __future__"):]

    assert body(SINGLE_FILE) == body(EXAMPLE / "src" / "tcrbench_reverse" / "__init__.py")


def test_tutorial_shows_the_real_file() -> None:
    tutorial = (REPO / "docs" / "plugins" / "tutorial.md").read_text()
    first_block = re.search(r"```python\n(.*?)```", tutorial, re.S)
    assert first_block is not None
    assert first_block.group(1) == SINGLE_FILE.read_text()
