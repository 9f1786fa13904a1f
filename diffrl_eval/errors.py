"""Errors that reach the user as one line and exit code 2.

Anything raised as :class:`UserError` is the user's input being wrong (a path, a name, a
file's contents), never a bug: the CLI prints ``error: <message>`` and exits 2 without a
traceback. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""

    exit_code = 2


class DatasetError(UserError):
    """A dataset on disk is missing, malformed, or fails validation."""


def unknown_choice(kind: str, value: str, choices: Iterable[str]) -> UserError:
    """Build the one-line error for a name that is not among the valid ``choices``."""
    valid = ", ".join(sorted(choices)) or "(none installed)"
    return UserError(f"unknown {kind} {value!r}; valid choices: {valid}")
