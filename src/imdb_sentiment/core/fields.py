"""The machinery behind the typed configs: fields with help and allowed values, checked when built, read from
TOML files and overridden by one CLI flag per field (like the Hugging Face example scripts' HfArgumentParser).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from dataclasses import field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A config file or flag names an unknown field or an invalid value."""


def arg(default=dataclasses.MISSING, help: str = "", *, factory=None, choices: tuple | None = None,
        ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None):
    """A config field with its help text (shown by --help) and the values it accepts, checked when the config is
    built, before any data is read, so a bad number fails in a second with its name, not minutes later."""
    metadata = {"help": help, "choices": choices, "ge": ge, "gt": gt, "le": le, "lt": lt}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def allowed(f: dataclasses.Field) -> str:
    """The values a field accepts, in words: "one of ('max', 'final')", "in (0, 1)", ">= 1"."""
    m = f.metadata
    if m.get("choices"):
        return f"one of {m['choices']}"
    low = f"[{m['ge']:g}" if m.get("ge") is not None else f"({m['gt']:g}" if m.get("gt") is not None else None
    high = f"{m['le']:g}]" if m.get("le") is not None else f"{m['lt']:g})" if m.get("lt") is not None else None
    if low and high:
        return f"in {low}, {high}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1:]}"
    if high:
        return f"{'<=' if high[-1] == ']' else '<'} {high[:-1]}"
    return ""


def _in_range(value, m) -> bool:
    return not ((m.get("ge") is not None and value < m["ge"]) or (m.get("gt") is not None and value <= m["gt"])
                or (m.get("le") is not None and value > m["le"]) or (m.get("lt") is not None and value >= m["lt"]))


def _type_name(tp) -> str:
    if typing.get_origin(tp) is list:
        return f"a list of {typing.get_args(tp)[0].__name__}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(tp, tp.__name__)


def _has_type(value, tp) -> bool:
    if typing.get_origin(tp) is list:
        return isinstance(value, list) and all(_has_type(v, typing.get_args(tp)[0]) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


class Section:
    """Base of the config sections: checks every field's type and range when the dataclass is built."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, tp = getattr(self, f.name), hints[f.name]
            if value is None and _plain_type(tp) is not tp:  # Optional and unset
                continue
            plain = _plain_type(tp)
            rule = allowed(f)
            if not _has_type(value, plain):
                raise ConfigError(f"{f.name} must be {_type_name(plain)}{' ' + rule if rule else ''}, got {value!r}")
            if f.metadata.get("choices") and value not in f.metadata["choices"]:
                raise ConfigError(f"{f.name} must be {rule}, got {value!r}")
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not value:
                raise ConfigError(f"{f.name} must not be empty")
            if not isinstance(value, (str, bool)) and not all(_in_range(v, f.metadata) for v in items):
                raise ConfigError(f"{f.name} must be {rule}, got {value!r}")


def _field_types(cls) -> dict[str, type]:
    return typing.get_type_hints(cls)


_sections = _field_types  # a config's fields are its sections, each a dataclass


def _plain_type(tp):
    """int for `int | None`, etc."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _parse_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_optional(tp):
    plain = _plain_type(tp)
    parse = _parse_bool if plain is bool else plain
    if typing.get_origin(plain) is list:  # "0.5,1,2" -> [0.5, 1.0, 2.0]
        (item,) = typing.get_args(plain)
        parse = lambda text: [item(part) for part in text.split(",")]  # noqa: E731

    def convert(text: str):
        if text.lower() in ("none", "null") and plain is not str:
            return None
        return parse(text)

    convert.__name__ = getattr(plain, "__name__", "value")
    return convert


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """One `--field VALUE` flag per config field, with the field's help, default and allowed values; unset flags
    leave the file's value alone."""
    parser.add_argument("--config", type=Path, help="TOML file with one table per section below; flags win over it")
    for section, section_cls in _sections(config_cls).items():
        group = parser.add_argument_group(section)
        hints = _field_types(section_cls)
        for f in dataclasses.fields(section_cls):
            tp = hints[f.name]
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            choices = f.metadata.get("choices")
            rule = "" if choices else allowed(f)
            text = f.metadata.get("help", "")
            if "default" not in text:
                text += f" (default: {shown}{'; ' + rule if rule else ''})"
            elif rule:
                text += f" ({rule})"
            # A bare boolean flag means true (`--resume`), as with HfArgumentParser; `--resume false` also works.
            flag = {"nargs": "?", "const": True} if _plain_type(tp) is bool else {}
            group.add_argument(f"--{f.name}", type=_parse_optional(tp), default=argparse.SUPPRESS,
                               dest=f"{section}.{f.name}",
                               metavar="{" + ",".join(choices) + "}" if choices else _metavar(tp),
                               help=text.replace("%", "%%"), **flag)


def _metavar(tp) -> str:
    plain = _plain_type(tp)
    if typing.get_origin(plain) is list:
        return f"{typing.get_args(plain)[0].__name__.upper()},..."
    return plain.__name__.upper()


def load_config(config_cls, path: str | Path | None = None, overrides: dict[str, object] | None = None):
    """Build `config_cls` from defaults, then the TOML file, then `{"section.field": value}` overrides."""
    values: dict[str, dict] = {section: {} for section in _sections(config_cls)}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: {err}") from err
        for section, table in document.items():
            if section not in values or not isinstance(table, dict):
                raise ConfigError(f"{path}: unknown section [{section}]; expected {sorted(values)}")
            values[section].update(table)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        values[section][name] = value
    sections = {}
    for section, section_cls in _sections(config_cls).items():
        known = {f.name for f in dataclasses.fields(section_cls)}
        unknown = set(values[section]) - known
        if unknown:
            raise ConfigError(f"{path or 'overrides'}: unknown field(s) {sorted(unknown)} in [{section}]")
        sections[section] = section_cls(**values[section])
    return config_cls(**sections)


def overrides_from_namespace(namespace: argparse.Namespace) -> dict[str, object]:
    return {key: value for key, value in vars(namespace).items() if "." in key}


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(config_cls, document: dict):
    return config_cls(**{section: section_cls(**document.get(section, {}))
                         for section, section_cls in _sections(config_cls).items()})
