"""`tcrbench plugins`: what is installed, where it came from, and its parameters."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Kind

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
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this kind (augmentation, objective, ...)."),
) -> None:
    """List every registered plugin object: kind, name, description, source."""
    if ctx.invoked_subcommand is not None:
        return
    registry = _registry()
    kinds = list(Kind)
    if kind is not None:
        try:
            kinds = [Kind(kind)]
        except ValueError:
            raise UsageError(f"--kind {kind!r}: must be one of {', '.join(k.value for k in Kind)}") from None
    entries = [e for e in registry if e.kind in kinds]
    if as_json:
        typer.echo(json.dumps([entry_dict(e) for e in entries], indent=2, default=str))
        return
    table = Table(title="tcrbench plugins")
    for col in ("kind", "name", "description", "parameters", "source"):
        table.add_column(col)
    for e in entries:
        params = ", ".join(f"{p.name}={_default(p.default)!r}" for p in e.params)
        table.add_row(e.kind.value, e.name, e.description, params, str(e.source))
    Console(width=200).print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Plugin object name, e.g. mask1 or ntxent."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one plugin's description, source and parameters with types and defaults."""
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
    console = Console(width=200)
    for e in matches:
        console.print(f"[bold]{e.name}[/bold] ({e.kind.value}) - {e.description}")
        console.print(f"source: {e.source}")
        if getattr(e.cls, "uses_labels", False):
            console.print("uses labels: yes (not self-supervised)")
        if not e.params:
            console.print("parameters: none")
            continue
        table = Table("parameter", "type", "default", "help")
        for p in e.params:
            table.add_row(p.name, p.type_name, repr(_default(p.default)), p.help)
        console.print(table)
