"""`tcrbench plugins`: what is installed, where it came from, and its parameters."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Literal, Optional

import typer
from rich.markup import escape

from tcrbench.errors import UsageError

#: The kinds of plugin object (tcrbench.plugins.protocols.Kind's values, which import torch; a test holds them equal).
KindName = Literal["augmentation", "objective", "encoder", "dataset", "splitter", "metric", "baseline", "reporter"]

app = typer.Typer(help="List plugins and show their parameters.", invoke_without_command=True)


def _registry() -> Any:
    from tcrbench.plugins.loader import get_plugins

    return get_plugins(os.environ.get("TCRBENCH_PLUGINS_DIR") or None).registry


def _default(value: Any) -> Any:
    return None if value is dataclasses.MISSING else value


def entry_dict(entry: Any) -> dict[str, Any]:
    return {
        "kind": entry.kind.value,
        "name": entry.name,
        "description": entry.description,
        "source": str(entry.source),
        "plugin": entry.source.plugin,
        "uses_labels": bool(getattr(entry.cls, "uses_labels", False)),
        "params": [
            {"name": p.name, "type": p.type_name, "default": _default(p.default), "help": p.help} for p in entry.params
        ],
    }


@app.callback()
def list_plugins(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    kind: Optional[KindName] = typer.Option(None, "--kind", help="Only this kind of plugin object (default: all)."),
) -> None:
    """List every registered plugin object: kind, name, description, source."""
    if ctx.invoked_subcommand is not None:
        return
    from tcrbench.plugins.protocols import Kind  # torch: only when the plugins are listed
    from tcrbench.report.console import Row, fit_table, hidden_note, terminal_console

    registry = _registry()
    kinds = list(Kind) if kind is None else [Kind(kind)]
    entries = [e for e in registry if e.kind in kinds]
    if as_json:
        typer.echo(json.dumps([entry_dict(e) for e in entries], indent=2, default=str))
        return
    cols = ["kind", "name", "description", "parameters", "source"]
    rows: list[Row] = []
    for e in entries:
        params = ", ".join(f"{p.name}={_default(p.default)!r}" for p in e.params)
        cells = [e.kind.value, e.name, e.description, params, str(e.source)]
        rows.append((dict(zip(cols, map(escape, cells))), None))
    console = terminal_console()
    table, hidden = fit_table(console, cols, rows, drop_order=("source",), title="tcrbench plugins")
    console.print(table)
    if hidden:
        console.print(hidden_note(hidden, "`tcrbench plugins show NAME` or --json has it"))


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Plugin object name, e.g. mask1 or ntxent."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show one plugin's description, source and parameters with types and defaults."""
    from tcrbench.report.console import Row, fit_table, terminal_console

    registry = _registry()
    matches = registry.find(name)
    if not matches:
        import difflib

        names = sorted({e.name for e in registry})
        hint = difflib.get_close_matches(name, names, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"no plugin named {name!r}{extra}")
    if as_json:
        typer.echo(json.dumps([entry_dict(e) for e in matches], indent=2, default=str))
        return
    console = terminal_console()
    for e in matches:
        console.print(f"[bold]{escape(e.name)}[/bold] ({e.kind.value}) - {escape(e.description)}")
        console.print(f"source: {escape(str(e.source))}", soft_wrap=True)
        if getattr(e.cls, "uses_labels", False):
            console.print("uses labels: yes (not self-supervised)")
        if not e.params:
            console.print("parameters: none")
            continue
        cols = ["parameter", "type", "default", "help"]
        rows: list[Row] = [
            (dict(zip(cols, map(escape, [p.name, p.type_name, repr(_default(p.default)), p.help]))), None)
            for p in e.params
        ]
        console.print(fit_table(console, cols, rows)[0])
