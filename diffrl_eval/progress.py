"""Progress bars for long work, drawn on stderr so stdout stays machine-readable."""

from __future__ import annotations

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


def progress_bar(*, transient: bool | None = None) -> Progress:
    """A rich progress display with count, elapsed and remaining time.

    Off a terminal (logs, pipes, tests) the bar is transient: it would only be drawn once,
    at the end, and would sit in front of any error message.
    """
    if transient is None:
        transient = not stderr_console.is_terminal
    return Progress(
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
