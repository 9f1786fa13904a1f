"""Animated GIF writing without an imaging dependency (frames -> a looping .gif file).

Colours are quantised to a fixed 6x6x6 palette and the pixel stream is written as
"uncompressed" LZW: 9-bit codes with a clear code every 254 pixels, so the decoder's
table never needs a wider code. That makes encoding a few vectorised numpy operations;
the files are larger than an optimising encoder's, which is fine for short clips.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from diffrl_eval.atomic import write_bytes_atomic

_LEVELS = 6
_CLEAR, _END = 256, 257
_RUN = 254  # pixels between clear codes: keeps every code at 9 bits


def palette() -> np.ndarray:
    """The 256-entry RGB palette, (256, 3) uint8 (216 colours used, the rest black)."""
    steps = np.round(np.linspace(0, 255, _LEVELS)).astype(np.uint8)
    r, g, b = np.meshgrid(steps, steps, steps, indexing="ij")
    colours = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    out = np.zeros((256, 3), dtype=np.uint8)
    out[: len(colours)] = colours
    return out


def quantise(frame: np.ndarray) -> np.ndarray:
    """Palette indices of an (H, W, 3) uint8 frame, (H, W) uint8."""
    levels = np.rint(frame.astype(np.float32) * ((_LEVELS - 1) / 255.0)).astype(np.uint16)
    return (levels[..., 0] * _LEVELS * _LEVELS + levels[..., 1] * _LEVELS
            + levels[..., 2]).astype(np.uint8)


def _lzw_blocks(indices: np.ndarray) -> bytes:
    pixels = indices.reshape(-1).astype(np.uint16)
    n_runs = -(-len(pixels) // _RUN)
    codes = np.full(n_runs * (_RUN + 1), -1, dtype=np.int32)
    codes[:: _RUN + 1] = _CLEAR
    body = np.ones(len(codes), dtype=bool)
    body[:: _RUN + 1] = False
    slots = np.flatnonzero(body)[: len(pixels)]
    codes[slots] = pixels
    codes = np.r_[codes[codes >= 0], _END].astype(np.uint16)
    bits = ((codes[:, None] >> np.arange(9, dtype=np.uint16)) & 1).astype(np.uint8)
    data = np.packbits(bits.reshape(-1), bitorder="little").tobytes()
    blocks = b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                      for i in range(0, len(data), 255))
    return bytes([8]) + blocks + b"\x00"


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 20, *, overwrite: bool = True) -> Path:
    """Write ``frames`` (T, H, W, 3) uint8 as a looping GIF at ``fps`` frames per second.

    The file appears complete or not at all (atomic write).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    height, width = frames.shape[1:3]
    delay = max(2, round(100 / fps))  # hundredths of a second; viewers clamp below 2
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0xF7, 0, 0)
    out += palette().tobytes()
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for frame in frames:
        out += b"\x21\xf9\x04\x00" + struct.pack("<H", delay) + b"\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        out += _lzw_blocks(quantise(frame))
    out += b"\x3b"
    return write_bytes_atomic(Path(path), bytes(out), overwrite=overwrite)
