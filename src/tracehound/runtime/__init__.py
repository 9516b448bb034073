"""The in-process half of tracehound, on the OpenTelemetry SDK."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from tracehound.runtime._errors import ConfigurationError

__all__ = ["check_otel_propagators"]


def check_otel_propagators(environ: Mapping[str, str] = os.environ) -> None:
    """Fail with the valid choices when ``OTEL_PROPAGATORS`` names an unknown propagator.

    OpenTelemetry reads the variable when ``opentelemetry.propagate`` is first
    imported and raises "Propagator X not found" without saying what exists.
    """
    configured = environ.get("OTEL_PROPAGATORS", "")
    names = [n.strip() for n in configured.split(",") if n.strip()]
    if not names or any(n.lower() == "none" for n in names):
        return
    from importlib.metadata import entry_points

    known = {ep.name for ep in entry_points(group="opentelemetry_propagator")}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigurationError(
            f"OTEL_PROPAGATORS: unknown propagator {unknown[0]!r}; installed: "
            f"{', '.join(sorted(known))} (tracehound reads W3C, Jaeger and B3: "
            "OTEL_PROPAGATORS=tracehound)"
        )


if "opentelemetry.propagate" not in sys.modules:  # once imported, OTel has already decided
    check_otel_propagators()
