"""The command-line reference, generated from the typer app itself so that the docs cannot drift from the code.

`python -m tcrbench.cli.reference > docs/cli-reference.md` rewrites the page; a test fails when the committed page
differs from what the app would print, and the docs build runs the same generator.
"""

from __future__ import annotations

import sys
import typing
from typing import Any

HEADER = """# Command-line reference

Generated from the `tcrbench` command itself (`python -m tcrbench.cli.reference > docs/cli-reference.md`); a
test fails when this page and the code disagree. [The command-line guide](cli.md) shows the commands at work.
"""


# typer (0.2x) carries its own copy of click, so the command tree is read by duck typing, not isinstance.
def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _option_name(param: Any) -> str:
    if _is_argument(param):
        return f"`{str(param.name).upper()}`"
    names = [*param.opts, *getattr(param, "secondary_opts", [])]
    return " / ".join(f"`{n}`" for n in names)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _run_defaults() -> dict[str, Any]:
    """`tcrbench run`'s options default to None so that a --config file can set them; their effective defaults
    are the RunConfig's and its Budget's, shown here under the option of the same name."""
    from tcrbench.run.config import RunConfig

    cfg = RunConfig().to_dict()
    budget = cfg.pop("budget")
    aliases = {
        "aug": cfg["augs"],
        "objective": cfg["objectives"],
        "protocol": cfg["protocols"],
        "seeds": len(cfg["seeds"]),
        "drop_duplicates": cfg["duplicates"] == "drop",
    }
    return {**cfg, **budget, **aliases}


def _default(param: Any, fallback: dict[str, Any] | None = None) -> str:
    default = param.default
    if default is None and fallback is not None:
        default = fallback.get(param.name)
    if getattr(param, "is_flag", False) and isinstance(default, bool):
        return "on" if default else "off"
    if default is None or default == () or default == [] or callable(default):
        return ""
    if isinstance(default, (list, tuple)):
        return ", ".join(f"`{v}`" for v in default)
    return f"`{default}`"


def _kind(param: Any) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    kind = getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        text = " \\| ".join(str(c) for c in choices)
    else:
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        literal = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
        items = typing.get_args(annotation) if typing.get_origin(annotation) in (list, tuple) else ()
        if literal:
            text = " \\| ".join(str(v) for v in literal)
        elif items:  # list[Path]: its items' type (isinstance(list[Path], type) is True on 3.10, False on 3.11)
            text = getattr(items[0], "__name__", "") if isinstance(items[0], type) else ""
        else:
            text = getattr(annotation, "__name__", "") if isinstance(annotation, type) else ""
        if not text and getattr(param, "multiple", False):
            text = "str"
    repeatable = getattr(param, "multiple", False) or getattr(param, "nargs", 1) == -1
    return text + (" (repeatable)" if repeatable else "")


def _section(cmd: Any, path: list[str], out: list[str]) -> None:
    if getattr(cmd, "hidden", False):
        return
    out.append(f"\n## `{' '.join(path)}`\n")
    help_text = (cmd.help or getattr(cmd, "short_help", None) or "").strip()
    if help_text:
        out.append(_cell(help_text.split("\n\n")[0]) + "\n")
    params = [p for p in cmd.params if not getattr(p, "hidden", False) and p.name != "help"]
    if params:
        out.append("| option | type | default | meaning |")
        out.append("|---|---|---|---|")
        fallback = _run_defaults() if path[-1] == "run" else None
        for p in params:
            out.append(
                f"| {_option_name(p)} | {_kind(p)} | {_default(p, fallback)} "
                f"| {_cell(getattr(p, 'help', None) or '')} |"
            )
    for name in sorted(getattr(cmd, "commands", {}) or {}):
        _section(cmd.commands[name], [*path, name], out)


def reference(app: Any | None = None) -> str:
    """The Markdown reference of every command and option of `app` (the tcrbench app by default)."""
    import typer

    if app is None:
        from tcrbench.cli.main import app as main_app

        app = main_app
    root = typer.main.get_command(app)
    out = [HEADER]
    _section(root, ["tcrbench"], out)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
