"""A grpc-python client with its default limits: one CreateOrder of N
invalid items, and one JSON line of what it got: {code, message,
violations, first, last} (violations from the BadRequest in
grpc-status-details-bin; -1 when there was none).

    python3 create_invalid.py 127.0.0.1:PORT N
"""

import json
import sys

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import protos  # noqa: E402

protos.generate("orders/v1/orders.proto")

from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402
from orders.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402


def main():
    address, n = sys.argv[1], int(sys.argv[2])
    items = [orders_pb2.LineItem(product_id="", quantity=0, price_cents=-1) for _ in range(n)]
    out = {"violations": -1}
    with grpc.insecure_channel(address) as channel:
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        try:
            stub.CreateOrder(orders_pb2.CreateOrderRequest(customer_id="c-1", items=items), timeout=10)
            out.update(code=0, message="OK")
        except grpc.RpcError as e:
            out.update(code=e.code().value[0], message=e.details())
            status = rpc_status.from_call(e)
            for detail in status.details if status else []:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    v = bad.field_violations
                    out.update(
                        violations=len(v),
                        first={"field": v[0].field, "description": v[0].description},
                        last={"field": v[-1].field, "description": v[-1].description},
                    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
