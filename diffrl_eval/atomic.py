"""Atomic outputs: a file or directory appears under its final name complete, or not at all.

Every output is built in a hidden staging place beside its final name (``.NAME.tmp-*``)
and renamed into place when complete. While it is being built, the output is *claimed*:
an exclusive lock on ``.NAME.lock`` (``fcntl.flock``, released by the kernel when the
process dies, even by ``kill -9``) makes a second run into the same output refuse in one
line instead of interleaving with the first, and lets the claiming run remove the staging
left behind by an earlier run that was killed (no live process holds it any more).

Staging places are registered while they exist, so that the command line's central error
handler can remove them after a full disk, a permission fault or an interruption.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from diffrl_eval.errors import OutputBusy, UserError
from diffrl_eval.interrupts import raise_if_interrupted, signals_deferred

LOCK_SUFFIX = ".lock"
# the names a staging place of NAME may have: a directory or a file being built, or the
# previous output moved aside while an --overwrite swaps it
_TAG = "?" * 12
_STAGING_PATTERNS = (f".{{name}}.tmp-{_TAG}", f".{{name}}.old-{_TAG}")

_live_staging: set[Path] = set()
_claimed: list[Path] = []  # outputs this process claimed, latest last (for fault messages)


def check_writable_parent(path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory.

    Missing intermediate directories are fine: they are created when writing starts.
    """
    ancestor = Path(path).absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"cannot create {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK):
        raise UserError(f"output directory is not writable: {ancestor}")


def check_new_file(path: Path, *, overwrite: bool = False) -> Path:
    """Refuse an existing file (unless ``overwrite``), a directory, or an unwritable place."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"output path already exists: {path} (choose a new path or pass --overwrite)")
    if path.is_dir():
        raise UserError(f"output path is a directory: {path}")
    check_writable_parent(path)
    return path


# -- staging registry ------------------------------------------------------------------
def track_staging(path: Path) -> Path:
    """Register ``path`` as a staging place of this process (removed on a fault)."""
    _live_staging.add(Path(path))
    return Path(path)


def untrack_staging(path: Path) -> None:
    _live_staging.discard(Path(path))


def last_claimed_output() -> Path | None:
    """The output this process claimed last (what a fault without a file name was writing)."""
    return _claimed[-1] if _claimed else None


def remove_live_staging() -> list[Path]:
    """Remove every staging place this process still has (the CLI calls it on a fault)."""
    removed = []
    for path in sorted(_live_staging):
        _remove(path)
        removed.append(path)
    _live_staging.clear()
    return removed


def new_staging_dir(out: Path) -> Path:
    """Create and register a hidden staging directory beside ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = staging_name(out)
    path.mkdir()
    return track_staging(path)


class ScratchDir:
    """A hidden staging folder beside ``out`` for a command's intermediate files (a dataset
    converted to this tool's format), made on first use of :attr:`path`. It is removed when
    the ``with`` block ends, on a fault or a signal (it is registered as staging), and, after
    a ``kill -9``, by the next run into ``out`` (as every staging place of ``out``)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = new_staging_dir(self.out)
        return self._path

    def __enter__(self) -> ScratchDir:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._path is not None:
            discard_staging(self._path)


def staging_name(out: Path, kind: str = "tmp") -> Path:
    """A fresh hidden name beside ``out``: ``.NAME.tmp-<12 hex>`` (``old``: the previous
    output moved aside while it is replaced)."""
    out = Path(out)
    return out.parent / f".{out.name}.{kind}-{uuid.uuid4().hex[:12]}"


def final_name(staging: Path) -> Path:
    """The output a staging place ``.NAME.tmp-<tag>`` is building: ``NAME`` beside it."""
    staging = Path(staging)
    name = staging.name
    if name.startswith(".") and name[-13:-12] == "-" and name[-17:-13] in (".tmp", ".old"):
        return staging.parent / name[1:-17]
    return staging


def discard_staging(path: Path) -> None:
    """Remove a staging place and forget it."""
    _remove(Path(path))
    untrack_staging(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def stale_staging(out: Path) -> list[Path]:
    """The staging places of ``out`` that exist beside it (any process's)."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    found = []
    for pattern in _STAGING_PATTERNS:
        found.extend(out.parent.glob(pattern.format(name=out.name)))
    return sorted(found)


def remove_stale_staging_under(root: Path) -> None:
    """Remove every staging place anywhere under ``root`` that this process does not own
    (call it with ``root`` claimed: a resumable run directory after a killed run)."""
    root = Path(root)
    if not root.is_dir():
        return
    for pattern in _STAGING_PATTERNS:
        for path in sorted(root.rglob(pattern.format(name="*")), reverse=True):
            if path not in _live_staging:
                _remove(path)


# -- claiming an output ----------------------------------------------------------------
class OutputClaim:
    """An exclusive claim on an output path, for the time it is being written.

    Entering takes ``.NAME.lock`` beside ``out`` without waiting (another holder: a
    one-line :class:`OutputBusy`, exit 3), then removes the staging that killed runs left
    behind. Leaving releases the lock and removes the lock file.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.lock_path = self.out.parent / f".{self.out.name}{LOCK_SUFFIX}"
        self._fd: int | None = None

    def acquire(self) -> OutputClaim:
        try:
            return self._acquire()
        except OutputBusy:
            raise
        except BaseException:
            # interrupted (a signal) or failed half-way: leave no lock file behind
            self._abandon()
            raise

    def _abandon(self) -> None:
        if self._fd is not None:
            self.release()
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another run holds it: its lock file, not ours
            os.close(fd)
            return
        try:
            self.lock_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _acquire(self) -> OutputClaim:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        # a signal between locking the file and recording the lock would leave a lock file
        # that nothing removes (this process's own lock keeps _abandon from taking it): hold
        # it until the lock is recorded, then acquire's cleanup releases it
        with signals_deferred():
            self._lock()
        try:  # who holds it, for the other run's message; a full disk may refuse even this
            os.ftruncate(self._fd, 0)
            os.write(self._fd, str(os.getpid()).encode())
        except OSError:
            pass
        for path in stale_staging(self.out):
            if path not in _live_staging:
                _remove(path)
        return self

    def _lock(self) -> None:
        """Take the lock file's lock (or raise :class:`OutputBusy`) and record it."""
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException as exc:
                if not isinstance(exc, BlockingIOError):
                    os.close(fd)
                    raise
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputBusy(
                    f"another diffrl-eval run{holder} is writing {self.out}; wait for it to "
                    "finish or choose another output") from None
            # the file we locked must still be the one at the lock path (a releasing
            # holder unlinks it; a lock on an unlinked file protects nothing)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        _claimed.append(self.out)

    def release(self) -> None:
        if self._fd is None:
            return
        with signals_deferred():  # a signal in between would leave the lock file behind
            try:
                self.lock_path.unlink(missing_ok=True)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> OutputClaim:
        return self if self._fd is not None else self.acquire()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def claim_output(out: Path) -> OutputClaim:
    """Claim ``out`` for writing (see :class:`OutputClaim`)."""
    return OutputClaim(out).acquire()


# -- directories -----------------------------------------------------------------------
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


class _NoClaim:
    def release(self) -> None:
        pass


class StagedDirectory:
    """Build a directory in a staging place; :meth:`commit` renames it to ``out``.

    ``out`` is refused before any work (and again once it is claimed, in case another run
    wrote it in between) by ``check``: by default an existing ``out`` unless ``overwrite``,
    or one that holds one of ``sources``.

    >>> with StagedDirectory(out, sources=[dataset], overwrite=False) as staged:
    ...     (staged.path / "file").write_text("...")
    ...     staged.commit()
    """

    def __init__(self, out: Path, *, sources: Sequence[Path] = (), overwrite: bool = False,
                 check: Callable[[Path], Path] | None = None, claim: bool = True) -> None:
        if check is None:
            check = partial(check_export_destination, sources=list(sources), overwrite=overwrite)
        self.out = check(Path(out))
        self.overwrite = overwrite
        # claim=False: the caller already holds a claim on an enclosing output (a lock
        # file beside every inner directory would outlive a kill -9 under names that
        # change, e.g. a training run's numbered state directories)
        self._claim = claim_output(self.out) if claim else _NoClaim()
        try:
            check(self.out)
            self.path = new_staging_dir(self.out)
        except BaseException:
            self._claim.release()
            raise
        self._committed = False

    def commit(self) -> Path:
        """Flush every file to disk and move the staged directory to its final name."""
        raise_if_interrupted()  # a signal whose exception was swallowed: never commit
        for path in [*self.path.rglob("*"), self.path]:
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        previous = None
        if self.out.exists() or self.out.is_symlink():
            if not self.overwrite:  # appeared while we were writing
                raise UserError(f"output path already exists: {self.out}")
            previous = track_staging(staging_name(self.out, "old"))
            os.rename(self.out, previous)
        # renamed, no longer staging, and released as one step: a signal waits until the
        # claim is released (delivered earlier, it would leave the lock file behind)
        with signals_deferred():
            try:
                raise_if_interrupted()  # a signal during the fsync: never commit
                os.rename(self.path, self.out)
            except BaseException:
                if previous is not None:
                    os.rename(previous, self.out)
                    untrack_staging(previous)
                raise
            untrack_staging(self.path)
            self._committed = True
            if previous is not None:
                discard_staging(previous)
            self._claim.release()
        return self.out

    def abort(self) -> None:
        """Remove the staged directory and release the claim (again: nothing happens)."""
        discard_staging(self.path)
        self._claim.release()

    def __enter__(self) -> StagedDirectory:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            self.abort()


# -- single files ----------------------------------------------------------------------
def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename into place."""
    path = check_new_file(Path(path), overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    with OutputClaim(path):
        if path.exists() and not overwrite:  # written by another run since the check
            raise UserError(f"output path already exists: {path} (choose a new path or "
                            "pass --overwrite)")
        tmp = track_staging(staging_name(path))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            raise_if_interrupted()
            os.replace(tmp, path)
        finally:
            discard_staging(tmp)
    return path


def write_text_atomic(path: Path, text: str, *, overwrite: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
