'use strict';
// A grpc-js client with its default limits (8 KiB of received metadata):
// one CreateOrder of N invalid items, and one JSON line of what it got:
// {code, message, violations, first, last} (violations from the BadRequest
// in grpc-status-details-bin; -1 when there was none).
//
//   node create_invalid.js 127.0.0.1:PORT N

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { decodeStatus } = require('./rich_status');

const [address, n] = process.argv.slice(2);
const includeDirs = [path.join(__dirname, '..', '..', '..', 'proto')];
const definition = protoLoader.loadSync('orders/v1/orders.proto', { keepCase: true, includeDirs });
const { OrderService } = grpc.loadPackageDefinition(definition).orders.v1;
const client = new OrderService(address, grpc.credentials.createInsecure());
const items = Array.from({ length: Number(n) }, () => ({ product_id: '', quantity: 0, price_cents: -1 }));
const deadline = new Date(Date.now() + 10_000);
client.CreateOrder({ customer_id: 'c-1', items }, { deadline }, (error, response) => {
  const out = error
    ? { code: error.code, message: error.details, violations: -1 }
    : { code: 0, message: JSON.stringify(response), violations: -1 };
  const bytes = error?.metadata?.get('grpc-status-details-bin')[0];
  if (bytes) {
    const bad = decodeStatus(bytes).details.find((d) => d.type === 'BadRequest');
    if (bad) {
      const v = bad.fieldViolations;
      Object.assign(out, { violations: v.length, first: v[0], last: v[v.length - 1] });
    }
  }
  console.log(JSON.stringify(out));
  client.close();
});
