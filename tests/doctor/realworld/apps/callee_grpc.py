"""``pricing``: a gRPC server; ``/shop.Pricing/Quote`` answers with the trace it ran in.

A generic handler of raw bytes (no generated stubs): the request is ignored and
the answer is JSON, like the HTTP apps'.  ``opentelemetry-instrument`` wraps
``grpc.server`` (opentelemetry-instrumentation-grpc), as in any Python gRPC
service run under it.
"""

from __future__ import annotations

import json
import threading
from concurrent import futures
from typing import Any

import grpc
from _common import (
    current_span,
    exit_cleanly_on_sigterm,
    exit_with_the_test_bed,
    port,
    trace_headers,
)

METHOD = "Quote"
SERVICE = "shop.Pricing"


def quote(request: bytes, context: grpc.ServicerContext) -> bytes:
    headers = trace_headers({m.key: m.value for m in context.invocation_metadata()})
    answer: dict[str, Any] = {**current_span(), "address": f"127.0.0.1:{port()}"}
    answer["headers"] = headers
    return json.dumps(answer).encode()


def main() -> None:
    exit_cleanly_on_sigterm()
    exit_with_the_test_bed()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handler = grpc.unary_unary_rpc_method_handler(quote)  # bytes in, bytes out
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {METHOD: handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port()}")
    server.start()
    try:
        threading.Event().wait()
    finally:
        server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
