// ``ledger``: Node's http server; GET /ledger answers with the trace its handler ran in,
// GET /health (a load balancer's poll) with its span alone.
'use strict';
const http = require('node:http');
const { currentSpan, port, serve, traceHeaders } = require('./common');

serve(http.createServer((req, res) => {
  const body = req.url.startsWith('/health')
    ? currentSpan()
    : { ...currentSpan(), address: `127.0.0.1:${port()}`, headers: traceHeaders(req.headers) };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}));
