"""``inventory``: Flask on Werkzeug; ``GET /stock`` answers with the trace it ran in.

``GET /health`` is what a load balancer polls, with no trace context.
"""

from __future__ import annotations

from typing import Any

from _common import (
    current_span,
    exit_cleanly_on_sigterm,
    exit_with_the_test_bed,
    port,
    trace_headers,
)
from flask import Flask, request

app = Flask(__name__)


@app.get("/stock")
def stock() -> dict[str, Any]:
    headers = trace_headers(request.headers)
    return {**current_span(), "address": f"127.0.0.1:{port()}", "headers": headers}


@app.get("/health")
def health() -> dict[str, Any]:
    return current_span()


if __name__ == "__main__":
    exit_cleanly_on_sigterm()
    exit_with_the_test_bed()
    app.run(host="127.0.0.1", port=port(), use_reloader=False, threaded=True)
