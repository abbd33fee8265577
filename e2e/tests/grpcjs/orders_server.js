'use strict';
// A correct orders.v1.OrderService written with @grpc/grpc-js, the contract
// of CONTRACT.md on a third stack: proto-loader's plain objects, int64 as
// strings, errors with rich details written by hand into
// grpc-status-details-bin, deadlines enforced by grpc-js.
//
// tests/grpcjs_server.rs runs the contract suite against it, and against
// variants that each break one rule the way JavaScript code gets it wrong
// (`--variant NAME`, listed in VARIANTS below).
//
//   node orders_server.js [--fail-fast-ms N] [--token T=rw|read|write]...
//                         [--transient-header NAME] [--variant NAME]
//
// prints "listening on 127.0.0.1:PORT" once it serves; stops on SIGTERM or
// when stdin closes.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { ReflectionService } = require('@grpc/reflection');
const { HealthImplementation, protoPath: healthProto } = require('grpc-health-check');
const { encodeStatus } = require('./rich_status');

// Each variant breaks one rule the JavaScript way.
const VARIANTS = {
  // Orders kept in a plain object: `orders["constructor"]` is Object's
  // constructor, so an unknown id named like a built-in is "found" (G-2).
  'object-store': 'G-2',
  // Customer ids trimmed before they are stored (C-3).
  'trims-strings': 'C-3',
  // The unknown id URI-encoded into the NOT_FOUND message (G-2, E-3).
  'uri-encoded-message': 'G-2',
  // Id lengths measured in UTF-16 units (`s.length`), not bytes (C-1).
  'utf16-lengths': 'C-1',
  // `authorization.split(' ')[1]`: extra words after the token pass.
  'split-bearer': 'A-1',
  // CANCEL allowed from SHIPPED (P-2).
  'cancel-from-shipped': 'P-2',
  // Fail-fast judged on a stream's first message, not when it opens (D-2).
  'fail-fast-at-first-message': 'D-2',
  // Idempotency keys remembered per token (C-4).
  'keys-per-token': 'C-4',
};

const PENDING = 1;
const CONFIRMED = 2;
const SHIPPED = 3;
const DELIVERED = 4;
const CANCELLED = 5;
const UNSPECIFIED = 0;
const TERMINAL = new Set([DELIVERED, CANCELLED]);
const CONFIRM = 1;
const SHIP = 2;
const DELIVER = 3;
const CANCEL = 4;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const READ_METHODS = new Set(['GetOrder', 'WatchOrderStatus', 'SubmitLineItems']);

function parseArgs(argv) {
  const args = {
    failFastMs: 0,
    tokens: new Map(),
    transient: null,
    variant: null,
    maxConnectionAgeMs: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--fail-fast-ms') args.failFastMs = Number(value);
    else if (flag === '--token') {
      const at = value.indexOf('=');
      args.tokens.set(value.slice(0, at), value.slice(at + 1));
    } else if (flag === '--transient-header') args.transient = value;
    else if (flag === '--max-connection-age-ms') args.maxConnectionAgeMs = Number(value);
    else if (flag === '--variant') {
      if (!(value in VARIANTS)) throw new Error(`unknown variant ${value}`);
      args.variant = value;
    } else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const variant = (name) => args.variant === name;

function transition(action, status) {
  if (variant('cancel-from-shipped') && action === CANCEL && status === SHIPPED) return CANCELLED;
  const table = {
    [`${CONFIRM}:${PENDING}`]: CONFIRMED,
    [`${SHIP}:${CONFIRMED}`]: SHIPPED,
    [`${DELIVER}:${SHIPPED}`]: DELIVERED,
    [`${CANCEL}:${PENDING}`]: CANCELLED,
    [`${CANCEL}:${CONFIRMED}`]: CANCELLED,
  };
  return Object.hasOwn(table, `${action}:${status}`) ? table[`${action}:${status}`] : undefined;
}

function idLength(value) {
  return variant('utf16-lengths') ? value.length : Buffer.byteLength(value, 'utf8');
}

function badId(value) {
  const n = idLength(value);
  return n === 0 || n > 128;
}

class Failure extends Error {
  constructor(code, message, details = []) {
    super(message);
    this.status = { code, details: message, metadata: new grpc.Metadata() };
    this.status.metadata.set('grpc-status-details-bin', encodeStatus(code, message, details));
  }
}

function invalid(violations) {
  return new Failure(
    grpc.status.INVALID_ARGUMENT,
    `invalid request: ${violations.map(([f]) => f).join(', ')}`,
    [{ badRequest: violations }],
  );
}

function resource(orderId, description) {
  return { resourceInfo: { type: 'orders.v1.Order', name: orderId, description } };
}

function itemViolations(i, item) {
  const out = [];
  if (badId(item.product_id)) out.push([`items[${i}].product_id`, 'must be 1 to 128 bytes']);
  if (item.quantity < 1) out.push([`items[${i}].quantity`, 'must be at least 1']);
  if (BigInt(item.price_cents) < 0n) out.push([`items[${i}].price_cents`, 'must not be negative']);
  return out;
}

// Nanoseconds since the epoch, strictly after `after` (a Timestamp).
function now(after) {
  let ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (after) {
    const prev = BigInt(after.seconds) * 1_000_000_000n + BigInt(after.nanos);
    if (ns <= prev) ns = prev + 1n;
  }
  return { seconds: String(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

const store = {
  orders: variant('object-store') ? {} : new Map(),
  keys: new Map(),
  watchers: new Map(),
  next: 1,
  get(id) {
    return this.orders instanceof Map ? this.orders.get(id) : this.orders[id];
  },
  put(order) {
    if (this.orders instanceof Map) this.orders.set(order.order_id, order);
    else this.orders[order.order_id] = order;
  },
};

function first(metadata, name) {
  const values = metadata.get(name);
  return values.length ? String(values[0]) : undefined;
}

// Auth, then fail-fast (D-2's order); validation comes after.
function preflight(call, method) {
  const metadata = call.metadata;
  let token;
  if (args.tokens.size) {
    const value = first(metadata, 'authorization') ?? '';
    let scheme;
    if (variant('split-bearer')) [scheme, token] = value.split(' ');
    else {
      const m = /^([^ ]+) ([^ ]+)$/.exec(value);
      [scheme, token] = m ? [m[1], m[2]] : [];
    }
    const permission =
      scheme?.toLowerCase() === 'bearer' && args.tokens.has(token) ? args.tokens.get(token) : null;
    if (permission === null) {
      throw new Failure(grpc.status.UNAUTHENTICATED, 'missing or unknown credentials');
    }
    const writes = !READ_METHODS.has(method);
    if (permission !== 'rw' && (permission === 'write') !== writes) {
      throw new Failure(grpc.status.PERMISSION_DENIED, `the token may not call ${method}`);
    }
  }
  // A Date or milliseconds since the epoch (Infinity without a deadline).
  const remaining = Number(call.getDeadline()) - Date.now();
  if (args.failFastMs && remaining < args.failFastMs) {
    throw new Failure(grpc.status.DEADLINE_EXCEEDED, 'insufficient time remaining');
  }
  if (args.transient && first(metadata, args.transient) === '1') {
    throw new Failure(grpc.status.UNAVAILABLE, 'try again shortly', [
      { retryInfo: { seconds: 0, nanos: 50_000_000 } },
    ]);
  }
  return { metadata, token };
}

// The call's answer, or its failure as a status (anything else is a bug,
// answered INTERNAL without its text).
function settle(callback, body) {
  try {
    callback(null, body());
  } catch (e) {
    callback(toStatus(e));
  }
}

function toStatus(e) {
  if (e instanceof Failure) return e.status;
  console.error(e);
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

function validKey(key) {
  if (key.length < 1 || key.length > 128) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function createOrder(call, callback) {
  settle(callback, () => {
    const { metadata, token } = preflight(call, 'CreateOrder');
    const request = call.request;
    const violations = [];
    if (badId(request.customer_id)) violations.push(['customer_id', 'must be 1 to 128 bytes']);
    const n = request.items.length;
    if (n === 0) violations.push(['items', 'at least one item is required']);
    else if (n > 1000) violations.push(['items', 'at most 1000 items']);
    let total = 0n;
    request.items.forEach((item, i) => {
      violations.push(...itemViolations(i, item));
      total += BigInt(item.quantity) * BigInt(item.price_cents);
    });
    if (total > INT64_MAX || total < INT64_MIN) violations.push(['items', 'order total exceeds int64']);
    const key = first(metadata, 'idempotency-key');
    if (key !== undefined && !validKey(key)) {
      violations.push(['idempotency-key', 'must be 1 to 128 visible ASCII characters']);
    }
    if (violations.length) throw invalid(violations);
    const storedKey = variant('keys-per-token') && key !== undefined ? `${token}\u0000${key}` : key;
    // The decoded request with every default, in field order: equal
    // messages give equal strings.
    const encoded = JSON.stringify(request);
    if (storedKey !== undefined && store.keys.has(storedKey)) {
      const [earlier, response] = store.keys.get(storedKey);
      if (earlier === encoded) return response;
      throw new Failure(
        grpc.status.ALREADY_EXISTS,
        `idempotency-key was used for another request (order ${response.order_id})`,
        [resource(response.order_id, 'the order created under this key')],
      );
    }
    const orderId = `ord-${String(store.next++).padStart(6, '0')}`;
    const created = now();
    const customer = variant('trims-strings') ? request.customer_id.trim() : request.customer_id;
    store.put({
      order_id: orderId,
      customer_id: customer,
      items: request.items,
      status: PENDING,
      created_at: created,
      updated_at: created,
    });
    const response = { order_id: orderId, created_at: created };
    if (storedKey !== undefined) store.keys.set(storedKey, [encoded, response]);
    return response;
  });
}

function checkedOrder(orderId) {
  if (badId(orderId)) throw invalid([['order_id', 'must be 1 to 128 bytes']]);
  const order = store.get(orderId);
  if (order !== undefined) return order;
  const named = variant('uri-encoded-message') ? encodeURIComponent(orderId) : orderId;
  throw new Failure(grpc.status.NOT_FOUND, `order ${named} not found`, [
    resource(orderId, 'no such order'),
  ]);
}

function getOrder(call, callback) {
  settle(callback, () => {
    preflight(call, 'GetOrder');
    const order = checkedOrder(call.request.order_id);
    return order;
  });
}

function watchOrderStatus(call) {
  let order;
  try {
    preflight(call, 'WatchOrderStatus');
    order = checkedOrder(call.request.order_id);
  } catch (e) {
    call.emit('error', toStatus(e));
    return;
  }
  const id = order.order_id;
  call.write({
    order_id: id,
    status: order.status,
    previous_status: UNSPECIFIED,
    updated_at: order.updated_at,
  });
  if (TERMINAL.has(order.status)) {
    call.end();
    return;
  }
  const watcher = (update) => {
    call.write(update);
    if (TERMINAL.has(update.status)) {
      leave();
      call.end();
    }
  };
  const leave = () => store.watchers.get(id)?.delete(watcher);
  if (!store.watchers.has(id)) store.watchers.set(id, new Set());
  store.watchers.get(id).add(watcher);
  call.on('cancelled', leave);
}

function submitLineItems(call, callback) {
  let done = false;
  const finish = (error, value) => {
    if (!done) {
      done = true;
      callback(error, value);
    }
  };
  const opening = () => {
    try {
      preflight(call, 'SubmitLineItems');
      return true;
    } catch (e) {
      finish(toStatus(e));
      return false;
    }
  };
  let opened = variant('fail-fast-at-first-message') ? false : opening();
  if (!opened && !variant('fail-fast-at-first-message')) return;
  let count = 0;
  let total = 0n;
  call.on('data', (item) => {
    if (done) return;
    if (!opened && !(opened = opening())) return;
    try {
      const violations = itemViolations(count, item);
      if (violations.length) throw invalid(violations);
      total += BigInt(item.quantity) * BigInt(item.price_cents);
      if (total > INT64_MAX) throw invalid([['items', 'order total exceeds int64']]);
      count += 1;
    } catch (e) {
      finish(toStatus(e));
    }
  });
  call.on('end', () => {
    if (!opened && !(opened = opening())) return;
    finish(null, { item_count: count, total_cents: String(total) });
  });
}

function act(action) {
  const orderId = action.order_id;
  const failed = (reason, words, status) => ({
    order_id: orderId,
    success: false,
    error: `${reason}: ${words}`,
    status,
  });
  const order = badId(orderId) ? undefined : store.get(orderId);
  if (badId(orderId)) return failed('INVALID_ARGUMENT', 'order_id must be 1 to 128 bytes', UNSPECIFIED);
  if (![CONFIRM, SHIP, DELIVER, CANCEL].includes(action.action)) {
    return failed('INVALID_ARGUMENT', 'unknown or unspecified action', order?.status ?? UNSPECIFIED);
  }
  if (order === undefined) return failed('NOT_FOUND', `order ${orderId} not found`, UNSPECIFIED);
  const target = transition(action.action, order.status);
  if (target === undefined) return failed('FAILED_PRECONDITION', 'transition not allowed', order.status);
  const previous = order.status;
  order.status = target;
  order.updated_at = now(order.updated_at);
  const update = { order_id: orderId, status: target, previous_status: previous, updated_at: order.updated_at };
  for (const watcher of [...(store.watchers.get(orderId) ?? [])]) watcher(update);
  return { order_id: orderId, success: true, status: target, error: '' };
}

function processOrders(call) {
  let failedEarly = false;
  const opening = () => {
    try {
      preflight(call, 'ProcessOrders');
      return true;
    } catch (e) {
      failedEarly = true;
      call.emit('error', toStatus(e));
      return false;
    }
  };
  let opened = variant('fail-fast-at-first-message') ? false : opening();
  if (failedEarly) return;
  call.on('data', (action) => {
    if (failedEarly) return;
    if (!opened && !(opened = opening())) return;
    call.write(act(action));
  });
  call.on('end', () => {
    if (failedEarly) return;
    if (!opened && !(opened = opening())) return;
    call.end();
  });
}

function main() {
  const includeDirs = [path.join(__dirname, '..', '..', '..', 'proto')];
  const options = { keepCase: true, longs: String, enums: Number, defaults: true, includeDirs };
  const definition = protoLoader.loadSync(['orders/v1/orders.proto', healthProto], options);
  const orders = grpc.loadPackageDefinition(definition).orders.v1;
  // A connection's age bounded (how servers behind an L4 balancer spread
  // their clients): GOAWAY at that age, its calls given 60 s to finish.
  const serverOptions =
    args.maxConnectionAgeMs === null
      ? {}
      : {
          'grpc.max_connection_age_ms': args.maxConnectionAgeMs,
          'grpc.max_connection_age_grace_ms': 60000,
        };
  const server = new grpc.Server(serverOptions);
  server.addService(orders.OrderService.service, {
    CreateOrder: createOrder,
    GetOrder: getOrder,
    WatchOrderStatus: watchOrderStatus,
    SubmitLineItems: submitLineItems,
    ProcessOrders: processOrders,
  });
  new HealthImplementation({ '': 'SERVING', 'orders.v1.OrderService': 'SERVING' }).addToServer(
    server,
  );
  new ReflectionService(definition).addToServer(server);
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) {
      console.error(error.message);
      process.exit(1);
    }
    console.log(`listening on 127.0.0.1:${port}`);
  });
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main();
