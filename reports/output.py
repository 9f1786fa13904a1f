"""Writing the report file: all or nothing, never over an existing file.

The page appears under its final name only once it is complete (the project's atomic
write: temporary file beside it, flushed to disk, then renamed), so a crash or a full
disk never leaves a half-written report that a browser would show as if it were whole.
"""

from __future__ import annotations

from pathlib import Path

from diffrl_eval.atomic import check_new_file, write_text_atomic


def check_destination(out: Path) -> None:
    """Refuse an existing file or an unwritable place before any work is done."""
    check_new_file(out)


def write_new_file(out: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``out`` atomically; ``UserError`` if ``out`` exists."""
    return write_text_atomic(out, text)
