"""Plugin authors import from `tcrbench` alone: the tutorial, the hook reference pages and the example plugins
show it, and every name they use is exported, so the modules behind the names can move without breaking a
plugin."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tcrbench

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DOCS = REPO / "docs" / "plugins"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def author_code() -> list[tuple[str, str]]:
    """(where, code) for every Python block of docs/plugins/*.md and every file of the example plugins."""
    found = []
    for page in sorted(PLUGIN_DOCS.glob("*.md")):
        for i, block in enumerate(PYTHON_BLOCK.findall(page.read_text())):
            found.append((f"{page.relative_to(REPO)} block {i}", block))
    for example in sorted(PLUGIN_DOCS.glob("example*/**/*.py")):
        found.append((str(example.relative_to(REPO)), example.read_text()))
    return found


def tcrbench_imports(code: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of tcrbench or one of its submodules."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "tcrbench"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tcrbench":
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


CODE = author_code()


def test_the_tutorial_and_the_examples_are_found() -> None:
    where = [w for w, _ in CODE]
    assert any(w.startswith("docs/plugins/tutorial.md") for w in where)
    assert "docs/plugins/example_single_file/reverse_plugin.py" in where
    assert "docs/plugins/example/src/tcrbench_reverse/__init__.py" in where


@pytest.mark.parametrize("where, code", CODE, ids=[w for w, _ in CODE])
def test_plugin_docs_import_only_from_tcrbench(where: str, code: str) -> None:
    for line, module, names in tcrbench_imports(code):
        assert module == "tcrbench", (f"{where}, line {line}: imports {module}; a plugin author imports from "
                                      f"`tcrbench` alone (add the name to tcrbench._EXPORTS if it is missing)")
        missing = [n for n in names if n not in tcrbench.__all__]
        assert not missing, f"{where}, line {line}: `tcrbench` does not export {', '.join(missing)}"


def test_the_checker_sees_a_submodule_import() -> None:
    code = "from tcrbench import hookimpl\nfrom tcrbench.plugins.params import param\nimport tcrbench.kernels\n"
    assert [(m, n) for _, m, n in tcrbench_imports(code)] == [
        ("tcrbench", ["hookimpl"]), ("tcrbench.plugins.params", ["param"]), ("tcrbench.kernels", [])]


def test_every_export_is_listed_and_resolves() -> None:
    assert set(tcrbench.__all__) == {"__version__", *tcrbench._EXPORTS}
    assert len(tcrbench.__all__) == len(set(tcrbench.__all__))
    for name in tcrbench.__all__:
        assert getattr(tcrbench, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        tcrbench.nonsense  # noqa: B018
