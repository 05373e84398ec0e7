"""Every hook has a docstring and a section in docs/plugins/hooks.md: a hook nobody can read about is a bug."""

import inspect
import re
from pathlib import Path

from tcrbench.plugins import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"


def hook_names():
    return [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(f, "tcrbench_spec")]


def test_there_are_hooks_for_every_kind():
    from tcrbench.plugins.protocols import Kind

    names = set(hook_names())
    assert {k.hook for k in Kind} <= names
    assert {"register_commands", "cell_finished", "run_finished"} <= names


def test_every_hook_has_docstring_and_doc_section():
    text = DOC.read_text()
    headings = set(re.findall(r"^## (\w+)$", text, flags=re.M))
    for name in hook_names():
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"hook {name} has no docstring"
        assert name in headings, f"hook {name} has no section in {DOC}"
    assert headings <= set(hook_names()), f"docs describe hooks that do not exist: {headings - set(hook_names())}"
