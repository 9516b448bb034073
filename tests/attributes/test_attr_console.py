"""End to end: with OTEL_TRACES_EXPORTER=console, no secret reaches stdout (or stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = Path(__file__).with_name("console_program.py")


def test_console_exporter_prints_no_secret(tmp_path: Path) -> None:
    # Fakes built at run time; the card is the well-known Visa test number.
    token = "tok_" + "9f8e7d6c5b4a39281706f5e4"
    bearer = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiI0MiJ9." + "c2lnbmF0dXJlLWZha2U"
    card = "4111 " + " ".join(["1111"] * 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEHOUND_"))}
    env["OTEL_TRACES_EXPORTER"] = "console"
    result = subprocess.run(
        [sys.executable, str(PROGRAM), token, bearer, card],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"name": "POST /checkout"' in result.stdout  # the span was printed
    assert "[REDACTED]" in result.stdout
    assert "tracehound.redacted" in result.stdout
    assert '"order.id": 8412' in result.stdout
    for secret in (token, bearer, card, card.replace(" ", ""), bearer.split(".")[1]):
        assert secret not in result.stdout
        assert secret not in result.stderr
