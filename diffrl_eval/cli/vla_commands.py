"""`vla train` and `vla eval`: the downstream half of the comparison."""

from __future__ import annotations

from pathlib import Path

import typer

from diffrl_eval.errors import UserError

vla_app = typer.Typer(help="Fine-tune and evaluate VLA models.", no_args_is_help=True)

_UNAVAILABLE = "is not available yet: no VLA is installed in this version"


@vla_app.command("train")
def vla_train(
    data: list[Path] = typer.Option(..., "--data", help="Dataset directory (repeatable)."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint directory to create."),
    vla: str = typer.Option("tiny-vla", "--vla", help="VLA name."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
) -> None:
    """Fine-tune a VLA on one or more datasets."""
    raise UserError(f"'vla train' {_UNAVAILABLE}")


@vla_app.command("eval")
def vla_eval(
    ckpt: Path = typer.Option(..., "--ckpt", help="Checkpoint directory."),
    suite: str = typer.Option(..., "--suite", "-s", help="Suite to evaluate on."),
    episodes_per_task: int = typer.Option(50, "--episodes-per-task", help="Trials per task."),
    seed: int = typer.Option(0, "--seed", help="Evaluation seed."),
) -> None:
    """Evaluate a VLA checkpoint: success per task and suite with Wilson intervals."""
    raise UserError(f"'vla eval' {_UNAVAILABLE}")


def register(app: typer.Typer) -> None:
    """Top-level commands of this module (none besides the `vla` group)."""
