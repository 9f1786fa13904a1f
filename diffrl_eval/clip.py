"""Short episode clips: camera frames (T, H, W, 3) uint8 -> GIF, animated WebP, MP4 or WebM.

Images go through Pillow (GIF with an adaptive palette, animated WebP) and video through
PyAV (H.264 in MP4, VP9 in WebM; yuv420p, so odd sizes are padded by one pixel). The
encoders return bytes, so a clip can be written to a file (atomically, by
:func:`write_clip`) or inlined in a page.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval.atomic import write_bytes_atomic
from diffrl_eval.errors import UserError

CLIP_FPS = 20  # the control rate: a clip plays in real time
WEBP_QUALITY = 70
VIDEO_CRF = 28


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` as a (T, H, W, 3) uint8 array; anything else is a ValueError."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    return frames


def _pillow_animation(frames: np.ndarray, fps: int, image_format: str, **options) -> bytes:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in check_frames(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=image_format, save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0, **options)
    return buffer.getvalue()


def encode_gif(frames: np.ndarray, fps: int = 20) -> bytes:
    """A looping GIF (Pillow; per-frame adaptive palette)."""
    return _pillow_animation(frames, fps, "GIF", optimize=False)


def encode_webp(frames: np.ndarray, fps: int = 20, quality: int = WEBP_QUALITY) -> bytes:
    """A looping, lossy animated WebP (Pillow): what a web page shows as an ``<img>``."""
    return _pillow_animation(frames, fps, "WEBP", quality=quality, method=4)


def _encode_video(frames: np.ndarray, fps: int, container: str, codec: str,
                  options: dict[str, str]) -> bytes:
    import av

    frames = check_frames(frames)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2  # yuv420p needs even sizes
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def encode_mp4(frames: np.ndarray, fps: int = 20) -> bytes:
    """H.264 in MP4 (PyAV)."""
    return _encode_video(frames, fps, "mp4", "libx264", {"crf": str(VIDEO_CRF)})


def encode_webm(frames: np.ndarray, fps: int = 20) -> bytes:
    """VP9 in WebM (PyAV): plays in every browser, open-source builds included."""
    return _encode_video(frames, fps, "webm", "libvpx-vp9",
                         {"crf": str(VIDEO_CRF + 6), "b:v": "0", "deadline": "realtime",
                          "cpu-used": "8"})


ENCODERS: dict[str, Callable[[np.ndarray, int], bytes]] = {
    ".gif": encode_gif, ".webp": encode_webp, ".mp4": encode_mp4, ".webm": encode_webm,
}
MIME_TYPES = {".gif": "image/gif", ".webp": "image/webp", ".mp4": "video/mp4",
              ".webm": "video/webm"}


def annotate(frames: np.ndarray, captions: Sequence[str], *, font_size: int = 11
             ) -> np.ndarray:
    """``frames`` (T, H, W, 3) uint8 with ``captions[t]`` drawn on a dark band at the foot of
    frame t (Pillow's default font), e.g. the step and the episode's outcome."""
    from PIL import Image, ImageDraw, ImageFont

    frames = check_frames(frames)
    if len(captions) != len(frames):
        raise ValueError(f"{len(captions)} captions for {len(frames)} frames")
    font = ImageFont.load_default(size=font_size)
    band = font_size + 6
    out = np.empty_like(frames)
    for index, (frame, caption) in enumerate(zip(frames, captions)):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, image.height - band, image.width, image.height), fill=(20, 20, 20))
        draw.text((4, image.height - band + 2), caption, fill=(255, 255, 255), font=font)
        out[index] = np.asarray(image)
    return out


def episode_captions(n_frames: int, success: bool | None) -> list[str]:
    """Frame t of an episode's clip says its step; the last one also how it ended."""
    outcome = {True: " · success", False: " · failure"}.get(success, "")
    last = n_frames - 1
    return [f"step {t}/{last}" + (outcome if t == last else "") for t in range(n_frames)]


def episode_frames(dataset: Any, episode: int, *, camera: str = "agentview_image",
                   image_size: int = 128) -> np.ndarray:
    """Camera frames (T, S, S, 3) of ``dataset``'s episode ``episode``: the recorded ones
    when the dataset has that camera, else the episode's actions replayed in its
    environment from the state it started in (T = steps + 1)."""
    import polars as pl

    from diffrl_eval import constants as C
    from diffrl_eval.envs.base import get_backend

    if camera in dataset.cameras:
        return dataset.images(episode)[camera]
    rows = dataset.frames_df.filter(pl.col(C.COL_EPISODE) == episode).sort(C.COL_STEP)
    seeds = dataset.manifest.get("episode_seeds") or []
    starts = dataset.manifest.get("episode_init_states") or []
    return get_backend(dataset.backend).replay_frames(
        rows[C.COL_TASK][0], rows[C.COL_ACTION].to_numpy(),
        init_state_index=starts[episode] if episode < len(starts) else None,
        seed=seeds[episode] if episode < len(seeds) else None,
        image_size=image_size, camera=camera)


def check_clip_path(path: Path) -> str:
    """The clip format of ``path`` (its suffix); an unknown one is a one-line error."""
    suffix = Path(path).suffix.lower()
    if suffix not in ENCODERS:
        raise UserError(f"unknown clip format {suffix or '(none)'!r} of {path}; valid "
                        f"choices: {', '.join(sorted(ENCODERS))}")
    return suffix


def write_clip(frames: np.ndarray, path: str | Path, fps: int = 20, *,
               overwrite: bool = True) -> Path:
    """Write ``frames`` (T, H, W, 3) uint8 in the format of ``path``'s suffix, atomically."""
    path = Path(path)
    return write_bytes_atomic(path, ENCODERS[check_clip_path(path)](frames, fps),
                              overwrite=overwrite)


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 20, *,
              overwrite: bool = True) -> Path:
    """Write ``frames`` (T, H, W, 3) uint8 as a looping GIF, atomically."""
    return write_bytes_atomic(Path(path), encode_gif(frames, fps), overwrite=overwrite)
