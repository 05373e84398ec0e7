"""Every ```python block in docs/statistics.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_doc_has_python_and_shell_examples() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BLOCKS and "tcrbench stats compare" in text


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_block_runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
