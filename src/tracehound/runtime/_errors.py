"""Errors the runtime raises for settings it cannot use."""

from __future__ import annotations

__all__ = ["ConfigurationError"]


class ConfigurationError(ValueError):
    """A setting tracehound cannot use; the message names the setting and the choices."""
