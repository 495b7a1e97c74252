"""Command-line options generated from config dataclasses (see :mod:`rnnkit.config`).

Every field becomes one option: its name, type, choices, help and default come from the field, so
a setting is declared once for the Python API, config files and the command line. Options are
parsed with a default of ``argparse.SUPPRESS``, so only the settings the user typed reach
:func:`given_settings`; the help still shows each default.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

from rnnkit.config import NONE, Config, ConfigError, choices_of, fields_of
from rnnkit.training.devices import DEVICE_HELP, check_device_name

__all__ = [
    "HelpFormatter",
    "add_config_options",
    "add_device_option",
    "given_settings",
    "new_parser",
]

PREFIX = "setting:"  # argparse destinations of config settings start with this


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks (for examples) and widens the option column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def new_parser(subparsers: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A command's parser: no abbreviated options (``--text`` must not become ``--text-col``)."""
    return subparsers.add_parser(
        name, help=help, description=description, formatter_class=HelpFormatter, allow_abbrev=False
    )


def _device(text: str) -> str:
    try:
        return check_device_name(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device`` of a command that runs a model: the help of ``train``'s (TrainConfig.device),
    and its form checked as it is read; whether this machine has it, when the model is loaded."""
    parser.add_argument(
        "--device",
        default="auto",
        type=_device,
        metavar="DEVICE",
        help=f"{DEVICE_HELP} (default: auto)",
    )


def _article(kind: type) -> str:
    return {int: "an integer", float: "a number", str: "a text"}.get(kind, kind.__name__)


def _converter(hint: Any) -> tuple[Any, bool]:
    """``(type function, is a flag)`` for a field's type: ``none`` unsets an optional setting and
    a list is written comma-separated."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    optional = origin in (Union, types.UnionType) and type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return None, True
    item = args[0] if origin is list else hint

    def convert(text: str) -> Any:
        if optional and text.strip().lower() == NONE:
            return None
        try:
            if origin is list:
                values = [item(part.strip()) for part in text.split(",") if part.strip()]
                if not values:
                    raise ValueError
                return values
            return item(text)
        except ValueError:
            plural = {int: "integers", float: "numbers"}.get(item, "values")
            what = f"one or more comma-separated {plural}" if origin is list else _article(item)
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None

    convert.__name__ = getattr(item, "__name__", "value")
    return convert, False


def _shown(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(metadata: Mapping[str, Any], default: Any) -> str:
    """A setting's help, ending in ``(required)`` or ``(default: ...)`` unless it says so itself
    (``(default: when stderr is a terminal)`` says more than ``(default: none)``)."""
    text = metadata.get("help", "")
    if "(required" in text or "(default:" in text:
        return text
    return f"{text} ({'required' if metadata.get('required') else f'default: {_shown(default)}'})"


def _leaves(config_class: type, prefix: str = ""):
    for f, hint in fields_of(config_class):
        if isinstance(hint, type) and issubclass(hint, Config):
            yield from _leaves(hint, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, hint


def add_config_options(
    parser: argparse.ArgumentParser, config_class: type, defaults: Mapping[str, Any]
) -> dict[str, str]:
    """One option per field of ``config_class`` (sections become groups); returns key -> flag."""
    flags: dict[str, str] = {}
    groups: dict[str, Any] = {}
    for key, f, hint in _leaves(config_class):
        section = key.rpartition(".")[0]
        if section not in groups:
            groups[section] = parser.add_argument_group(section) if section else parser
        default: Any = defaults
        for part in key.split("."):
            default = default[part]
        name = f.metadata.get("flag") or f.name.replace("_", "-")
        aliases = [alias.replace("_", "-") for alias in f.metadata.get("aliases", ())]
        names = [f"--{name}"] + [f"--{alias}" for alias in aliases if alias != name]
        kwargs: dict[str, Any] = {
            "dest": PREFIX + key,
            "default": argparse.SUPPRESS,
            "help": _help(f.metadata, default),
        }
        convert, is_flag = _converter(hint)
        if is_flag:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = convert
            kwargs["choices"] = choices_of(f)
            metavar = f.metadata.get("metavar") or name.upper().replace("-", "_")
            kwargs["metavar"] = None if kwargs["choices"] else metavar
        groups[section].add_argument(*names, **kwargs)
        flags[key] = names[0]
    parser.set_defaults(setting_flags=flags)  # errors name the option of a setting
    return flags


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The config settings typed on the command line, as nested tables (``{"train": {...}}``)."""
    settings: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(PREFIX):
            continue
        *sections, name = dest.removeprefix(PREFIX).split(".")
        table = settings
        for section in sections:
            table = table.setdefault(section, {})
        table[name] = value
    return settings
