// What both Node apps share: the port, the span the handler runs in, a clean exit.
// They know nothing of tracehound: `node --require
// @opentelemetry/auto-instrumentations-node/register` instruments them (zero-code),
// configured by the OTEL_* variables the test bed sets.
'use strict';
const { trace } = require('@opentelemetry/api');

const TRACE_HEADERS = ['traceparent', 'tracestate', 'uber-trace-id', 'b3', 'x-b3-traceid',
  'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];

function port() {
  return Number(process.env.PORT);
}

// Trace ID, span ID and parent span ID of the active span (hex), as the SDK holds them.
function currentSpan() {
  const span = trace.getActiveSpan();
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    trace_id: ctx.traceId,
    span_id: ctx.spanId,
    parent_span_id: parent ? parent.spanId : null,
    service: process.env.OTEL_SERVICE_NAME,
  };
}

function traceHeaders(headers) {
  const found = {};
  for (const name of TRACE_HEADERS) {
    if (headers[name] !== undefined) found[name] = headers[name];
  }
  return found;
}

// SIGTERM closes the server; the process ends once the SDK's own SIGTERM handler
// (installed by the register script) has flushed the spans.  Ends with the driver too.
function serve(server) {
  server.listen(port(), '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  });
  const parent = Number(process.env.TESTBED_PARENT_PID || 0);
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch (err) {
        if (err.code === 'ESRCH') process.exit(0);
      }
    }, 1000).unref();
  }
}

module.exports = { currentSpan, port, serve, traceHeaders };
