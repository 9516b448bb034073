// ``gateway``: Node's http server; GET /route calls PAYMENTS_URL with Node's http client
// and answers with its own span and what the callee reported.
'use strict';
const http = require('node:http');
const { currentSpan, serve } = require('./common');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { timeout: 10000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { data += chunk; });
      res.on('end', () => (res.statusCode === 200
        ? resolve(JSON.parse(data)) : reject(new Error(`${url}: ${res.statusCode}`))));
    }).on('error', reject);
  });
}

serve(http.createServer((req, res) => {
  const caller = currentSpan();
  get(process.env.PAYMENTS_URL).then((callee) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ caller, callee }));
  }, (err) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(String(err));
  });
}));
