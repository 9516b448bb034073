"""Shared test setup: `pytester` runs pytest sessions for the plugin's tests."""

pytest_plugins = ["pytester"]
