"""`compare`: the whole question, end to end, for several data sources."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from diffrl_eval.atomic import claim_output, remove_stale_staging_under
from diffrl_eval.cli.data import (
    device_option,
    executor_option,
    ray_address_option,
    workers_option,
)
from diffrl_eval.constants import ACTION_DIM, DEFAULT_VLA
from diffrl_eval.errors import UserError, unknown_choice

console = Console()


def parse_sources(text: str) -> list[str]:
    """The ``--sources`` names: comma-separated registered generators, each once."""
    from diffrl_eval import registry

    sources = [s.strip() for s in text.split(",") if s.strip()]
    if not sources:
        raise UserError("--sources must name at least one generator")
    if len(set(sources)) != len(sources):
        raise UserError(f"--sources lists a generator twice: {text}")
    known = registry.generators.names()
    for source in sources:
        if source not in known:
            raise unknown_choice("generator", source, known)
    return sources


def parse_seeds(text: str) -> list[int]:
    """The ``--seeds``: comma-separated distinct non-negative integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UserError(f"--seeds must list distinct non-negative integers, got {text!r}")
    return seeds


def parse_baselines(text: str | None, sources: list[str]) -> list[str]:
    """The ``--baseline-source`` names: comma-separated sources of this run."""
    names = [s.strip() for s in (text or "").split(",") if s.strip()]
    for name in names:
        if name not in sources:
            raise unknown_choice("--baseline-source (a source of this run)", name, sources)
    return list(dict.fromkeys(names))


def check_run_directory(out: Path) -> None:
    """``--out``: a directory, or nothing yet."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out must be a directory, got the file {out}")


def compare(
    sources: str = typer.Option(
        "human,gaussian-ppo,diffusion-ppo", "--sources", help="Comma-separated generator names."
    ),
    backend: str = typer.Option("tabletop", "--backend", "-b", help="Environment backend."),
    preset: str = typer.Option("quick", "--preset", help="quick (about 10 min on 2 cores) | standard (an afternoon; sees ~7-point differences) | full (the paper's protocol)."),
    seeds: str = typer.Option(None, "--seeds", help="Comma-separated VLA training seeds (default: the preset's: 0 for quick, 0,1,2 otherwise)."),
    out: Path = typer.Option(Path("runs/compare"), "--out", "-o", help="Run directory (created; reruns resume it)."),
    hparams: Path = typer.Option(None, "--hparams", help="VLA hparams JSON (default: the preset's)."),
    demos_from: str = typer.Option(None, "--demos-from", help="A human dataset (written by 'import' or 'generate --source human', or a LeRobot directory / Hub id / LIBERO HDF5 in LIBERO's layout, converted into the run directory): the human source's episodes of each task, and what the RL experts clone; needed on libero."),
    executor: str = executor_option(),
    ray_address: str = ray_address_option(),
    workers: int = workers_option(),
    variance_task: str = typer.Option(None, "--variance-task", help="Task of the report's action-variance figure (Fig. 7); default: the first task of the run."),
    variance_dimension: int = typer.Option(1, "--variance-dimension", help="Action dimension Fig. 7 opens on, 0-6 (default 1 = y)."),
    baseline_source: str = typer.Option(None, "--baseline-source", help="Comma-separated sources of this run that every other source is also compared with in the verdict (human always is)."),
    vla: str = typer.Option(DEFAULT_VLA, "--vla", help="VLA every source trains and is evaluated with (a name in the diffrl_eval.vlas entry-point group)."),
    device: str = device_option(),
) -> None:
    """End to end: generate per source, measure, train and evaluate a VLA per source, report.

    Every stage is keyed by a hash of its settings and inputs: rerunning the same command
    skips finished stages, so an interrupted run continues where it stopped.

    With --demos-from the human source's data are not generated: each task's first
    episodes (the preset's count) are taken from that dataset, and the RL experts clone it.
    On libero, whose human demonstrations are LIBERO's HDF5 files, it is required.
    """
    from diffrl_eval.compare import build_plan, execute, plan_compare
    from diffrl_eval.compare.cost import plan_cost
    from diffrl_eval.compare.outputs import RESULTS_DIR, design_summary
    from diffrl_eval.device import resolve_device
    from diffrl_eval.executor import make_executor

    torch_device = resolve_device(device)

    if demos_from is not None:
        from diffrl_eval.dataset.sources.convert import native_path
        from diffrl_eval.errors import DatasetError

        try:
            demos_from, converted = native_path(demos_from, Path(out), backend=backend)
        except DatasetError as exc:
            raise DatasetError(f"--demos-from: {exc}") from None
        if converted:
            console.print(f"converted the human demonstrations to {demos_from}")
    runner = make_executor(executor, address=ray_address, workers=workers)
    source_list = parse_sources(sources)
    baselines = parse_baselines(baseline_source, source_list)
    seed_list = parse_seeds(seeds) if seeds is not None else None
    check_run_directory(Path(out))
    run = plan_compare(source_list, backend, preset, seed_list, out, hparams, demos_from,
                       baselines, vla=vla, device=torch_device)
    run.executor = runner
    run_tasks = [t for tasks in run.data_suites().values() for t in tasks]
    if variance_task is not None and variance_task not in run_tasks:
        raise unknown_choice("--variance-task (a task of this run)", variance_task, run_tasks)
    if not 0 <= variance_dimension < ACTION_DIM:
        raise UserError(f"--variance-dimension must be in 0..{ACTION_DIM - 1}, "
                        f"got {variance_dimension}")
    run.variance_task, run.variance_dimension = variance_task, variance_dimension
    console.print(f"compare: preset {run.preset.name}, sources {', '.join(run.sources)}, "
                  f"VLA {run.vla} on {run.device}, "
                  f"{len(build_plan(run))} stages, run directory {run.out}")
    if run.demos_from is not None:
        console.print(f"human demonstrations from {run.demos_from} (not generated)")
    console.print(design_summary(run))
    cost = plan_cost(run)
    console.print(
        f"estimated cost from scratch (upper bound): {cost.env_steps:,.0f} env steps, "
        f"{cost.gradient_steps:,.0f} gradient steps, about {cost.hours:.1f} h on a "
        f"2-core machine at {cost.env_steps_per_second:,.0f} env steps/s; finished "
        "stages are reused"
    )
    run.check_demonstrations()
    with claim_output(run.out), runner:
        remove_stale_staging_under(run.out)
        summary = execute(run)
    table = Table(title="VLA success (see the report for intervals)")
    for column in ("protocol", "trained on", "evaluated on", "seed", "success"):
        table.add_column(column)
    import polars as pl

    rows = pl.read_parquet(run.out / RESULTS_DIR / "vla_success.parquet")
    for row in rows.iter_rows(named=True):
        table.add_row(row["protocol"], row["train_sources"], row["eval_suite"], str(row["seed"]),
                      f"{row['successes']}/{row['episodes']} ({row['rate']:.0%})")
    console.print(table)
    for failure in summary["failures"]:
        console.print(f"[yellow]failed stage[/yellow] {failure['stage']}: {failure['error']}")
    console.print(f"stages run {summary['stages_run']}, reused {summary['stages_reused']}; "
                  f"results hash {summary['results_hash']}")
    console.print(f"wrote {run.out / summary['report']}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
