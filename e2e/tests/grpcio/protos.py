"""Generates the Python messages and stubs of the crate's protos (with
grpcio-tools' protoc) into a folder under the system's temporary folder
and puts it on sys.path; shared by the grpc-python programs beside it,
with the step check they print their progress with.

The folder is named after what it is made from (the protos' text, the ones
asked for, grpcio-tools' version), so every program that asks for the same
protos reuses one folder, and a program killed by its test leaves nothing
behind it: the folder is made once per change of the protos, not once per
program."""

import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile

from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "..", "proto")


def generate(*protos):
    """Compiles each proto (a path under proto/) and makes it importable."""
    out = os.path.join(tempfile.gettempdir(), f"orders-grpcio-{fingerprint(protos)}")
    if not os.path.isdir(out):
        # Written aside and renamed into place, so a program never imports
        # from a folder another one is still writing.
        work = tempfile.mkdtemp(prefix="orders-grpcio-partial-")
        try:
            compile_into(work, protos)
            os.rename(work, out)
        except OSError:
            if not os.path.isdir(out):
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    sys.path.insert(0, out)


def fingerprint(protos):
    """What the generated code depends on: every proto's text, the protos
    asked for, and the generator's version."""
    digest = hashlib.sha256(importlib.metadata.version("grpcio-tools").encode())
    digest.update(repr(sorted(protos)).encode())
    for folder, _, files in sorted(os.walk(PROTO_ROOT)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, PROTO_ROOT).encode())
            with open(path, "rb") as text:
                digest.update(text.read())
    return digest.hexdigest()[:16]


def compile_into(out, protos):
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


def check(condition, what):
    """One step of a program: raises unless `condition`, else prints "ok: what"."""
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)
