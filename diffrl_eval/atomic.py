"""Atomic file writes: a file appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from diffrl_eval.dataset.writer import check_writable_parent
from diffrl_eval.errors import UserError


def check_new_file(path: Path, *, overwrite: bool = False) -> Path:
    """Refuse an existing file (unless ``overwrite``), a directory, or an unwritable place."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"output path already exists: {path} (choose a new path or pass --overwrite)")
    if path.is_dir():
        raise UserError(f"output path is a directory: {path}")
    check_writable_parent(path)
    return path


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename into place."""
    path = check_new_file(Path(path), overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; outputs are not
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str, *, overwrite: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
