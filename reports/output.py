"""Writing the report file: all or nothing, never over an existing file.

The page appears under its final name only once it is complete (temporary file in the
same directory, flushed to disk, then ``os.replace``), so a crash or a full disk never
leaves a half-written report that a browser would show as if it were whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from diffrl_eval.errors import UserError


def check_destination(out: Path) -> None:
    """Refuse an existing file or a missing directory before any work is done."""
    if out.exists():
        raise UserError(f"report destination {str(out)!r} already exists; choose another path")
    if not out.parent.is_dir():
        raise UserError(f"directory {str(out.parent)!r} for the report does not exist")


def write_new_file(out: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``out`` atomically; ``UserError`` if ``out`` exists."""
    check_destination(out)
    descriptor, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file 0600; a report is meant to be read by others.
        os.chmod(temporary, 0o644)
        # Checked again right before the rename: the window in which another writer could
        # have created ``out`` is now only the rename itself.
        check_destination(out)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out
