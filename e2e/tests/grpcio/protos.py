"""Generates the Python messages and stubs of the crate's protos (with
grpcio-tools' protoc) into a temporary folder and puts it on sys.path;
shared by the grpc-python programs beside it, with the step check they
print their progress with."""

import os
import sys
import tempfile

from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "..", "proto")


def generate(*protos):
    """Compiles each proto (a path under proto/) and makes it importable."""
    out = tempfile.mkdtemp(prefix="orders-grpcio-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    for proto in protos:
        code = protoc.main(
            [
                "protoc",
                f"-I{PROTO_ROOT}",
                f"-I{include}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                os.path.join(PROTO_ROOT, proto),
            ]
        )
        if code != 0:
            sys.exit(f"protoc failed on {proto} with {code}")
    sys.path.insert(0, out)


def check(condition, what):
    """One step of a program: raises unless `condition`, else prints "ok: what"."""
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)
