"""`train-expert` and `ablate`: RL experts per task, and the stabilizer ablation."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Top-level commands of this module."""
