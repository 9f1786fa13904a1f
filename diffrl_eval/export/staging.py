"""An output directory that appears under its final name complete, or not at all.

Exports are written into a hidden staging directory beside the destination and renamed
into place by :meth:`StagedDirectory.commit`. An exception (or a kill) leaves at most a
``.NAME.tmp-*`` directory behind, never a half-written export under the final name. With
``overwrite`` an existing destination is replaced only once the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from diffrl_eval.dataset.writer import check_writable_parent
from diffrl_eval.errors import UserError


def check_export_destination(out: Path, *, sources: list[Path], overwrite: bool) -> Path:
    """Refuse an existing ``out`` (unless ``overwrite``), or one that holds an input."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise UserError(f"output path already exists: {out} (choose a new path or pass --overwrite)")
        resolved = out.resolve()
        for source in sources:
            source = Path(source).resolve()
            if source == resolved or resolved in source.parents:
                raise UserError(f"refusing to overwrite {out}: it holds the input {source}")
    check_writable_parent(out)
    return out


class StagedDirectory:
    """Build a directory in a staging place; :meth:`commit` renames it to ``out``.

    >>> with StagedDirectory(out, sources=[dataset], overwrite=False) as staged:
    ...     (staged.path / "file").write_text("...")
    ...     staged.commit()
    """

    def __init__(self, out: Path, *, sources: list[Path], overwrite: bool = False) -> None:
        self.out = check_export_destination(Path(out), sources=sources, overwrite=overwrite)
        self.overwrite = overwrite
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = self.out.parent / f".{self.out.name}.tmp-{uuid.uuid4().hex[:12]}"
        self.path.mkdir()
        self._committed = False

    def commit(self) -> Path:
        """Flush every file to disk and move the staged directory to its final name."""
        for path in [*self.path.rglob("*"), self.path]:
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        previous = None
        if self.out.exists() or self.out.is_symlink():
            if not self.overwrite:  # appeared while we were writing
                raise UserError(f"output path already exists: {self.out}")
            previous = self.out.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(self.out, previous)
        try:
            os.rename(self.path, self.out)
        except OSError as exc:
            if previous is not None:
                os.rename(previous, self.out)
            raise UserError(f"could not move the export into place at {self.out}: {exc}") from exc
        self._committed = True
        if previous is not None:
            if previous.is_dir() and not previous.is_symlink():
                shutil.rmtree(previous, ignore_errors=True)
            else:
                previous.unlink(missing_ok=True)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> StagedDirectory:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            self.abort()
