"""The in-process half of tracehound, on the OpenTelemetry SDK.

`OtlpJsonFileExporter` (from `tracehound.runtime.export`, loaded on first use)
writes spans as OTLP/JSON lines for ``tracehound check``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracehound.runtime._errors import ConfigurationError

__all__ = ["OtlpJsonFileExporter", "check_otel_propagators", "otel_propagator_names"]

if TYPE_CHECKING:
    from tracehound.runtime.export import OtlpJsonFileExporter


def __getattr__(name: str) -> Any:
    if name == "OtlpJsonFileExporter":
        from tracehound.runtime.export import OtlpJsonFileExporter

        return OtlpJsonFileExporter
    raise AttributeError(f"module 'tracehound.runtime' has no attribute {name!r}")

OTEL_PROPAGATORS = "OTEL_PROPAGATORS"


def otel_propagator_names(environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """The names ``OTEL_PROPAGATORS`` lists, ``None`` when it is unset or blank.

    An empty item (``tracecontext,,b3``, a trailing comma) is a
    `ConfigurationError`: OpenTelemetry would fail on it with "Propagator  not
    found" when ``opentelemetry.propagate`` is first imported.
    """
    configured = environ.get(OTEL_PROPAGATORS, "")
    if not configured.strip():
        return None
    names = [n.strip() for n in configured.split(",")]
    if not all(names):
        position = names.index("") + 1
        raise ConfigurationError(
            f"{OTEL_PROPAGATORS}={configured!r}: item {position} is empty; "
            "list propagator names separated by single commas"
        )
    return names


def check_otel_propagators(environ: Mapping[str, str] = os.environ) -> None:
    """Fail with the valid choices when ``OTEL_PROPAGATORS`` names an unknown propagator.

    OpenTelemetry reads the variable when ``opentelemetry.propagate`` is first
    imported and raises "Propagator X not found" without saying what exists.
    """
    names = otel_propagator_names(environ)
    if not names or any(n.lower() == "none" for n in names):
        return
    from importlib.metadata import entry_points

    known = {ep.name for ep in entry_points(group="opentelemetry_propagator")}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigurationError(
            f"{OTEL_PROPAGATORS}: unknown propagator {unknown[0]!r}; installed: "
            f"{', '.join(sorted(known))} (tracehound reads W3C, Jaeger and B3: "
            "OTEL_PROPAGATORS=tracehound)"
        )


if "opentelemetry.propagate" not in sys.modules:  # once imported, OTel has already decided
    check_otel_propagators()
