"""The README's example programs run and keep one trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_manual_spans_story_is_one_trace() -> None:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "orders"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "manual_spans.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decoder = json.JSONDecoder()
    spans, text, index = [], result.stdout, 0
    while (start := text.find("{", index)) != -1:
        span, index = decoder.raw_decode(text, start)
        spans.append(span)
    names = {s["name"] for s in spans}
    assert names == {
        "POST /orders",
        "reserve stock",
        "publish order.created",
        "process order.created",
    }
    assert {s["context"]["trace_id"] for s in spans} == {"0x4bf92f3577b34da6a3ce929d0e0e4736"}
    logs = result.stderr.splitlines()
    assert sum("trace_id=4bf92f3577b34da6a3ce929d0e0e4736" in line for line in logs) == 3
    assert "findings: none" in result.stderr
