"""The OTLP/gRPC receiver (``--grpc-port``; needs ``tracehound[grpc]``).

The ``TraceService/Export`` method is served with the request left as bytes
(the journal keeps the body as it came), through the same `Receiver` as
OTLP/HTTP.  gRPC itself refuses a message that decompresses to over
``max_body`` (RESOURCE_EXHAUSTED); overload answers UNAVAILABLE, which the
SDK's exporter retries.
"""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracehound.doctor.serve._receiver import Receiver, Refused

__all__ = ["METHOD", "start_grpc"]

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TIMEOUT = 30.0


def start_grpc(
    receiver: Receiver, host: str, port: int, *, max_body: int, token: str | None
) -> tuple[Any, int]:
    """Start serving on ``host:port``; the server and the port it got."""
    import grpc

    def export(body: bytes, context: Any) -> bytes:
        if token is not None:
            given = dict(context.invocation_metadata()).get("authorization", "")
            given = given[7:].strip() if given.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "a token is required")
        try:
            receiver.take_blocking(body, TIMEOUT)
        except Refused as exc:
            code = grpc.StatusCode.UNAVAILABLE if exc.retry else grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, exc.message)
        return b""  # an empty ExportTraceServiceResponse

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    server = grpc.server(
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="tracehound-grpc"),
        handlers=[handler],
        options=[
            ("grpc.max_receive_message_length", max_body),
            ("grpc.so_reuseport", 0),
        ],
    )
    try:
        bound = server.add_insecure_port(f"{_bracketed(host)}:{port}")
    except RuntimeError:  # grpcio raises where older versions returned 0
        bound = 0
    if bound == 0:
        from tracehound.doctor.serve import ListenError

        raise ListenError(f"cannot listen on {host}:{port} for OTLP/gRPC")
    server.start()
    return server, bound


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
