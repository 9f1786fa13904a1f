"""SIGINT and SIGTERM as :class:`~diffrl_eval.errors.Interrupted`, delivered where it is safe.

The command line installs :func:`raise_interrupted` for both signals, so a signal unwinds the
command like Ctrl-C: every ``finally`` runs, staging folders are removed, and the command
exits 3 with one line. Python runs a signal handler between two bytecodes of the main
thread, wherever that is, and two kinds of places swallow what it raises:

* code that C calls back into: h5py's driver for in-memory files writes through the
  ``io.BytesIO`` methods from HDF5's C code, which turns an exception there into an HDF5
  error (the command would fail with a traceback, exit 1);
* callbacks whose exceptions Python itself ignores (weak-reference callbacks and ``__del__``
  run by the garbage collector), which print "Exception ignored in ..." and carry on (the
  command would finish as if no signal had come).

Hence two defences. :func:`signals_deferred` holds the signals over a section (the h5py
writes) and delivers a held one at the section's end, or earlier at a point the section
chooses with :meth:`Deferred.deliver`. And every signal is recorded before the handler
raises: :func:`raise_if_interrupted` raises it again where an output is about to be committed,
and the command line reports any failure that follows a recorded signal as the interruption.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from diffrl_eval.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[str] = []  # signal names received by raise_interrupted, oldest first


def raise_interrupted(signum: int, frame: Any) -> None:  # noqa: ARG001 - handler signature
    """The handler the command line installs: record the signal, raise :class:`Interrupted`."""
    name = signal.Signals(signum).name
    _received.append(name)
    raise Interrupted(name)


def _quiet_unraisable(previous: Any, unraisable: Any) -> None:
    """Python prints an exception it cannot raise ("Exception ignored in ..."); an
    :class:`Interrupted` is recorded and reported once by the command line instead."""
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, Interrupted):
        return
    previous(unraisable)


@dataclass
class Installed:
    """What :func:`install_handlers` replaced."""

    handlers: dict[int, Any] = field(default_factory=dict)
    unraisablehook: Any = None


def install_handlers() -> Installed:
    """Install :func:`raise_interrupted` for SIGINT and SIGTERM and forget earlier signals
    (a signal ignored when the process started, as for a background job, stays ignored);
    returns what was replaced, for :func:`restore_handlers`."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return Installed()
    installed = Installed(unraisablehook=sys.unraisablehook)
    for number in SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            installed.handlers[number] = signal.signal(number, raise_interrupted)
    sys.unraisablehook = functools.partial(_quiet_unraisable, installed.unraisablehook)
    return installed


def restore_handlers(installed: Installed) -> None:
    """Put back what :func:`install_handlers` replaced; forget the signals received."""
    for number, handler in installed.handlers.items():
        signal.signal(number, handler)
    if installed.unraisablehook is not None:
        sys.unraisablehook = installed.unraisablehook
    _received.clear()


def received() -> str | None:
    """The first signal :func:`raise_interrupted` received since the handlers were
    installed, even if what it raised was swallowed (None: none)."""
    return _received[0] if _received else None


def acknowledge() -> None:
    """Forget the signals received: for a command that stops on a signal by design (`serve`
    runs until Ctrl-C), once it has stopped cleanly, so the command ends with exit 0."""
    _received.clear()


def raise_if_interrupted() -> None:
    """Raise :class:`Interrupted` if a signal arrived whose exception was swallowed; called
    before an output is committed, so an interrupted command never commits."""
    if _received:
        raise Interrupted(_received[0])


class Deferred:
    """The signals held by one :func:`signals_deferred` section."""

    def __init__(self, handlers: dict[int, Any]) -> None:
        self._handlers = handlers  # what each held signal goes to when delivered
        self.pending: list[int] = []

    def hold(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - handler signature
        self.pending.append(signum)

    def deliver(self) -> None:
        """Hand a held signal to the handler it was held from, here and now (for
        :func:`raise_interrupted`: raise :class:`Interrupted` at this safe point)."""
        if not self.pending:
            return
        signum = self.pending[0]
        self.pending.clear()
        handler = self._handlers[signum]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:  # the default action (terminate), as if not held
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)


@contextmanager
def signals_deferred() -> Iterator[Deferred]:
    """Hold SIGINT and SIGTERM over the block; a signal that arrives inside it is handed to
    the handler it was held from when the block ends (or at :meth:`Deferred.deliver`).

    For code that C calls back into (h5py's in-memory files): a handler that raises there
    would be swallowed. Signals ignored stay ignored; outside the main thread (where Python
    runs no signal handler) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield Deferred({})
        return
    handlers = {number: signal.getsignal(number) for number in SIGNALS}
    handlers = {n: h for n, h in handlers.items() if h not in (signal.SIG_IGN, None)}
    deferred = Deferred(handlers)
    for number in handlers:
        signal.signal(number, deferred.hold)
    try:
        yield deferred
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        deferred.deliver()  # also when the block failed: the interruption is what was asked
