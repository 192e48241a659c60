"""Regenerate ``oip_pb2.py`` / ``oip_pb2.pyi`` from ``oip.proto`` (a development step).

The generated modules are committed, so neither the image nor a fresh clone needs grpcio-tools to
serve. Run from anywhere after editing the proto::

    .venv/bin/python -m service.grpc.regenerate

grpcio-tools comes with the ``dev`` extra. Its protoc stamps the protobuf version it belongs to
into the module, and the protobuf runtime refuses modules from a newer major version: generate
with a grpcio-tools whose protobuf major is the one pyproject.toml allows (6 today).
tests/service/grpc/test_stubs.py fails when the committed module no longer matches the proto.
Only message classes are generated: service.grpc.server registers its handlers itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = Path("service/grpc/oip.proto")


def protoc(out: Path) -> int:
    """Compile the proto into ``out`` (a folder standing for the repository root)."""
    from grpc_tools import protoc as grpc_protoc

    include = Path(grpc_protoc.__file__).parent / "_proto"
    arguments = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        str(ROOT / PROTO),
    ]
    code: int = grpc_protoc.main(arguments)
    return code


def main() -> int:
    code = protoc(ROOT)
    if code != 0:
        print(f"regenerate: protoc failed with exit code {code}", file=sys.stderr)
        return 1
    print(f"regenerate: wrote {PROTO.with_name('oip_pb2.py')} and oip_pb2.pyi")
    return 0


if __name__ == "__main__":
    sys.exit(main())
