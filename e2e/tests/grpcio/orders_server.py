"""A correct orders.v1.OrderService written with grpc-python (grpcio), the
contract of CONTRACT.md on another stack: response headers go out with the
first message, deadlines are enforced by gRPC core, errors carry rich
details through grpcio-status.

tests/grpcio_server.rs runs the contract suite against it: a correct
server that is not tonic must pass with zero false failures.

    python3 orders_server.py --port 0 [--fail-fast-ms N] [--token T=rw|read|write]...
                             [--transient-header NAME] [--leak-internals]

prints "listening on 127.0.0.1:PORT" once it serves; stops on SIGTERM or
when stdin closes.
"""

import argparse
import itertools
import queue
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import protos  # noqa: E402

protos.generate("orders/v1/orders.proto")

from google.protobuf import any_pb2, duration_pb2, timestamp_pb2  # noqa: E402
from google.rpc import code_pb2, error_details_pb2, status_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402
from grpc_status import rpc_status  # noqa: E402
from orders.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402

PENDING = orders_pb2.ORDER_STATUS_PENDING
CONFIRMED = orders_pb2.ORDER_STATUS_CONFIRMED
SHIPPED = orders_pb2.ORDER_STATUS_SHIPPED
DELIVERED = orders_pb2.ORDER_STATUS_DELIVERED
CANCELLED = orders_pb2.ORDER_STATUS_CANCELLED
UNSPECIFIED = orders_pb2.ORDER_STATUS_UNSPECIFIED
TERMINAL = {DELIVERED, CANCELLED}
TRANSITIONS = {
    (orders_pb2.ORDER_ACTION_TYPE_CONFIRM, PENDING): CONFIRMED,
    (orders_pb2.ORDER_ACTION_TYPE_SHIP, CONFIRMED): SHIPPED,
    (orders_pb2.ORDER_ACTION_TYPE_DELIVER, SHIPPED): DELIVERED,
    (orders_pb2.ORDER_ACTION_TYPE_CANCEL, PENDING): CANCELLED,
    (orders_pb2.ORDER_ACTION_TYPE_CANCEL, CONFIRMED): CANCELLED,
}
KNOWN_ACTIONS = {1, 2, 3, 4}
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
READ_METHODS = {"GetOrder", "WatchOrderStatus", "SubmitLineItems"}


def bad_id(value):
    return len(value.encode("utf-8")) == 0 or len(value.encode("utf-8")) > 128


def abort(context, code, message, details=()):
    status = status_pb2.Status(code=code.value[0], message=message)
    for d in details:
        any_msg = any_pb2.Any()
        any_msg.Pack(d)
        status.details.append(any_msg)
    context.abort_with_status(rpc_status.to_status(status))


def invalid(context, violations):
    bad = error_details_pb2.BadRequest()
    for field, description in violations:
        bad.field_violations.add(field=field, description=description)
    abort(
        context,
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid request: " + ", ".join(f for f, _ in violations),
        [bad],
    )


def resource(order_id, description):
    return error_details_pb2.ResourceInfo(
        resource_type="orders.v1.Order", resource_name=order_id, description=description
    )


def item_violations(i, item):
    out = []
    if bad_id(item.product_id):
        out.append((f"items[{i}].product_id", "must be 1 to 128 bytes"))
    if item.quantity < 1:
        out.append((f"items[{i}].quantity", "must be at least 1"))
    if item.price_cents < 0:
        out.append((f"items[{i}].price_cents", "must not be negative"))
    return out


def now_timestamp(after=None):
    ns = time.time_ns()
    if after is not None:
        prev = after.seconds * 1_000_000_000 + after.nanos
        ns = max(ns, prev + 1)
    return timestamp_pb2.Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}
        self.keys = {}
        self.watchers = {}
        self.ids = itertools.count(1)


class Orders(orders_pb2_grpc.OrderServiceServicer):
    def __init__(self, store, fail_fast, tokens, transient, leak=False):
        self.leak = leak
        self.store = store
        self.fail_fast = fail_fast
        self.tokens = tokens
        self.transient = transient

    # Auth, then fail-fast (D-2's order); validation comes after.
    def preflight(self, context, method):
        metadata = dict(context.invocation_metadata())
        if self.tokens:
            value = metadata.get("authorization", "")
            scheme, _, token = value.partition(" ")
            permission = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if permission is None:
                abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or unknown credentials")
            writes = method not in READ_METHODS
            if permission != "rw" and (permission == "write") != writes:
                abort(context, grpc.StatusCode.PERMISSION_DENIED, f"the token may not call {method}")
        remaining = context.time_remaining()
        if self.fail_fast and remaining is not None and remaining < self.fail_fast:
            abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, "insufficient time remaining")
        if self.transient and metadata.get(self.transient) == "1":
            retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=50_000_000))
            abort(context, grpc.StatusCode.UNAVAILABLE, "try again shortly", [retry])
        return metadata

    def CreateOrder(self, request, context):
        metadata = self.preflight(context, "CreateOrder")
        if self.leak and any(ord(c) < 0x20 for c in request.customer_id):
            # A bug left unhandled: grpc-python answers UNKNOWN with
            # "Exception calling application: <the exception's text>".
            raise ValueError(f"unexpected control character in {request.customer_id!r}")
        violations = []
        if bad_id(request.customer_id):
            violations.append(("customer_id", "must be 1 to 128 bytes"))
        n = len(request.items)
        if n == 0:
            violations.append(("items", "at least one item is required"))
        elif n > 1000:
            violations.append(("items", "at most 1000 items"))
        total = 0
        for i, item in enumerate(request.items):
            violations.extend(item_violations(i, item))
            total += item.quantity * item.price_cents
        if total > INT64_MAX or total < INT64_MIN:
            violations.append(("items", "order total exceeds int64"))
        key = metadata.get("idempotency-key")
        if key is not None and not (
            1 <= len(key.encode("utf-8")) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in key)
        ):
            violations.append(("idempotency-key", "must be 1 to 128 visible ASCII characters"))
        if violations:
            invalid(context, violations)
        encoded = request.SerializeToString(deterministic=True)
        store = self.store
        with store.lock:
            if key is not None and key in store.keys:
                earlier, response = store.keys[key]
                if earlier == encoded:
                    return response
                abort(
                    context,
                    grpc.StatusCode.ALREADY_EXISTS,
                    f"idempotency-key was used for another request (order {response.order_id})",
                    [resource(response.order_id, "the order created under this key")],
                )
            order_id = f"ord-{next(store.ids):06d}"
            created = now_timestamp()
            store.orders[order_id] = orders_pb2.Order(
                order_id=order_id,
                customer_id=request.customer_id,
                items=request.items,
                status=PENDING,
                created_at=created,
                updated_at=created,
            )
            response = orders_pb2.CreateOrderResponse(order_id=order_id, created_at=created)
            if key is not None:
                store.keys[key] = (encoded, response)
            return response

    def checked_order(self, context, order_id):
        if bad_id(order_id):
            invalid(context, [("order_id", "must be 1 to 128 bytes")])
        with self.store.lock:
            order = self.store.orders.get(order_id)
            if order is not None:
                return orders_pb2.Order.FromString(order.SerializeToString())
        abort(
            context,
            grpc.StatusCode.NOT_FOUND,
            f"order {order_id} not found",
            [resource(order_id, "no such order")],
        )

    def GetOrder(self, request, context):
        self.preflight(context, "GetOrder")
        return self.checked_order(context, request.order_id)

    def WatchOrderStatus(self, request, context):
        self.preflight(context, "WatchOrderStatus")
        self.checked_order(context, request.order_id)
        q = queue.Queue()
        store = self.store
        with store.lock:
            order = store.orders[request.order_id]
            first = orders_pb2.OrderStatusUpdate(
                order_id=order.order_id,
                status=order.status,
                previous_status=UNSPECIFIED,
                updated_at=order.updated_at,
            )
            store.watchers.setdefault(request.order_id, []).append(q)
        try:
            yield first
            if first.status in TERMINAL:
                return
            while context.is_active():
                try:
                    update = q.get(timeout=0.05)
                except queue.Empty:
                    continue
                yield update
                if update.status in TERMINAL:
                    return
        finally:
            with store.lock:
                store.watchers[request.order_id].remove(q)

    def SubmitLineItems(self, request_iterator, context):
        self.preflight(context, "SubmitLineItems")
        count, total = 0, 0
        for i, item in enumerate(request_iterator):
            violations = item_violations(i, item)
            if violations:
                invalid(context, violations)
            total += item.quantity * item.price_cents
            if total > INT64_MAX:
                invalid(context, [("items", "order total exceeds int64")])
            count += 1
        return orders_pb2.SubmitLineItemsResponse(item_count=count, total_cents=total)

    def act(self, action):
        order_id = action.order_id

        def failed(reason, words, status):
            return orders_pb2.OrderResult(
                order_id=order_id, success=False, error=f"{reason}: {words}", status=status
            )

        store = self.store
        with store.lock:
            order = store.orders.get(order_id)
            if bad_id(order_id):
                return failed("INVALID_ARGUMENT", "order_id must be 1 to 128 bytes", UNSPECIFIED)
            if action.action not in KNOWN_ACTIONS:
                current = order.status if order is not None else UNSPECIFIED
                return failed("INVALID_ARGUMENT", "unknown or unspecified action", current)
            if order is None:
                return failed("NOT_FOUND", f"order {order_id} not found", UNSPECIFIED)
            target = TRANSITIONS.get((action.action, order.status))
            if target is None:
                return failed("FAILED_PRECONDITION", "transition not allowed", order.status)
            previous = order.status
            order.status = target
            order.updated_at.CopyFrom(now_timestamp(after=order.updated_at))
            update = orders_pb2.OrderStatusUpdate(
                order_id=order_id,
                status=target,
                previous_status=previous,
                updated_at=order.updated_at,
            )
            for q in store.watchers.get(order_id, []):
                q.put(update)
            return orders_pb2.OrderResult(order_id=order_id, success=True, status=target)

    def ProcessOrders(self, request_iterator, context):
        self.preflight(context, "ProcessOrders")
        for action in request_iterator:
            yield self.act(action)


class Health(health_pb2_grpc.HealthServicer):
    """grpc.health.v1 with fixed statuses. (grpcio-health-checking 1.85's
    servicer deadlocks the server: its Watch sends under a lock that the
    server thread needs to close another cancelled Watch.)"""

    def __init__(self, statuses):
        self.statuses = statuses

    def Check(self, request, context):
        status = self.statuses.get(request.service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service}")
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(self, request, context):
        status = self.statuses.get(
            request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        )
        yield health_pb2.HealthCheckResponse(status=status)
        # The statuses never change here: stay open until the client leaves.
        while context.is_active():
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-fast-ms", type=int, default=0)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--transient-header", default=None)
    parser.add_argument(
        "--max-connection-age-ms",
        type=int,
        default=None,
        help="GOAWAY each connection at this age (as behind an L4 balancer)",
    )
    parser.add_argument(
        "--leak-internals",
        action="store_true",
        help="a broken variant: an unhandled exception on control characters (E-6)",
    )
    args = parser.parse_args()
    tokens = {}
    for grant in args.token:
        token, _, permission = grant.partition("=")
        tokens[token] = permission
    options = [("grpc.max_concurrent_streams", 1024)]
    if args.max_connection_age_ms is not None:
        # Calls in flight get a minute to finish after the GOAWAY.
        options += [
            ("grpc.max_connection_age_ms", args.max_connection_age_ms),
            ("grpc.max_connection_age_grace_ms", 60000),
        ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=256), options=options)
    orders_pb2_grpc.add_OrderServiceServicer_to_server(
        Orders(
            Store(),
            args.fail_fast_ms / 1000.0,
            tokens,
            args.transient_header,
            leak=args.leak_internals,
        ),
        server,
    )
    serving = health_pb2.HealthCheckResponse.SERVING
    health_pb2_grpc.add_HealthServicer_to_server(
        Health({"": serving, "orders.v1.OrderService": serving}), server
    )
    reflection.enable_server_reflection(
        (
            orders_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop(grace=0)


if __name__ == "__main__":
    main()
