"""Progress bars for long work, drawn on stderr so stdout stays machine-readable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr_console = Console(stderr=True)


_active: Progress | None = None  # the display that is drawing now, if any


@contextmanager
def progress_bar(*, transient: bool | None = None) -> Iterator[Progress]:
    """A rich progress display with count, elapsed and remaining time.

    Off a terminal (logs, pipes, tests) the bar is transient: it would only be drawn once,
    at the end, and would sit in front of any error message. Inside another
    ``progress_bar`` (e.g. a dataset's generation inside ``compare``) the outer display is
    shared: the inner bars appear under the outer ones and are removed when done, since a
    terminal holds one live display at a time.
    """
    global _active
    if _active is not None:
        outer = _active
        before = set(outer.task_ids)
        try:
            yield outer
        finally:
            for task_id in set(outer.task_ids) - before:
                outer.remove_task(task_id)
        return
    if transient is None:
        transient = not stderr_console.is_terminal
    display = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr_console,
        transient=transient,
    )
    with display:
        _active = display
        try:
            yield display
        finally:
            _active = None
