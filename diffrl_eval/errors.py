"""Errors that reach the user as one line, and the exit codes they map to.

The exit codes are a contract that CI pipelines rely on:

* 0: the command did what was asked;
* 1: only ``check`` finding a regression (or a failed evaluation threshold);
* 2: bad input (:class:`UserError`): a path, a name, a value or a file's contents are wrong;
* 3: the environment failed the command (:class:`EnvironmentFault`): the disk is full, a
  place is not writable, another run holds the output, or the run was interrupted.

Anything raised as one of these classes is printed as ``error: <message>`` on one line,
without a traceback. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


class UserError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT


class DatasetError(UserError):
    """A dataset on disk is missing, malformed, or fails validation."""


class EnvironmentFault(Exception):
    """The machine, not the input, stopped the command: reported in one line, exit code 3."""

    exit_code = EXIT_ENVIRONMENT


class Interrupted(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """SIGINT or SIGTERM arrived: unwinds like Ctrl-C (every cleanup runs) and is reported
    as one line with exit code 3. Not an :class:`Exception`, so no handler swallows it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class OutputBusy(EnvironmentFault):
    """Another run is writing the same output."""


def unknown_choice(kind: str, value: str, choices: Iterable[str]) -> UserError:
    """Build the one-line error for a name that is not among the valid ``choices``."""
    valid = ", ".join(sorted(choices)) or "(none installed)"
    return UserError(f"unknown {kind} {value!r}; valid choices: {valid}")


# errno values that are the machine's state, not a bug and not the user's input
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
    errno.ENOMEM: "out of memory",
}


_ERRNO_IN_TEXT = re.compile(r"(?:errno\s*=\s*|\[Errno\s)(\d+)", re.IGNORECASE)


def environment_errno(exc: BaseException) -> int | None:
    """The errno of an environment fault hidden in ``exc`` or its causes, else None.

    Libraries report a full disk in their own words (h5py: ``RuntimeError ... errno = 28``;
    Arrow: ``OSError: ... error 28``), so the chain and the message are both searched.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        number = getattr(current, "errno", None)
        if isinstance(number, int) and number in _ENVIRONMENT_ERRNOS:
            return number
        text = str(current)
        for match in _ERRNO_IN_TEXT.finditer(text):
            if int(match.group(1)) in _ENVIRONMENT_ERRNOS:
                return int(match.group(1))
        for code, words in _ENVIRONMENT_ERRNOS.items():
            if code != errno.EPERM and words in text.lower():
                return code
        current = current.__cause__ or current.__context__
    return None


def environment_fault(exc: BaseException, path: object = None) -> EnvironmentFault | None:
    """``exc`` as a one-line :class:`EnvironmentFault` naming the path and the cause."""
    number = environment_errno(exc)
    if number is None:
        return None
    where = path or getattr(exc, "filename", None)
    cause = _ENVIRONMENT_ERRNOS[number]
    return EnvironmentFault(f"{cause} writing {where}" if where else cause)
