"""A grpc-python (grpcio) client scripting `orders-testkit serve --admin`
through orders_testkit.admin.v1.Admin, as a test suite in Python would:

    python3 admin_client.py HOST:PORT

adds a stub and gets the stubbed answer from OrderService, injects a fault
and sees it, reads its own call back from ListCalls, resets, and gets a
failing Verify for an unmet expectation. Prints one "ok: ..." line per
step and "all steps passed" at the end; any surprise raises (exit 1).
"""

import json
import sys

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import protos  # noqa: E402
from protos import check  # noqa: E402

protos.generate("orders/v1/orders.proto", "orders_testkit/admin/v1/admin.proto")

from orders.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402
from orders_testkit.admin.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402


def main(target):
    channel = grpc.insecure_channel(target)
    admin = admin_pb2_grpc.AdminStub(channel)
    orders = orders_pb2_grpc.OrderServiceStub(channel)
    tag = ("x-test-id", "python-admin-1")

    # 1. A stub, and the stubbed answer.
    stub = {
        "rpc": "GetOrder",
        "name": "python-stub",
        "when": {"orderId": "o-py"},
        "respond": {"orderId": "o-py", "customerId": "c-py", "status": "ORDER_STATUS_SHIPPED"},
    }
    added = admin.AddStub(admin_pb2.AddStubRequest(stub_json=json.dumps(stub)), timeout=10)
    check(added.name == 'GetOrder "python-stub"', f"AddStub returned id {added.id} named {added.name}")
    order = orders.GetOrder(orders_pb2.GetOrderRequest(order_id="o-py"), metadata=[tag], timeout=10)
    check(
        order.customer_id == "c-py" and order.status == orders_pb2.ORDER_STATUS_SHIPPED,
        "GetOrder got the stubbed order",
    )
    listed = admin.ListStubs(admin_pb2.ListStubsRequest(), timeout=10)
    check([(s.id, s.hits) for s in listed.stubs] == [(added.id, 1)], "ListStubs counts the hit")

    # 2. A fault, seen by the next call.
    fault = {"kind": "status", "rpc": "GetOrder", "code": "UNAVAILABLE", "message": "injected from python", "first": 1}
    admin.InjectFault(admin_pb2.InjectFaultRequest(fault_json=json.dumps(fault)), timeout=10)
    try:
        orders.GetOrder(orders_pb2.GetOrderRequest(order_id="o-py"), metadata=[tag], timeout=10)
        raise AssertionError("the fault did not fire")
    except grpc.RpcError as e:
        check(
            e.code() == grpc.StatusCode.UNAVAILABLE and e.details() == "injected from python",
            "InjectFault: the next GetOrder failed UNAVAILABLE",
        )

    # 3. Our own calls, read back by their metadata.
    calls = admin.ListCalls(
        admin_pb2.ListCallsRequest(filter=admin_pb2.CallFilter(metadata=dict([tag]))), timeout=10
    ).calls
    check(len(calls) == 2, f"ListCalls found our {len(calls)} calls by metadata")
    first, second = calls
    check(
        first.method == "GetOrder"
        and json.loads(first.requests_json[0]) == {"orderId": "o-py"}
        and json.loads(first.responses_json[0])["customerId"] == "c-py"
        and first.outcome == "OK"
        and list(first.answered_by) == ['stub GetOrder "python-stub"']
        and first.metadata["x-test-id"] == "python-admin-1",
        "the first call: request, response, outcome, answerer, metadata",
    )
    check(
        second.outcome == "UNAVAILABLE" and second.message == "injected from python",
        "the second call: the fault's status",
    )
    errors = admin.ListCalls(
        admin_pb2.ListCallsRequest(filter=admin_pb2.CallFilter(method="GetOrder", outcome="ERROR")), timeout=10
    ).calls
    check([c.seq for c in errors] == [second.seq], "ListCalls filters by method and outcome")

    # 4. Reset: stubs, faults, orders, journal.
    seeded = admin.SeedOrder(admin_pb2.SeedOrderRequest(order_json=json.dumps({"orderId": "o-seed"})), timeout=10)
    check(seeded.order_id == "o-seed", "SeedOrder")
    reset = admin.Reset(admin_pb2.ResetRequest(), timeout=10)
    check(reset.stubs == 1 and reset.orders >= 1 and reset.calls >= 2, f"Reset cleared everything ({reset})")
    check(len(admin.ListStubs(admin_pb2.ListStubsRequest(), timeout=10).stubs) == 0, "no stubs after Reset")
    try:
        orders.GetOrder(orders_pb2.GetOrderRequest(order_id="o-py"), timeout=10)
        raise AssertionError("the stub survived the reset")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "after Reset the model answers: NOT_FOUND")

    # 5. An unmet expectation fails Verify.
    expecting = {
        "rpc": "CreateOrder",
        "name": "must-create",
        "respond": {"orderId": "ord-000042"},
        "expect": 1,
    }
    admin.AddStub(admin_pb2.AddStubRequest(stub_json=json.dumps(expecting)), timeout=10)
    verdict = admin.Verify(admin_pb2.VerifyRequest(), timeout=10)
    check(
        not verdict.ok
        and list(verdict.problems) == ['CreateOrder "must-create": expected exactly 1, matched 0']
        and "FAIL CreateOrder \"must-create\"" in verdict.report,
        "Verify fails for the unmet expectation",
    )

    # 6. Bad input: INVALID_ARGUMENT naming the key and line.
    try:
        admin.AddStub(admin_pb2.AddStubRequest(stub_json='{"rpc": "GetOrder",\n "respond": {"stauts": 1}}'), timeout=10)
        raise AssertionError("a bad stub was taken")
    except grpc.RpcError as e:
        check(
            e.code() == grpc.StatusCode.INVALID_ARGUMENT and "line 2: respond:" in e.details(),
            f"a bad stub is INVALID_ARGUMENT: {e.details()}",
        )
    print("all steps passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
