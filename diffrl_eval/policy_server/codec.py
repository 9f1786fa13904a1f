"""Messages of the policy-server protocol: msgpack with numpy arrays as tagged maps.

The layout is openpi's ``msgpack_numpy``, so either side may be openpi's own code:

* an array (any shape) is the map ``{b"__ndarray__": True, b"data": <raw bytes, C order>,
  b"dtype": <numpy dtype string, e.g. "<f4">, b"shape": [d0, d1, ...]}``;
* a numpy scalar is ``{b"__npgeneric__": True, b"data": <the value>, b"dtype": ...}``;
* everything else (maps, lists, strings, numbers) is plain msgpack.

Nothing is ever pickled. Only booleans, integers, floats and fixed-width strings cross the
wire: object, void and complex arrays are refused when encoding, and a decoded array must
be one of those kinds with exactly as many bytes as its shape and dtype need, so a hostile
peer cannot make this side build arbitrary objects from raw bytes.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

NDARRAY_TAG = b"__ndarray__"
NPGENERIC_TAG = b"__npgeneric__"
# bool, signed and unsigned integers, floats, byte strings and unicode strings
ALLOWED_KINDS = frozenset("biufSU")


class MessageError(ValueError):
    """A message that is not a valid protocol message (the text says why)."""


def _check_kind(dtype: np.dtype) -> None:
    if dtype.kind not in ALLOWED_KINDS or dtype.hasobject:
        raise MessageError(f"arrays of dtype {dtype} cannot cross the wire (only booleans, "
                           "integers, floats and fixed-width strings)")


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        _check_kind(value.dtype)
        return {NDARRAY_TAG: True, b"data": np.ascontiguousarray(value).tobytes(),
                b"dtype": value.dtype.str, b"shape": list(value.shape)}
    if isinstance(value, np.generic):
        _check_kind(value.dtype)
        return {NPGENERIC_TAG: True, b"data": value.item(), b"dtype": value.dtype.str}
    raise TypeError(f"cannot encode a {type(value).__name__} in a policy-server message")


def _dtype(text: Any) -> np.dtype:
    if not isinstance(text, str):
        raise MessageError(f"array dtype must be a string, got {type(text).__name__}")
    try:
        dtype = np.dtype(text)
    except TypeError as exc:
        raise MessageError(f"unknown array dtype {text!r}") from exc
    _check_kind(dtype)
    return dtype


def _decode(obj: dict) -> Any:
    if NDARRAY_TAG in obj:
        dtype = _dtype(obj.get(b"dtype"))
        data, shape = obj.get(b"data"), obj.get(b"shape")
        if not isinstance(data, bytes) or not isinstance(shape, list | tuple) \
                or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise MessageError("array map needs bytes 'data' and a list of sizes 'shape'")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(data) != expected:
            raise MessageError(f"array of shape {tuple(shape)} and dtype {dtype} needs "
                               f"{expected} bytes, the message holds {len(data)}")
        # a writable copy: the model may work on its inputs in place
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if NPGENERIC_TAG in obj:
        dtype = _dtype(obj.get(b"dtype"))
        try:
            return dtype.type(obj.get(b"data"))
        except (TypeError, ValueError) as exc:
            raise MessageError(f"bad numpy scalar of dtype {dtype}") from exc
    return obj


def packb(message: Any) -> bytes:
    """``message`` (maps, lists, scalars, numpy arrays) as msgpack bytes."""
    try:
        return msgpack.packb(message, default=_encode, use_bin_type=True)
    except TypeError as exc:
        raise MessageError(str(exc)) from exc


def unpackb(data: bytes) -> Any:
    """The message of msgpack bytes ``data`` (arrays decoded); :class:`MessageError` if the
    bytes are not a valid message."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MessageError(f"expected a binary frame, got {type(data).__name__}")
    try:
        return msgpack.unpackb(data, object_hook=_decode, raw=False)
    except MessageError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise MessageError(f"not a msgpack message ({exc})") from exc
