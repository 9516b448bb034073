"""Two services for test_propagation_choice: a plain-OpenTelemetry server and a caller.

    python propagation_peers.py server [--configure]   # prints its port, serves until idle 20 s
    python propagation_peers.py client PORT [--configure]

Both read ``OTEL_PROPAGATORS`` as OpenTelemetry does.  The server answers each
request with the trace it continued (from the global propagator, OpenTelemetry's
or, with ``--configure``, tracehound's) and the
trace-header names it received; the client prints, as JSON, how many of its
5 traces the server continued and what it sent.
"""

from __future__ import annotations

import http.server
import json
import logging
import sys
import time
import urllib.request

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

TRACE_HEADERS = ("traceparent", "tracestate", "baggage", "uber-trace-id", "b3", "x-b3-traceid")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        context = trace.get_current_span(propagate.extract(headers)).get_span_context()
        body = json.dumps(
            {
                "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
                "headers": sorted(k for k in headers if k in TRACE_HEADERS),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(configure: bool) -> None:
    if configure:
        import tracehound

        tracehound.configure(service_name="prices", span_exporter=None, log_correlation=False)
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 0.2
    print(server.server_address[1], flush=True)
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 20:  # stops by itself once nobody calls
        before = time.monotonic()
        server.handle_request()
        if time.monotonic() - before < server.timeout:
            idle_since = time.monotonic()
    server.server_close()


def call(port: int, configure: bool) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    if configure:
        import tracehound

        tracehound.configure(service_name="caller", span_exporter=None, log_correlation=False)
    else:
        trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("caller")
    continued, sent = 0, set()
    for _ in range(5):
        with tracer.start_as_current_span("GET /price", kind=trace.SpanKind.CLIENT) as span:
            headers: dict[str, str] = {}
            propagate.inject(headers)
            sent.update(headers)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/price", headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            if answer["trace_id"] == format(span.get_span_context().trace_id, "032x"):
                continued += 1
    print(json.dumps({"continued": continued, "sent": sorted(sent)}))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve("--configure" in sys.argv)
    else:
        call(int(sys.argv[2]), "--configure" in sys.argv)
