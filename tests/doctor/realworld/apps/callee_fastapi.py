"""``payments``: FastAPI on uvicorn; ``GET /pay`` answers with the trace it ran in.

``GET /health`` is what a load balancer polls, with no trace context.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from _common import current_span, exit_with_the_test_bed, port, trace_headers
from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/pay")
async def pay(request: Request) -> dict[str, Any]:
    headers = trace_headers(request.headers)
    return {**current_span(), "address": f"127.0.0.1:{port()}", "headers": headers}


@app.get("/health")
async def health() -> dict[str, Any]:
    return current_span()


if __name__ == "__main__":
    exit_with_the_test_bed()
    uvicorn.run(app, host="127.0.0.1", port=port(), log_level="warning")
