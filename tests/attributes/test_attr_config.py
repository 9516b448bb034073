"""Configuration: pyproject.toml and tracehound.toml, environment, arguments, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracehound.attributes import (
    DEFAULT_ACTIONS,
    Action,
    AttributePolicy,
    ConfigError,
    Mode,
    load_policy_config,
)

PYPROJECT = """
[project]
name = "shop"

[tool.tracehound]
mode = "strict"

[tool.tracehound.attributes]
actions = { A001 = "fix", A007 = "ignore" }
allow_keys = ["auth.method"]
secret_words = ["PIN"]
redaction_marker = "***"

[tool.tracehound.attributes.reserved]
"tenant.tier" = "int"
"app.plan" = { type = "str", choices = ["free", "pro"] }
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_policy_config(start=tmp_path, env={})
    assert config.mode is Mode.WARN
    assert dict(config.actions) == dict(DEFAULT_ACTIONS)
    assert config.action("A004") is Action.REDACT
    assert config.action("A005") is Action.REDACT
    assert config.action("A001") is Action.REPORT


def test_pyproject_found_from_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    nested = tmp_path / "src" / "shop"
    nested.mkdir(parents=True)
    config = load_policy_config(start=nested, env={})
    assert config.mode is Mode.STRICT
    assert config.action("A001") is Action.FIX
    assert config.action("A007") is Action.IGNORE
    assert config.action("A004") is Action.REDACT
    assert "auth.method" in config.allow_keys
    assert "pin" in config.secret_words
    assert config.redaction_marker == "***"
    assert config.reserved["tenant.tier"].type == "int"
    assert config.reserved["app.plan"].choices == frozenset({"free", "pro"})
    assert "error" in config.reserved  # the defaults stay
    assert config.sources == (str(tmp_path / "pyproject.toml"),)


def test_pyproject_without_our_table_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "tracehound.toml", 'mode = "off"\n')
    child = tmp_path / "child"
    child.mkdir()
    write(child, "pyproject.toml", '[project]\nname = "x"\n')
    assert load_policy_config(start=child, env={}).mode is Mode.OFF


def test_tracehound_toml_wins_over_pyproject_in_one_directory(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "tracehound.toml", 'mode = "warn"\n[attributes]\nactions = { A003 = "fix" }\n')
    config = load_policy_config(start=tmp_path, env={})
    assert config.mode is Mode.WARN
    assert config.action("A003") is Action.FIX
    assert config.action("A001") is Action.REPORT


def test_environment_overrides_the_file_and_arguments_override_both(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    env = {"TRACEHOUND_MODE": "warn", "TRACEHOUND_ATTRIBUTE_ACTIONS": "A001=drop, a003=fix"}
    config = load_policy_config(start=tmp_path, env=env)
    assert config.mode is Mode.WARN
    assert config.action("A001") is Action.DROP
    assert config.action("A003") is Action.FIX
    config = load_policy_config(
        start=tmp_path, env=env, mode="off", overrides={"actions": {"A001": "report"}}
    )
    assert config.mode is Mode.OFF
    assert config.actions["A001"] is Action.REPORT
    assert config.action("A004") is Action.IGNORE  # mode off: nothing is checked


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "custom.toml", 'mode = "strict"\n')
    assert load_policy_config(env={"TRACEHOUND_CONFIG": str(path)}).mode is Mode.STRICT


def test_policy_from_config(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    policy = AttributePolicy.from_config(mode=Mode.WARN, start=tmp_path, env={})
    assert policy.mode is Mode.WARN
    assert not policy.strict
    assert policy.enabled
    assert [v.code for v in policy.check_attribute("tenant.tier", "gold")] == ["A002"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("pyproject.toml", '[tool.tracehound]\nmode = "loud"\n', "tool.tracehound.mode"),
        (
            "pyproject.toml",
            '[tool.tracehound.attributes]\nactions = { A004 = "fix" }\n',
            "tool.tracehound.attributes.actions.A004: 'fix' is not an action for A004",
        ),
        (
            "pyproject.toml",
            '[tool.tracehound.attributes]\nactions = { A009 = "fix" }\n',
            "tool.tracehound.attributes.actions.A009: not an attribute rule",
        ),
        (
            "tracehound.toml",
            '[attributes]\nactions = { A001 = "shout" }\n',
            "attributes.actions.A001: unknown action 'shout'",
        ),
        (
            "tracehound.toml",
            "[attributes]\nallow_key = []\n",
            "attributes.allow_key: unknown setting",
        ),
        (
            "tracehound.toml",
            "[attributes]\nallow_keys = [1]\n",
            "attributes.allow_keys: expected a list",
        ),
        (
            "tracehound.toml",
            '[attributes.reserved]\n"tenant.tier" = "integer"\n',
            "attributes.reserved.tenant.tier: type 'integer' unknown",
        ),
        (
            "tracehound.toml",
            '[attributes.reserved]\n"x" = { type = "int", min = "0" }\n',
            "attributes.reserved.x: min and max must be numbers",
        ),
        (
            "tracehound.toml",
            'redaction_marker = ""\n[attributes]\nredaction_marker = ""\n',
            "redaction_marker",
        ),
        ("tracehound.toml", "mode = [\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as error:
        load_policy_config(start=tmp_path, env={})
    assert str(path) in str(error.value)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TRACEHOUND_MODE": "loud"}, "TRACEHOUND_MODE: unknown mode 'loud'"),
        ({"TRACEHOUND_ATTRIBUTE_ACTIONS": "A001"}, "TRACEHOUND_ATTRIBUTE_ACTIONS: 'A001' is not"),
        (
            {"TRACEHOUND_ATTRIBUTE_ACTIONS": "A004=fix"},
            "TRACEHOUND_ATTRIBUTE_ACTIONS: actions.A004",
        ),
        ({"TRACEHOUND_CONFIG": "/nonexistent/tracehound.toml"}, "no such config file"),
    ],
)
def test_bad_environment_names_the_variable(tmp_path: Path, env: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_policy_config(start=tmp_path, env=env)
    assert expected in str(error.value)


def test_bad_arguments_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"arguments: actions\.A002"):
        load_policy_config(start=tmp_path, env={}, overrides={"actions": {"A002": "redact"}})
    with pytest.raises(ConfigError, match="arguments: mode"):
        load_policy_config(start=tmp_path, env={}, mode="loud")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("pyproject.toml", b'tool = "x"\n', "tool: expected a table, got a string"),
        ("pyproject.toml", b"[tool]\ntracehound = 3\n",
         "tool.tracehound: expected a table, got an integer"),
        ("pyproject.toml", b'[tool.tracehound]\nmdoe = "strict"\n',
         "tool.tracehound.mdoe: unknown setting; known: mode, attributes"),
        ("pyproject.toml", b"[tool.tracehound]\nmode = 1\n",
         "tool.tracehound.mode: unknown mode 1"),
        ("pyproject.toml", b"[tool.tracehound]\nattributes = [1]\n",
         "tool.tracehound.attributes: expected a table, got list"),
        ("tracehound.toml", b'mode = "warn"\nx = "caf\xe9"\n', "line 2: not UTF-8 (byte 0xe9)"),
        ("tracehound.toml", b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        ("tracehound.toml", b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n",
         "nested too deeply"),
    ],
)
def test_malformed_files_name_the_file_and_key(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        load_policy_config(start=tmp_path, env={})
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_the_file_mode_applies_and_the_environment_wins(tmp_path: Path) -> None:
    write(tmp_path, "tracehound.toml", 'mode = "off"\n')
    assert load_policy_config(start=tmp_path, env={}).mode is Mode.OFF
    assert load_policy_config(start=tmp_path, env={"TRACEHOUND_MODE": "strict"}).mode is Mode.STRICT
    assert load_policy_config(start=tmp_path, env={"TRACEHOUND_MODE": "strict"},
                              mode="warn").mode is Mode.WARN


def _toml(value: object) -> str:
    """``value`` as a TOML inline value (strings as JSON, which TOML mostly shares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_WORDS = st.sampled_from(["off", "warn", "strict", "fix", "report", "redact", "drop", "ignore",
                          "int", "str", "A001", "A004", "A009", "", "x"])
_SCALARS = st.one_of(
    st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    _WORDS, st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.one_of(_WORDS, st.text(max_size=5)), inner, max_size=3
    ),
    max_leaves=12,
)
_ATTRIBUTE_KEYS = st.sampled_from(
    ["actions", "reserved", "allow_keys", "secret_keys", "secret_words", "identifier_words",
     "redaction_marker", "bogus"]
)
_TABLES = st.dictionaries(
    st.sampled_from(["mode", "attributes", "other"]),
    st.one_of(_VALUES, st.dictionaries(_ATTRIBUTE_KEYS, _VALUES, max_size=4)),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_TABLES, as_pyproject=st.booleans())
def test_any_table_gives_a_config_or_an_error_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, table: dict[str, object], as_pyproject: bool
) -> None:
    directory = tmp_path_factory.mktemp("cfg")
    body = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in table.items())
    name = "pyproject.toml" if as_pyproject else "tracehound.toml"
    path = directory / name
    path.write_text(("[tool.tracehound]\n" if as_pyproject else "") + body, encoding="utf-8")
    try:
        config = load_policy_config(start=directory, env={})
    except ConfigError as error:
        assert str(error).startswith(f"{path}: "), str(error)  # noqa: PT017
        return
    if table.get("mode") in ("off", "warn", "strict"):
        assert config.mode.value == table["mode"]
    policy = AttributePolicy(config)
    assert policy.mode is config.mode


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=200))
def test_any_bytes_give_a_config_or_an_error_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("raw") / "tracehound.toml"
    path.write_bytes(content)
    try:
        load_policy_config(start=path.parent, env={})
    except ConfigError as error:
        assert str(error).startswith(f"{path}: "), str(error)  # noqa: PT017
