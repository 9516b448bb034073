// ``gateway``: Node's http server; GET /quote calls pricing's /shop.Pricing/Quote over gRPC
// (@grpc/grpc-js, raw bytes) at PRICING_TARGET and answers with its own span and what the
// callee reported.
'use strict';
const http = require('node:http');
const grpc = require('@grpc/grpc-js');
const { currentSpan, serve } = require('./common');

const same = (x) => x;
const Pricing = grpc.makeGenericClientConstructor({
  Quote: {
    path: '/shop.Pricing/Quote', requestStream: false, responseStream: false,
    requestSerialize: same, requestDeserialize: same,
    responseSerialize: same, responseDeserialize: same,
  },
}, 'Pricing');
const client = new Pricing(process.env.PRICING_TARGET, grpc.credentials.createInsecure());

serve(http.createServer((req, res) => {
  const caller = currentSpan();
  client.Quote(Buffer.from('{}'), { deadline: Date.now() + 10000 }, (err, answer) => {
    if (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ caller, callee: JSON.parse(answer.toString()) }));
  });
}));
