"""Typed plugin parameters: a plugin is a dataclass, its fields are its parameters.

Using plain dataclasses means a plugin author writes ordinary Python, and the same field list gives us
command-line parsing (`mask:p=0.2`), validation, `tcrbench plugins show` and the config hash.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from tcrbench.errors import UsageError

_SCALARS = (bool, int, float, str)


def param(default: Any, help: str = "", **kwargs: Any) -> Any:
    """A dataclass field with a help line, shown by `tcrbench plugins show`."""
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter of a plugin class, as `tcrbench plugins show` lists it."""

    name: str
    type: Any
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        """The type as a user would write it (`'cls' | 'mean'`, `int | None`)."""
        return type_name(self.type)


def type_name(tp: Any) -> str:
    """A readable name for a parameter type, for listings and error messages."""
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def supported_type(tp: Any) -> bool:
    """Whether the command line can set a parameter of this type: a scalar, a Literal of scalars, or an Optional
    of those (the types `coerce` understands)."""
    if tp in _SCALARS:
        return True
    origin = get_origin(tp)
    if origin is Literal:
        return all(isinstance(a, _SCALARS) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return len(args) == len(get_args(tp)) - 1 and all(supported_type(a) for a in args)
    return False


def default_fits(value: Any, tp: Any) -> bool:
    """Whether a declared default is of its declared type (bool is not an int here, an int is a float)."""
    origin = get_origin(tp)
    if origin is Literal:
        return value in get_args(tp)
    if origin in (Union, types.UnionType):
        return any(default_fits(value, a) for a in get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def param_specs(cls: type) -> list[ParamSpec]:
    """The parameters of a plugin class; a class that is not a dataclass has none."""
    if not dataclasses.is_dataclass(cls):
        return []
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        specs.append(ParamSpec(f.name, hints.get(f.name, str), default, f.metadata.get("help", "")))
    return specs


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Turn a command-line string (or a TOML value) into the declared type, or say precisely why not."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None or ((isinstance(value, str) and value.lower() in ("none", "null", "")) and type(None) in args):
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except UsageError as exc:
                errors.append(str(exc))
        raise UsageError(f"{where}: expected {type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = get_args(tp)
        for c in choices:
            if value == c or (isinstance(value, str) and str(c) == value):
                return c
        hint = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise UsageError(f"{where}: must be one of {', '.join(map(repr, choices))}, got {value!r}{extra}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise UsageError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise UsageError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise UsageError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        return str(value)
    raise UsageError(f"{where}: unsupported parameter type {type_name(tp)}")


def split_spec(text: str) -> tuple[str, dict[str, str]]:
    """`mask:p=0.2,bert=true` -> ("mask", {"p": "0.2", "bert": "true"})."""
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not name:
        raise UsageError(f"empty plugin name in {text!r}")
    values: dict[str, str] = {}
    if rest.strip():
        for item in rest.split(","):
            key, eq, val = item.partition("=")
            key = key.strip()
            if not eq or not key:
                raise UsageError(f"{text!r}: parameter {item.strip()!r} must look like key=value")
            if key in values:
                raise UsageError(f"{text!r}: parameter {key!r} given twice")
            values[key] = val.strip()
    return name, values


def build_params(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate raw values against the plugin's declared parameters; unknown keys get a did-you-mean."""
    specs = {p.name: p for p in param_specs(cls)}
    out: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in specs:
            hint = difflib.get_close_matches(key, list(specs), n=1)
            known = ", ".join(specs) or "none"
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"{where}: unknown parameter {key!r} (parameters: {known}){extra}")
        out[key] = coerce(raw, specs[key].type, f"{where}: parameter {key!r}")
    missing = [n for n, p in specs.items() if p.default is dataclasses.MISSING and n not in out]
    if missing:
        raise UsageError(f"{where}: missing required parameter(s) {', '.join(missing)}")
    return out


def param_values(obj: Any) -> dict[str, Any]:
    """The resolved parameters of a plugin instance, for result rows and config hashes."""
    if not dataclasses.is_dataclass(obj):
        return {}
    return {p.name: getattr(obj, p.name) for p in param_specs(type(obj))}
