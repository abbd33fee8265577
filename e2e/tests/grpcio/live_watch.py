"""A grpc-python (grpcio) test of a consumer watching an order, driven live
through `orders-testkit serve --admin`:

    python3 live_watch.py HOST:PORT

It asks the admin service to drive WatchOrderStatus live, opens a watch
with grpcio, pushes PENDING, checks that nothing more arrives until it
pushes SHIPPED, then pushes SHIPPED and DELIVERED, ends the stream, and
drives a SubmitLineItems call whose items it reads before answering.
Prints one "ok: ..." line per step and "all steps passed" at the end; any
surprise raises (exit 1).
"""

import json
import queue
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import protos  # noqa: E402
from protos import check  # noqa: E402

protos.generate("orders/v1/orders.proto", "orders_testkit/admin/v1/admin.proto")

from orders.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402
from orders_testkit.admin.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402


def open_call(admin, rpc):
    """The id of the open live call of `rpc` (bounded wait: 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        calls = admin.ListLive(admin_pb2.ListLiveRequest(), timeout=10).calls
        found = [c for c in calls if c.rpc == rpc]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no live {rpc} call was listed within 10 s")


def update(previous, status):
    return json.dumps({"orderId": "o-live", "previousStatus": previous, "status": status})


def main(target):
    channel = grpc.insecure_channel(target)
    admin = admin_pb2_grpc.AdminStub(channel)
    orders = orders_pb2_grpc.OrderServiceStub(channel)

    driving = admin.DriveLive(admin_pb2.DriveLiveRequest(rpc="WatchOrderStatus"), timeout=10)
    check(driving.changed, "DriveLive: WatchOrderStatus is driven from here")

    seen = queue.Queue()

    def watch():
        try:
            for u in orders.WatchOrderStatus(orders_pb2.WatchOrderStatusRequest(order_id="o-live"), timeout=60):
                seen.put(orders_pb2.OrderStatus.Name(u.status))
            seen.put("end OK")
        except grpc.RpcError as e:
            seen.put(f"end {e.code().name}")

    threading.Thread(target=watch, daemon=True).start()
    call = open_call(admin, "WatchOrderStatus")
    check(json.loads(call.request_json) == {"orderId": "o-live"}, f"ListLive shows the watch (call {call.id})")

    admin.SendLive(admin_pb2.SendLiveRequest(id=call.id, message_json=update("ORDER_STATUS_UNSPECIFIED", "ORDER_STATUS_PENDING")), timeout=10)
    check(seen.get(timeout=10) == "ORDER_STATUS_PENDING", "the client sees PENDING once it is pushed")
    try:
        early = seen.get(timeout=0.5)
        raise AssertionError(f"the client saw {early} before the test pushed anything")
    except queue.Empty:
        check(True, "nothing reaches the client until the test pushes SHIPPED")
    admin.SendLive(admin_pb2.SendLiveRequest(id=call.id, message_json=update("ORDER_STATUS_PENDING", "ORDER_STATUS_SHIPPED")), timeout=10)
    check(seen.get(timeout=10) == "ORDER_STATUS_SHIPPED", "the client sees SHIPPED when the test pushes it")
    admin.SendLive(admin_pb2.SendLiveRequest(id=call.id, message_json=update("ORDER_STATUS_SHIPPED", "ORDER_STATUS_DELIVERED")), timeout=10)
    admin.EndLive(admin_pb2.EndLiveRequest(id=call.id, status_json='{"code": "OK"}'), timeout=10)
    check(
        [seen.get(timeout=10), seen.get(timeout=10)] == ["ORDER_STATUS_DELIVERED", "end OK"],
        "DELIVERED, then the stream ends OK when the test ends it",
    )

    # A client stream: the test reads the items, then answers.
    admin.DriveLive(admin_pb2.DriveLiveRequest(rpc="SubmitLineItems"), timeout=10)
    answer = {}

    def submit():
        items = [orders_pb2.LineItem(product_id=p, quantity=2, price_cents=150) for p in ("a", "b")]
        answer["response"] = orders.SubmitLineItems(iter(items), timeout=60)

    sender = threading.Thread(target=submit, daemon=True)
    sender.start()
    call = open_call(admin, "SubmitLineItems")
    deadline = time.monotonic() + 10
    while not call.half_closed and time.monotonic() < deadline:
        time.sleep(0.02)
        call = open_call(admin, "SubmitLineItems")
    check(
        call.half_closed and [json.loads(m)["productId"] for m in call.received_json] == ["a", "b"],
        "ListLive shows both items and the client's half-close",
    )
    admin.SendLive(admin_pb2.SendLiveRequest(id=call.id, message_json='{"itemCount": 2, "totalCents": 600}'), timeout=10)
    sender.join(timeout=10)
    check(answer["response"].total_cents == 600, "the client gets the answer the test sent")

    verdict = admin.Verify(admin_pb2.VerifyRequest(), timeout=10)
    check(verdict.ok, "Verify: what the test sent kept the contract")
    print("all steps passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
