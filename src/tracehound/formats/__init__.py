"""Pure parsers and serialisers for trace-context headers; no OpenTelemetry import.

Every parser returns either a `TraceContext` or a `Rejection` carrying the
exact reason, so the runtime propagator, the doctor and a person reading
``tracehound headers`` output all see the same explanation.
"""

from tracehound.formats._types import Format, Rejection, TraceContext
from tracehound.formats.b3 import (
    format_b3_multi,
    format_b3_single,
    parse_b3_multi,
    parse_b3_single,
)
from tracehound.formats.baggage import (
    Baggage,
    format_baggage,
    parse_baggage,
    parse_jaeger_baggage,
)
from tracehound.formats.inbound import (
    Inbound,
    Problem,
    parse_format_list,
    read_headers,
    read_inbound,
)
from tracehound.formats.jaeger import format_uber_trace_id, parse_uber_trace_id
from tracehound.formats.w3c import (
    TraceState,
    format_traceparent,
    format_tracestate,
    parse_traceparent,
    parse_traceparent_fields,
    parse_tracestate,
)

__all__ = [
    "Baggage",
    "Format",
    "Inbound",
    "Problem",
    "Rejection",
    "TraceContext",
    "TraceState",
    "format_b3_multi",
    "format_b3_single",
    "format_baggage",
    "format_traceparent",
    "format_tracestate",
    "format_uber_trace_id",
    "parse_b3_multi",
    "parse_b3_single",
    "parse_baggage",
    "parse_format_list",
    "parse_jaeger_baggage",
    "parse_traceparent",
    "parse_traceparent_fields",
    "parse_tracestate",
    "parse_uber_trace_id",
    "read_headers",
    "read_inbound",
]
