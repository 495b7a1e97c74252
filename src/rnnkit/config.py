"""Typed configs: dataclasses whose fields carry their default, help text and checks.

One declaration serves the Python API, the command line (``rnnkit.cli`` turns every field into an
option) and config files (TOML or JSON), so a setting is written once. A config is read strictly:
an unknown key, a value of the wrong type or out of range raises :class:`ConfigError`, whose
``key`` names the setting by its path (``train.lr``) so that the command line can name the option.

Declaring a config::

    @dataclass
    class ModelOptions(Config):
        cell: str = option("lstm", "recurrent cell", choices=("rnn", "lstm", "gru"))
        hidden_size: int = option(128, "hidden size", flag="hidden", check=at_least(1))
        dropout: float = option(0.0, "dropout", check=fraction())

    ModelOptions.from_dict({"cell": "gru"})        # ModelOptions(cell='gru', hidden_size=128, ...)
    ModelOptions.from_dict({"hiden_size": 3})      # ConfigError: hiden_size: unknown key; accepted: ...

TOML has no null: a setting that can be unset is written ``"none"`` there (and on the command
line); JSON files may use ``null`` too.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, field
from pathlib import Path
from typing import Any, Union

from rnnkit.errors import RnnkitError, shown
from rnnkit.formatting import count

__all__ = [
    "Config",
    "ConfigError",
    "InMemory",
    "at_least",
    "choices_of",
    "describe_data",
    "dump_config",
    "fields_of",
    "fraction",
    "is_in_memory",
    "option",
    "positive",
    "read_config_file",
    "seed_range",
    "strict_from_dict",
]

NONE = "none"  # how an unset value is written in TOML files and on the command line
IN_MEMORY = "<in-memory: "  # how a config records data that was given as Python objects
Check = tuple[Callable[[Any], bool], str]  # (predicate, what a good value is)


class ConfigError(RnnkitError):
    """A setting is unknown, missing, of the wrong type or out of range.

    ``key`` is its dotted path (``"train.lr"``) or ``None``; ``problem`` says what is wrong.
    """

    def __init__(self, key: str | None, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)

    def under(self, prefix: str) -> ConfigError:
        """The same error with ``prefix.`` in front of its key (for nested configs)."""
        return ConfigError(f"{prefix}.{self.key}" if self.key else prefix, self.problem)


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    flag: str | None = None,
    choices: tuple[Any, ...] | Callable[[], Any] | None = None,
    check: Check | None = None,
    metavar: str | None = None,
    required: bool = False,
    file: bool = False,
    aliases: tuple[str, ...] = (),
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with its help text and checks.

    ``flag`` is the command-line name (default: the field name with dashes) and ``aliases`` older
    names of the setting that still work, as keys (config files, Python dicts, stored runs) and
    as options; ``required`` marks a setting without a usable default (a training file), checked
    by :meth:`Config.missing`; ``file`` marks a data file: a path (a str or any ``os.PathLike``)
    or the data itself in memory (a list, a DataFrame, a ``datasets.Dataset``: see
    :func:`describe_data`); a resumed run may be given the file again at another path.
    """
    metadata = {
        "help": help,
        "flag": flag,
        "choices": choices,
        "check": check,
        "metavar": metavar,
        "required": required,
        "file": file,
        "aliases": aliases,
    }
    if factory is None and isinstance(default, (list, dict)):
        factory = functools.partial(type(default), default)
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def at_least(low: float) -> Check:
    return (lambda v: v >= low, f">= {low:g}")


def positive() -> Check:
    return (lambda v: v > 0 and math.isfinite(v), "> 0")


def seed_range() -> Check:
    """A seed torch can take after the offsets rnnkit adds to it (``seed * 1_000_003 + epoch``
    must stay within 64 bits): 10**30 failed deep inside training with "Overflow when unpacking
    long long"."""
    return (lambda v: -(2**32) < v < 2**32, "between -2**32 and 2**32 (exclusive)")


def fraction(*, closed: bool = False) -> Check:
    """A share: in [0, 1) (dropout), or in [0, 1] with ``closed``."""
    if closed:
        return (lambda v: 0 <= v <= 1, "in [0, 1]")
    return (lambda v: 0 <= v < 1, "in [0, 1)")


def _describe(value: Any) -> str:
    return f"{shown(value)} ({type(value).__name__})"


def _passes(check: Check, value: Any) -> bool:
    """Whether ``value`` passes ``check``; a check that cannot even compare the value (an
    infinite or huge number where it wants a whole one) fails it rather than crashing."""
    try:
        return bool(check[0](value))
    except (OverflowError, ValueError, TypeError):
        return False


def _convert(value: Any, hint: Any, key: str) -> Any:
    """``value`` as the type ``hint`` (int -> float allowed, nothing else coerced)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, str) and value == NONE):
            return None
        return _convert(value, options[0], key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {_describe(value)}")
        return [_convert(v, args[0], key) for v in value]
    if isinstance(hint, type) and issubclass(hint, Config):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"expected a table of settings, got {_describe(value)}")
        try:
            return hint.from_dict(value)
        except ConfigError as error:
            raise error.under(key) from None
    if hint is str and isinstance(value, os.PathLike):  # a pathlib.Path where a path is a str
        value = os.fspath(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond the floats (10**400 in a JSON file)
            raise ConfigError(key, f"expected a number, got an integer of {len(str(value))} digits")
    if hint in (int, float, str, bool) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(
            key, f"expected {'an' if hint is int else 'a'} {hint.__name__}, got {_describe(value)}"
        )
    if hint is int and not -(2**63) <= value < 2**63:  # torch's sizes and seeds are int64
        raise ConfigError(key, f"expected an integer of 64 bits at most, got {shown(value)}")
    return value


@functools.cache
def _spec(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def _current_names(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with the older names of ``cls``'s fields (their ``aliases``) replaced by
    the fields' names; where a setting is given under both, its current name wins."""
    renamed = {
        alias: f.name
        for f in dataclasses.fields(cls)
        for alias in f.metadata.get("aliases", ())
        if alias != f.name
    }
    return {
        renamed.get(key, key): value
        for key, value in data.items()
        if not (key in renamed and renamed[key] in data)
    }


def strict_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """``cls(**data)`` for any dataclass, refusing unknown and missing keys by name (a field's
    older names, its ``aliases``, are read as its name)."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            None, f"expected a table of {cls.__name__} settings, got {_describe(data)}"
        )
    data = _current_names(cls, data)
    # in the constructor's order: keyword-only fields (inherited settings) come last
    fields = sorted(dataclasses.fields(cls), key=lambda f: bool(f.kw_only))
    names = [f.name for f in fields]
    for key in data:
        if key not in names:
            name = str(key) if str(key).isidentifier() else shown(str(key), 40)
            raise ConfigError(name, f"unknown key; accepted: {', '.join(names)}")
    for f in dataclasses.fields(cls):
        if f.init and f.name not in data and f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f.name, "missing")
    return cls(**data)


class Config:
    """Base of rnnkit's config dataclasses: checks types, choices and ranges on construction."""

    def __post_init__(self) -> None:
        self._split_dicts()
        for f, hint in _spec(type(self)):
            value = getattr(self, f.name)
            if f.metadata.get("file") and is_in_memory(value):
                if not isinstance(value, InMemory):
                    _check_in_memory(value, f.name)
                    value = InMemory(value)
                object.__setattr__(self, f.name, value)  # read by the task, described by to_dict
                continue
            value = _convert(value, hint, f.name)
            choices, check = choices_of(f), f.metadata.get("check")
            if value is not None and choices is not None and value not in choices:
                raise ConfigError(
                    f.name, f"expected one of {', '.join(map(str, choices))}, got {shown(value)}"
                )
            if value is not None and check is not None and not _passes(check, value):
                raise ConfigError(f.name, f"expected a value {check[1]}, got {shown(value)}")
            object.__setattr__(self, f.name, value)
        self.validate()

    def _split_dicts(self) -> None:
        """A Hugging Face ``DatasetDict`` given as the training data: its ``train`` split trains
        and its ``validation`` split validates, unless the validation data is given too."""
        value = getattr(self, "train", None)
        if not _is_split_dict(value) or not _is_file_field(type(self), "train"):
            return
        if "train" not in value:
            raise ConfigError(
                "train",
                f"expected a DatasetDict with a 'train' split, got one with the splits "
                f"{', '.join(map(repr, value)) or 'none'}",
            )
        object.__setattr__(self, "train", value["train"])
        val = getattr(self, "val", None)
        unset = val is None or (isinstance(val, str) and val.startswith(IN_MEMORY))
        if _is_file_field(type(self), "val") and unset and "validation" in value:
            object.__setattr__(self, "val", value["validation"])

    def validate(self) -> None:
        """Checks across fields; raise :class:`ConfigError` naming the field."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Rebuild from :meth:`to_dict` output or a config file's table (strict)."""
        return strict_from_dict(cls, data)

    @classmethod
    def current_names(cls, data: Mapping[str, Any]) -> Any:
        """``data`` (a table of settings, maybe of an older version) with the settings' older
        names replaced by their current ones, in the nested sections too: tables merged key by
        key (defaults, a config file, options) must all use the same names."""
        if not isinstance(data, Mapping):
            return data  # from_dict says what is wrong with it
        data = _current_names(cls, data)
        for f, hint in _spec(cls):
            if isinstance(hint, type) and issubclass(hint, Config) and f.name in data:
                data[f.name] = hint.current_names(data[f.name])
        return data

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (JSON and TOML can hold them); data given in memory is
        recorded by its description (see :func:`describe_data`), not copied."""
        out: dict[str, Any] = {}
        for f, _ in _spec(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                out[f.name] = value.to_dict()
            elif isinstance(value, InMemory):
                out[f.name] = value.description
            else:
                out[f.name] = copy.deepcopy(value)
        return out

    def missing(self) -> list[str]:
        """Dotted keys of required settings that are still unset."""
        found = []
        for f, _ in _spec(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                found += [f"{f.name}.{key}" for key in value.missing()]
            elif f.metadata.get("required") and (
                value is None or isinstance(value, str) and not value
            ):
                found.append(f.name)
        return found


# --------------------------------------------------------------------------- data in memory
def is_in_memory(value: Any) -> bool:
    """Whether a data setting holds the data itself (any object but a path or ``None``)."""
    return not isinstance(value, (str, os.PathLike, type(None)))


class InMemory:
    """Data given as Python objects where a config takes a data file: the object (``value``) and
    its description (``str()``, see :func:`describe_data`), which messages, logs, ``config.json``
    and checkpoints show instead of the data."""

    __slots__ = ("description", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.description = describe_data(value)

    def __str__(self) -> str:
        return self.description

    __repr__ = __str__


def _is_file_field(cls: type, name: str) -> bool:
    return any(f.name == name and f.metadata.get("file") for f, _ in _spec(cls))


def _is_split_dict(value: Any) -> bool:
    """A Hugging Face ``DatasetDict`` (told by its module: datasets is not imported here)."""
    return isinstance(value, Mapping) and type(value).__module__.startswith("datasets")


def _check_in_memory(value: Any, key: str) -> None:
    """One-line errors for what cannot be data: a number, a truth value, an empty list."""
    if isinstance(value, (bool, int, float, complex)):
        raise ConfigError(
            key,
            "expected a file path or data in memory (a list, a DataFrame, a datasets.Dataset), "
            f"got {_describe(value)}",
        )
    if isinstance(value, (list, tuple)) and not value:
        raise ConfigError(
            key, f"expected a file path or a non-empty list, got an empty {type(value).__name__}"
        )


def _item_noun(items: list | tuple) -> str:
    """What the items of a list are, in words: "text", "number", "record", "pair"..."""
    if all(isinstance(x, str) for x in items):
        return "text"
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
        return "number"
    if all(isinstance(x, Mapping) for x in items):
        return "record"
    if all(isinstance(x, (list, tuple)) for x in items):
        if all(len(x) == 2 and isinstance(x[0], str) for x in items):
            return "(text, label) pair"
        return "sentence"
    return "item"


def describe_data(value: Any) -> str:
    """How a config records data given in memory (in ``config.json`` and checkpoints, which hold
    no data): ``"<in-memory: list of 120 (text, label) pairs>"``, ``"<in-memory: DataFrame of
    120 rows (text, label)>"``. A run trained from memory is resumed by giving the data again."""
    kind = type(value).__name__
    if isinstance(value, (list, tuple)):
        return f"{IN_MEMORY}{kind} of {count(len(value), _item_noun(value))}>"
    columns = getattr(value, "column_names", None) or getattr(value, "columns", None)
    if columns is not None and not isinstance(columns, (list, tuple)):
        columns = list(columns)  # a pandas Index
    try:
        size = len(value)
    except TypeError:
        return f"{IN_MEMORY}{kind}>"
    if columns is not None:
        return f"{IN_MEMORY}{kind} of {count(size, 'row')} ({', '.join(map(str, columns))})>"
    return f"{IN_MEMORY}{kind} of {count(size, 'value')}>"


def choices_of(f: dataclasses.Field) -> tuple[Any, ...] | None:
    """A field's choices; a callable is asked each time (a registry that may grow)."""
    choices = f.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def fields_of(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """``(field, resolved type)`` of a config class, in declaration order."""
    return _spec(cls)


# --------------------------------------------------------------------------- files
def read_config_file(path: str | Path) -> dict[str, Any]:
    """The table in a ``.toml`` or ``.json`` file; errors give the line and column."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise RnnkitError(f"config file {path}: expected a .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RnnkitError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RnnkitError(f"cannot read config file {path}: {error}") from error
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RnnkitError(
                f"config file {path} does not parse: {error.msg} at line "
                f"{error.lineno}, column {error.colno}"
            ) from None
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise RnnkitError(
                    "TOML config files need Python 3.11 or the tomli package; "
                    "use a .json config file instead"
                ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RnnkitError(f"config file {path} does not parse: {error}") from None
    if not isinstance(data, dict):
        raise RnnkitError(
            f"config file {path}: expected a table of settings, got {_describe(data)}"
        )
    return data


def _toml_value(value: Any) -> str:
    if value is None:
        return json.dumps(NONE)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # JSON strings and numbers are valid TOML


def dump_config(data: Mapping[str, Any], fmt: str = "toml") -> str:
    """A config's dict as a TOML or JSON document that :func:`read_config_file` reads back."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt != "toml":
        raise ValueError(f"fmt must be toml or json, got {fmt!r}")
    lines: list[str] = []

    def table(values: Mapping[str, Any], name: str) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, Mapping)}
        if name and (scalars or not values):
            lines.append(f"\n[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in scalars.items())
        for key, value in values.items():
            if isinstance(value, Mapping):
                table(value, f"{name}.{key}" if name else key)

    table(data, "")
    return "\n".join(lines).lstrip("\n") + "\n"
