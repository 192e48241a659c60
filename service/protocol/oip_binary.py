"""Raw tensor bytes of the Open Inference Protocol v2: the HTTP binary data extension and gRPC.

Both carry a tensor as its elements in row-major order, little-endian, without padding, in the
element's native size; BOOL is one byte (0 or 1); a BYTES element is a 4-byte little-endian length
followed by that many bytes. Over HTTP (Triton's "binary tensor data" extension, also KServe's) the
body is a JSON header of ``Inference-Header-Content-Length`` bytes followed by the tensors whose
``parameters.binary_data_size`` says how many bytes each takes, in the order of ``inputs``; over
gRPC each tensor is one entry of ``raw_input_contents``.

Pure functions on bytes and numpy arrays. Every size is checked against the declared shape with
integer arithmetic before anything is allocated, so a request declaring a huge tensor is refused
at once; errors are :class:`service.errors.ApiError` (400) naming the input.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from service.errors import bad_request

HEADER_LENGTH = "inference-header-content-length"
EXTENSION = "binary_tensor_data"
BINARY_DATA_SIZE = "binary_data_size"
BINARY_DATA = "binary_data"
BINARY_DATA_OUTPUT = "binary_data_output"
OCTET_STREAM = "application/octet-stream"

BYTES = "BYTES"
BF16 = "BF16"
# Fixed-size datatypes and their little-endian numpy types. BOOL is read as uint8 so that a byte
# other than 0 or 1 is caught rather than silently taken as True.
FIXED: dict[str, np.dtype[np.generic]] = {
    "BOOL": np.dtype("u1"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    BF16: np.dtype("<u2"),  # the upper half of a float32: widened in decode()
}
DATATYPES = frozenset(FIXED) | {BYTES}
_LENGTH = struct.Struct("<I")


def element_count(shape: Sequence[int]) -> int:
    """Number of elements of a tensor of ``shape`` (exact; Python integers do not overflow)."""
    return math.prod(shape)


def decode(
    raw: bytes | memoryview, datatype: str, shape: Sequence[int], label: str
) -> npt.NDArray[np.float64] | list[str]:
    """The flat elements of one tensor: float64 values, or text for BYTES.

    ``label`` names the tensor in messages (``input 'x'``). BYTES elements are returned as text
    (UTF-8) so that the caller parses numbers from them exactly as from JSON strings.
    """
    count = element_count(shape)
    if datatype == BYTES:
        return decode_bytes(raw, count, label)
    dtype = FIXED.get(datatype)
    if dtype is None:
        raise bad_request(f"{label}: datatype {datatype[:20]!r} has no binary form")
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise bad_request(
            f"{label}: shape {list(shape)[:8]} of {datatype} takes {expected} bytes, got {len(raw)}"
        )
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and count and int(values.max()) > 1:
        position = int(np.argmax(values > 1))
        raise bad_request(
            f"{label}: BOOL element {position} is byte {int(values[position])}; "
            "BOOL elements are 0 or 1"
        )
    if datatype == BF16:
        return (values.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return values.astype(np.float64)


def decode_bytes(raw: bytes | memoryview, count: int, label: str) -> list[str]:
    """``count`` length-prefixed BYTES elements that fill ``raw`` exactly, as UTF-8 text."""
    size = len(raw)
    if count * _LENGTH.size > size:
        raise bad_request(
            f"{label}: {count} BYTES elements need at least {count * _LENGTH.size} bytes "
            f"(a 4-byte length each), got {size}"
        )
    view = memoryview(raw)
    items: list[str] = []
    offset = 0
    for position in range(count):
        if offset + _LENGTH.size > size:
            raise bad_request(f"{label}: BYTES element {position} has no length (data ends)")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > size:
            raise bad_request(
                f"{label}: BYTES element {position} declares {length} bytes, "
                f"only {size - offset} remain"
            )
        try:
            items.append(str(view[offset : offset + length], "utf-8"))
        except UnicodeDecodeError:
            raise bad_request(f"{label}: BYTES element {position} is not UTF-8 text") from None
        offset += length
    if offset != size:
        raise bad_request(f"{label}: {size - offset} bytes follow the last of {count} elements")
    return items


def encode(values: npt.NDArray[np.generic], datatype: str) -> bytes:
    """The raw bytes of a fixed-size tensor (row-major, little-endian)."""
    if datatype == "BOOL":
        return np.ascontiguousarray(values, dtype=np.bool_).tobytes()
    return np.ascontiguousarray(values, dtype=FIXED[datatype]).tobytes()


def encode_bytes(items: Iterable[bytes | str]) -> bytes:
    """BYTES elements, each prefixed with its 4-byte little-endian length."""
    parts: list[bytes] = []
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def split_body(body: bytes, header_length: str) -> tuple[bytes, memoryview]:
    """The JSON header and the binary part of a request with ``Inference-Header-Content-Length``."""
    if not header_length.isdigit() or len(header_length) > 19:
        raise bad_request(
            f"the {HEADER_LENGTH} header must be a byte count, got {header_length[:20]!r}"
        )
    length = int(header_length)
    if length > len(body):
        raise bad_request(
            f"the {HEADER_LENGTH} header says {length} bytes of JSON but the body has "
            f"only {len(body)}"
        )
    view = memoryview(body)
    return body[:length], view[length:]


class BinaryInputs:
    """The binary part of a request, handed out to the inputs in order."""

    def __init__(self, data: memoryview) -> None:
        self._data = data
        self._offset = 0

    def take(self, size: object, label: str) -> memoryview:
        """The next ``size`` bytes, for the input named by ``label``."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise bad_request(f"{label}: parameters.{BINARY_DATA_SIZE} must be a byte count >= 0")
        remaining = len(self._data) - self._offset
        if size > remaining:
            raise bad_request(
                f"{label}: {BINARY_DATA_SIZE} is {size} but only {remaining} bytes of binary "
                "data remain in the body"
            )
        start = self._offset
        self._offset += size
        return self._data[start : self._offset]

    def finish(self) -> None:
        """Every byte must belong to an input."""
        extra = len(self._data) - self._offset
        if extra:
            raise bad_request(
                f"the body has {extra} bytes after the binary data of the inputs "
                f"(the {BINARY_DATA_SIZE} values add up to {self._offset})"
            )


def response_body(header: bytes, chunks: Sequence[bytes]) -> bytes:
    """JSON header followed by the binary outputs; its length goes in the response header."""
    return b"".join((header, *chunks))
