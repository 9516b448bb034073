"""Configuration: pyproject.toml and tracehound.toml, environment, arguments, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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
