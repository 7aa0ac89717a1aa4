"""Configuration files and environment variables for the long-running commands (node, relay).

A key is an option's long name without the leading dashes (``max-circuits``); dashes and
underscores are interchangeable (``max_circuits``). The environment variable of a key is
``P2PSTACK_`` + the key in upper case with underscores (``P2PSTACK_MAX_CIRCUITS``).

Precedence, highest first: command-line flags, ``P2PSTACK_*`` variables, the ``--config`` file,
the built-in defaults. A repeatable flag (``--listen``) given on the command line replaces the
file's list rather than adding to it; in a variable its items are separated by commas. An
unknown key in the file, or a bad value anywhere, is a :class:`ConfigError` naming the key;
variables that name no option of the command are ignored (``P2PSTACK_`` variables are shared
by every command).
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

ENV_PREFIX: Final = "P2PSTACK_"
NOT_KEYS: Final = frozenset({"help", "version", "config", "print_config", "json"})
"""Options that are not configuration (they say what to do with it)."""

_probe = argparse.ArgumentParser(add_help=False)
_APPEND: Final = type(_probe.add_argument("--append", action="append"))
_COUNT: Final = type(_probe.add_argument("--count", action="count"))
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})

Check = Callable[[argparse.Namespace], Mapping[str, Any]]
"""Validates a resolved namespace (raising ValueError / InvalidConfigError naming the key) and
returns values to show in ``--print-config`` in place of unset ones (e.g. profile defaults)."""


class ConfigError(Exception):
    """A configuration file or variable that cannot be used; the message names the key."""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that lists its configurable options (subparsers inherit the class)."""

    def options(self) -> dict[str, argparse.Action]:
        """``dest`` -> action of every ``--long`` option a config file may set."""
        return {
            action.dest: action
            for action in self._actions
            if action.dest not in NOT_KEYS
            and any(s.startswith("--") for s in action.option_strings)
        }

    @contextmanager
    def defaults_suppressed(self) -> Iterator[None]:
        """While open, parsing leaves out every option that is not on the command line."""
        saved = [(action, action.default) for action in self._actions]
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        try:
            yield
        finally:
            for action, default in saved:
                action.default = default


def key_name(dest: str) -> str:
    """The key a config file uses for ``dest`` (the flag's long name)."""
    return dest.replace("_", "-")


def add_config_arguments(parser: CommandParser, check: Check) -> None:
    """``--config``, ``--print-config`` and ``--json`` for a long-running command."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of options (keys: the long flag names; flags and P2PSTACK_* "
        "variables override it)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration as TOML and exit",
    )
    parser.add_argument("--json", action="store_true", help="with --print-config: print JSON")
    parser.set_defaults(config_parser=parser, config_check=check)


def resolve(
    top: CommandParser,
    argv: Sequence[str] | None,
    args: argparse.Namespace,
    environ: Mapping[str, str],
) -> argparse.Namespace:
    """``args`` (parsed from ``argv`` by ``top``) with the ``--config`` file and the
    environment applied below the flags given on the command line.

    Raises:
        ConfigError: unreadable file, unknown key, or a value of the wrong type or choice.
    """
    sub: CommandParser = args.config_parser
    options = sub.options()
    with top.defaults_suppressed(), sub.defaults_suppressed():
        explicit = vars(top.parse_args(argv))
    values = dict(vars(args))
    if args.config is not None:
        for key, value in _read(args.config).items():
            dest = key.replace("-", "_")
            if dest not in options:
                raise ConfigError(f"{args.config}: unknown key {key!r}")
            values[dest] = _convert(options[dest], value, f"{args.config}: key {key!r}")
    for dest, action in options.items():
        name = ENV_PREFIX + dest.upper()
        if name in environ:
            values[dest] = _convert(action, environ[name], name, text=True)
    values.update({k: v for k, v in explicit.items() if k in options})
    resolved = argparse.Namespace(**values)
    try:
        resolved.config_shown = dict(args.config_check(resolved))
    except ValueError as exc:  # InvalidConfigError is one
        raise ConfigError(str(exc)) from None
    return resolved


def effective(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration ``args`` stands for, by key, unset options left out."""
    options: dict[str, argparse.Action] = args.config_parser.options()
    shown: Mapping[str, Any] = getattr(args, "config_shown", {})
    out: dict[str, Any] = {}
    for dest in options:
        value = getattr(args, dest, None)
        if value is None:
            value = shown.get(dest)
        if value is None:
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        out[key_name(dest)] = value
    return out


def render(config: Mapping[str, Any], *, as_json: bool) -> str:
    """``config`` as a TOML document (or one JSON object) that ``--config`` reads back."""
    if as_json:
        return json.dumps(config, indent=2) + "\n"
    return "".join(f"{key} = {_toml(value)}\n" for key, value in config.items())


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _convert(action: argparse.Action, value: Any, where: str, *, text: bool = False) -> Any:
    """``value`` from a file (TOML types) or a variable (``text``) as argparse would store it."""
    if isinstance(action, _COUNT):
        if isinstance(value, str) and text and value.isdigit():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise ConfigError(f"{where}: expected a count (0, 1, 2), got {value!r}")
    if action.nargs == 0:  # store_true / store_false / store_const
        flag = _boolean(value, where)
        return action.const if flag else action.default
    if isinstance(action, _APPEND):
        items = value.split(",") if text and isinstance(value, str) else value
        if not isinstance(items, list):
            items = [items]
        return [_scalar(action, item, where) for item in items if item != ""]
    if action.nargs == "?" and action.const is not None and isinstance(value, bool | str):
        if value is True or (text and isinstance(value, str) and value.lower() in _TRUE):
            return action.const
        if value is False:
            return None
    return _scalar(action, value, where)


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _scalar(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, bool | list | dict):
        raise ConfigError(f"{where}: expected a {action.metavar or 'value'}, got {value!r}")
    convert = action.type if callable(action.type) else str
    try:
        result = convert(str(value))
    except (ValueError, TypeError, OverflowError, argparse.ArgumentTypeError) as exc:
        wanted = "an integer" if convert is int else "a number" if convert is float else ""
        reason = f"expected {wanted}, got {value!r}" if wanted else str(exc)
        raise ConfigError(f"{where}: {reason}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{where}: {value!r} is not one of {choices}")
    return result
