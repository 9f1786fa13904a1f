"""MP4 video files of camera frames, encoded the way LeRobot encodes its datasets' videos.

One file holds many episodes back to back; frame ``k`` of a file is shown at ``k / fps``
seconds, so an episode is addressed by the time span it occupies. Frames are encoded
yuv420p with a key frame every ``KEY_FRAME_INTERVAL`` frames (LeRobot's default: cheap
random access when training samples single frames), with AV1 (SVT-AV1, LeRobot's
default codec) or H.264. Both decode with PyAV and torchcodec.

Needs PyAV (``pip install av``), whose wheels bundle FFmpeg with both encoders.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from diffrl_eval.errors import UserError

# codec name on the command line -> FFmpeg encoder
VIDEO_CODECS = {"av1": "libsvtav1", "h264": "libx264"}
DEFAULT_VIDEO_CODEC = "av1"
PIXEL_FORMAT = "yuv420p"
KEY_FRAME_INTERVAL = 2
CONSTANT_RATE_FACTOR = 30


def require_pyav():
    """The ``av`` module, or a one-line error saying how to install it."""
    try:
        import av
    except ImportError as exc:
        raise UserError(
            "exporting camera images as video needs PyAV: pip install av"
        ) from exc
    return av


def check_video_codec(codec: str) -> str:
    if codec not in VIDEO_CODECS:
        raise UserError(f"unknown video codec {codec!r}; valid choices: {', '.join(VIDEO_CODECS)}")
    return codec


class VideoFileWriter:
    """Append RGB frames (T, H, W, 3) uint8 to one MP4 file; close it to finish.

    ``n_frames`` counts the frames written so far, so ``n_frames / fps`` is the time at
    which the next appended frame will be shown.
    """

    def __init__(self, path: Path, *, fps: int, height: int, width: int,
                 codec: str = DEFAULT_VIDEO_CODEC) -> None:
        av = require_pyav()
        check_video_codec(codec)
        if height % 2 or width % 2:
            raise UserError(
                f"images of {height}x{width} pixels cannot be encoded as {PIXEL_FORMAT} video: "
                "height and width must be even"
            )
        # SVT-AV1 prints its configuration banner on stderr unless told otherwise.
        os.environ.setdefault("SVT_LOG", "1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.height, self.width = height, width
        self._av = av
        self._container = av.open(str(path), "w")
        options = {"g": str(KEY_FRAME_INTERVAL), "crf": str(CONSTANT_RATE_FACTOR)}
        self._stream = self._container.add_stream(VIDEO_CODECS[codec], rate=fps, options=options)
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = PIXEL_FORMAT
        self.n_frames = 0
        self.bytes_written = 0

    def append(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(
                f"frames must be (T, {self.height}, {self.width}, 3), got {frames.shape}"
            )
        for image in np.ascontiguousarray(frames, dtype=np.uint8):
            frame = self._av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self.n_frames
            self._mux(self._stream.encode(frame))
            self.n_frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        self._mux(self._stream.encode())  # flush the frames the encoder still holds
        self._container.close()
        self._container = None

    def discard(self) -> None:
        """Close the file without flushing the encoder (the file is about to be deleted).

        Flushing an encoder that an error interrupted can block forever in SVT-AV1.
        """
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: BLE001 - the file is thrown away anyway
                pass

    def _mux(self, packets) -> None:
        for packet in packets:
            self.bytes_written += packet.size
            self._container.mux(packet)


def video_stream_info(path: Path) -> dict:
    """The ``info`` block LeRobot keeps per video feature, read back from the file."""
    av = require_pyav()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "video.height": stream.height,
            "video.width": stream.width,
            "video.codec": stream.codec_context.codec.canonical_name
            if hasattr(stream.codec_context, "codec") else stream.codec_context.name,
            "video.pix_fmt": stream.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(stream.base_rate or stream.average_rate),
            "video.channels": 3,
            "has_audio": len(container.streams.audio) > 0,
        }
    return info


def read_video_frames(path: Path) -> np.ndarray:
    """Every frame of an MP4 file, (N, H, W, 3) uint8 (for tests and checks)."""
    av = require_pyav()
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
