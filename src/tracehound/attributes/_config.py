"""The attribute policy's configuration: mode, one action per rule, and extensions.

Read, lowest precedence first, from the defaults, one config file
(``tracehound.toml``, or ``[tool.tracehound]`` in ``pyproject.toml``), the
environment, and the arguments of `load_policy_config`::

    [tool.tracehound]
    mode = "warn"                      # off | warn | strict (env TRACEHOUND_MODE)

    [tool.tracehound.attributes]
    actions = { A001 = "fix", A003 = "fix", A007 = "ignore" }
    allow_keys = ["auth.method"]       # never treated as secret keys
    secret_keys = ["x-internal-sig"]   # always treated as secret keys
    secret_words = ["pin"]             # extra words that make a key secret
    identifier_words = ["hs"]          # extra words that exempt a key from A003
    redaction_marker = "[REDACTED]"

    [tool.tracehound.attributes.reserved]
    "tenant.tier" = "int"
    "app.plan" = { type = "str", choices = ["free", "pro"] }

In ``tracehound.toml`` the same tables sit at the top level (``mode``,
``[attributes]``).  ``TRACEHOUND_ATTRIBUTE_ACTIONS="A001=fix,A003=fix"``
overrides actions; ``TRACEHOUND_CONFIG`` names the file to read.  Every
error names the file (or variable) and the key.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tracehound.attributes._reserved import DEFAULT_RESERVED, TYPES, ReservedSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ALLOWED_ACTIONS",
    "DEFAULT_ACTIONS",
    "RULE_CODES",
    "Action",
    "ConfigError",
    "Mode",
    "PolicyConfig",
    "load_policy_config",
]


class Mode(str, enum.Enum):
    """How hard the policy enforces: nothing, actions and findings, or raising."""

    OFF = "off"
    WARN = "warn"
    STRICT = "strict"


class Action(str, enum.Enum):
    """What happens to an attribute that breaks a rule."""

    IGNORE = "ignore"
    """The rule is not checked."""
    REPORT = "report"
    """Keep the value, emit a finding."""
    FIX = "fix"
    """Rename, coerce or move it to what the rule asks for, and emit a finding."""
    REDACT = "redact"
    """Replace the (secret part of the) value by the marker, keep the key; emit a finding."""
    DROP = "drop"
    """Remove the attribute; emit a finding."""


RULE_CODES = ("A001", "A002", "A003", "A004", "A005", "A006", "A007")

_I, _R, _F, _X, _D = Action.IGNORE, Action.REPORT, Action.FIX, Action.REDACT, Action.DROP
ALLOWED_ACTIONS: Mapping[str, frozenset[Action]] = MappingProxyType(
    {
        "A001": frozenset({_I, _R, _F, _D}),
        "A002": frozenset({_I, _R, _F, _D}),
        "A003": frozenset({_I, _R, _F, _D}),
        "A004": frozenset({_I, _R, _X, _D}),
        "A005": frozenset({_I, _R, _X, _D}),
        "A006": frozenset({_I, _R, _F, _D}),
        "A007": frozenset({_I, _R, _F}),
    }
)
DEFAULT_ACTIONS: Mapping[str, Action] = MappingProxyType(
    {"A001": _R, "A002": _R, "A003": _R, "A004": _X, "A005": _X, "A006": _R, "A007": _R}
)

ENV_MODE = "TRACEHOUND_MODE"
ENV_ACTIONS = "TRACEHOUND_ATTRIBUTE_ACTIONS"
ENV_CONFIG = "TRACEHOUND_CONFIG"


class ConfigError(ValueError):
    """A bad configuration; the message names the file (or variable) and the key."""


def _frozen(items: Any = ()) -> frozenset[str]:
    return frozenset(items)


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the attribute policy needs to know; immutable."""

    mode: Mode = Mode.WARN
    actions: Mapping[str, Action] = field(default_factory=lambda: DEFAULT_ACTIONS)
    reserved: Mapping[str, ReservedSpec] = field(default_factory=lambda: DEFAULT_RESERVED)
    allow_keys: frozenset[str] = field(default_factory=_frozen)
    secret_keys: frozenset[str] = field(default_factory=_frozen)
    secret_words: frozenset[str] = field(default_factory=_frozen)
    identifier_words: frozenset[str] = field(default_factory=_frozen)
    redaction_marker: str = "[REDACTED]"
    sources: tuple[str, ...] = ()
    """Where the settings came from (files, variables, ``arguments``), lowest first."""

    def action(self, code: str) -> Action:
        """The action for rule ``code`` (`Action.IGNORE` when the mode is off)."""
        return Action.IGNORE if self.mode is Mode.OFF else self.actions[code]

    def with_table(self, table: Mapping[str, Any], where: str, prefix: str = "") -> PolicyConfig:
        """This config updated from an ``attributes`` table; errors name ``where`` and the key."""
        return _apply_table(self, table, where, prefix)


_LIST_FIELDS = ("allow_keys", "secret_keys", "secret_words", "identifier_words")
_TABLE_KEYS = ("actions", "reserved", "redaction_marker", *_LIST_FIELDS)


def _apply_table(
    config: PolicyConfig, table: Mapping[str, Any], where: str, prefix: str
) -> PolicyConfig:
    def fail(key: str, problem: str) -> ConfigError:
        name = f"{prefix}{key}".rstrip(".")
        return ConfigError(f"{where}: {name}: {problem}" if name else f"{where}: {problem}")

    if not isinstance(table, Mapping):
        raise fail("", f"expected a table, got {type(table).__name__}")
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key == "actions":
            changes["actions"] = _parse_actions(config.actions, value, fail)
        elif key == "reserved":
            changes["reserved"] = _parse_reserved(config.reserved, value, fail)
        elif key == "redaction_marker":
            if not isinstance(value, str) or not value:
                raise fail(key, "expected a non-empty string")
            changes[key] = value
        elif key in _LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise fail(key, "expected a list of non-empty strings")
            words = [v.lower() for v in value] if key.endswith("_words") else value
            changes[key] = getattr(config, key) | frozenset(words)
        else:
            raise fail(key, f"unknown setting; known: {', '.join(_TABLE_KEYS)}")
    return dataclasses.replace(config, **changes, sources=(*config.sources, where))


def _parse_actions(base: Mapping[str, Action], value: Any, fail: Any) -> Mapping[str, Action]:
    if not isinstance(value, Mapping):
        raise fail("actions", "expected a table of rule code = action")
    actions = dict(base)
    for code, name in value.items():
        key = f"actions.{code}"
        normal = str(code).strip().upper()
        if normal not in ALLOWED_ACTIONS:
            raise fail(key, f"not an attribute rule; choose one of {', '.join(RULE_CODES)}")
        allowed = ALLOWED_ACTIONS[normal]
        choices = ", ".join(a.value for a in Action if a in allowed)
        try:
            action = name if isinstance(name, Action) else Action(str(name).strip().lower())
        except ValueError:
            raise fail(key, f"unknown action {name!r}; choose one of {choices}") from None
        if action not in allowed:
            raise fail(
                key, f"{action.value!r} is not an action for {normal}; choose one of {choices}"
            )
        actions[normal] = action
    return MappingProxyType(actions)


def _parse_reserved(
    base: Mapping[str, ReservedSpec], value: Any, fail: Any
) -> Mapping[str, ReservedSpec]:
    if not isinstance(value, Mapping):
        raise fail("reserved", "expected a table of key = type or {type, min, max, choices}")
    reserved = dict(base)
    for attr, given in value.items():
        key = f"reserved.{attr}"
        spec = {"type": given} if isinstance(given, str) else given
        if not isinstance(spec, Mapping):
            raise fail(key, "expected a type name or a table {type, min, max, choices}")
        unknown = set(spec) - {"type", "min", "max", "choices"}
        if unknown:
            raise fail(key, f"unknown fields {sorted(unknown)}; known: type, min, max, choices")
        type_ = spec.get("type")
        if type_ not in TYPES:
            raise fail(key, f"type {type_!r} unknown; choose one of {', '.join(TYPES)}")
        bounds = [spec.get("min"), spec.get("max")]
        if any(b is not None and (isinstance(b, bool) or not _is_number(b)) for b in bounds):
            raise fail(key, "min and max must be numbers")
        choices = spec.get("choices")
        if choices is not None and (
            not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)
        ):
            raise fail(key, "choices must be a list of strings")
        reserved[attr] = ReservedSpec(
            type_, bounds[0], bounds[1], frozenset(choices) if choices is not None else None
        )
    return MappingProxyType(reserved)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _parse_mode(value: Any, where: str) -> Mode:
    if isinstance(value, Mode):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return Mode(value.strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise ConfigError(f"{where}: unknown mode {value!r}; choose one of {choices}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 (byte 0x{data[error.start]:02x}); TOML files are UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses per nesting level of arrays and inline tables
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None


def _tracehound_table(path: Path) -> tuple[Mapping[str, Any], str] | None:
    """The tracehound table of ``path`` and its key prefix, or None when it has none."""
    document = _read_toml(path)
    if path.name != "pyproject.toml":
        return document, ""
    tool = document.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, Mapping):
        raise ConfigError(f"{path}: tool: expected a table, got {_type_name(tool)}")
    table = tool.get("tracehound")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: tool.tracehound: expected a table, got {_type_name(table)}")
    return table, "tool.tracehound."


def _type_name(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
            list: "an array"}.get(type(value), type(value).__name__)


def find_config_file(start: Path) -> Path | None:
    """The nearest ``tracehound.toml``, or ``pyproject.toml`` with ``[tool.tracehound]``."""
    for directory in (start, *start.parents):
        candidate = directory / "tracehound.toml"
        if candidate.is_file():
            return candidate
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and _tracehound_table(candidate) is not None:
            return candidate
    return None


def load_policy_config(
    path: str | os.PathLike[str] | None = None,
    *,
    mode: Mode | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    start: str | os.PathLike[str] | None = None,
) -> PolicyConfig:
    """The policy config from defaults < config file < environment < arguments.

    ``path`` (or ``TRACEHOUND_CONFIG``) names the file; otherwise the nearest
    one above ``start`` (default: the working directory) is used, if any.
    ``overrides`` has the shape of the ``attributes`` table.  Raises
    `ConfigError` naming the file or variable and the key.
    """
    env = os.environ if env is None else env
    config = PolicyConfig()
    chosen = path if path is not None else env.get(ENV_CONFIG) or None
    file = Path(chosen) if chosen is not None else find_config_file(Path(start or Path.cwd()))
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: no such config file")
        found = _tracehound_table(file)
        if found is not None:
            table, prefix = found
            config = _apply_file(config, table, str(file), prefix)
    if env.get(ENV_MODE):
        config = dataclasses.replace(config, mode=_parse_mode(env[ENV_MODE], ENV_MODE))
    if env.get(ENV_ACTIONS):
        config = config.with_table({"actions": _env_actions(env[ENV_ACTIONS])}, ENV_ACTIONS)
    if overrides:
        config = config.with_table(overrides, "arguments")
    if mode is not None:
        config = dataclasses.replace(config, mode=_parse_mode(mode, "arguments: mode"))
    return config


FILE_KEYS = ("mode", "attributes")
"""The settings of the tracehound table; anything else is a typo and an error."""


def _apply_file(
    config: PolicyConfig, table: Mapping[str, Any], where: str, prefix: str
) -> PolicyConfig:
    for key in table:
        if key not in FILE_KEYS:
            raise ConfigError(
                f"{where}: {prefix}{key}: unknown setting; known: {', '.join(FILE_KEYS)}"
            )
    if "mode" in table:
        config = dataclasses.replace(
            config, mode=_parse_mode(table["mode"], f"{where}: {prefix}mode")
        )
    attributes = table.get("attributes")
    if attributes is not None:
        config = config.with_table(attributes, where, f"{prefix}attributes.")
    return config


def _env_actions(text: str) -> dict[str, str]:
    actions = {}
    for item in text.split(","):
        if not item.strip():
            continue
        code, sep, action = item.partition("=")
        if not sep:
            raise ConfigError(f"{ENV_ACTIONS}: {item.strip()!r} is not CODE=action")
        actions[code.strip()] = action.strip()
    return actions
