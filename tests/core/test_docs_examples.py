"""Examples in docs/ are run, so they cannot rot: every ```python block, and every ```bash block placed right
after a `<!-- run -->` marker (commands that are quick enough for CI). Blocks run in a scratch folder whose
parent holds `shared/` (a link to the real data), so `../shared/data/...` paths in the docs work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BLOCK = re.compile(r"(<!-- run -->\s*\n)?```(python|bash)\n(.*?)```", re.S)


def blocks():
    for path in sorted(DOCS.rglob("*.md")):
        if "example" in path.parts and path.name != "tutorial.md" and path.parent.name == "example":
            continue
        for i, m in enumerate(BLOCK.finditer(path.read_text())):
            marker, lang, code = m.groups()
            if lang == "bash" and not marker:
                continue
            yield pytest.param(path, lang, code, id=f"{path.relative_to(DOCS)}#{i}")


@pytest.fixture
def scratch(tmp_path):
    shared = REPO.parent / "shared"
    work = tmp_path / "work"
    work.mkdir()
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    return work


@pytest.mark.parametrize("path,lang,code", list(blocks()))
def test_doc_example_runs(path, lang, code, scratch):
    if "../shared/data" in code and not (scratch.parent / "shared" / "data").is_dir():
        pytest.skip("../shared/data is missing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_")}
    env["REPO"] = str(REPO)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if lang == "python":
        cmd = [sys.executable, "-c", code]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    res = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{path}:\n{code}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
