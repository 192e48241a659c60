"""The committed protobuf module is what protoc makes of service/grpc/oip.proto today."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2

from service.grpc import oip_pb2, regenerate


def test_committed_module_matches_the_proto(tmp_path: Path) -> None:
    from grpc_tools import protoc

    out = tmp_path / "oip.desc"
    include = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{regenerate.ROOT}",
            f"-I{include}",
            f"--descriptor_set_out={out}",
            str(regenerate.ROOT / regenerate.PROTO),
        ]
    )
    assert code == 0
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    _drop_json_names(compiled.message_type)  # a descriptor set has them, generated code not
    committed = descriptor_pb2.FileDescriptorProto.FromString(oip_pb2.DESCRIPTOR.serialized_pb)
    assert committed == compiled, "run: python -m service.grpc.regenerate"


def _drop_json_names(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _drop_json_names(message.nested_type)


def test_messages_use_the_upstream_field_numbers() -> None:
    """Spot checks of the wire contract against the OIP v2 proto's numbering."""
    request = oip_pb2.ModelInferRequest.DESCRIPTOR.fields_by_name
    assert request["raw_input_contents"].number == 7 and request["inputs"].number == 5
    response = oip_pb2.ModelInferResponse.DESCRIPTOR.fields_by_name
    assert response["raw_output_contents"].number == 6 and response["id"].number == 3
    contents = oip_pb2.InferTensorContents.DESCRIPTOR.fields_by_name
    assert contents["fp64_contents"].number == 7 and contents["bytes_contents"].number == 8
