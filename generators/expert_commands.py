"""`train-expert` and `ablate`: RL experts per task, and the stabilizer ablation.

The RL generators' own commands, added to the `diffrl-eval` CLI through the
``diffrl_eval.commands`` entry-point group (:func:`register`). Module-level imports stay
light (no torch) because the CLI imports this module on every start; the expert code is
imported by the commands when they run.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from diffrl_eval import registry
from diffrl_eval.atomic import OutputClaim, remove_stale_staging_under
from diffrl_eval.cli.data import (
    device_option,
    executor_option,
    parse_options,
    ray_address_option,
    workers_option,
)
from diffrl_eval.envs.base import EnvBackend, TaskSpec, get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.generator import TrainsExperts, generators_with
from diffrl_eval.progress import progress_bar
from generators.ablation_variants import DEFAULT_VARIANTS, VARIANTS
from generators.expert.settings import VIEWS, view_home
from generators.ppo.config import PPOConfig

console = Console()

# the stabilizers the paper ablates, as (flag value -> where it goes in the expert config)
POLICY_SWITCHES = ("sampler", "denoising_steps", "decoder", "encoder")
PPO_SWITCHES = ("lr_schedule", "n_envs", "batch_size")


def section_options(flag: str, section: str, pairs: list[str] | None) -> list[str]:
    """``--ppo KEY=V`` / ``--policy KEY=V`` as the ``--option SECTION.KEY=V`` they stand for."""
    for pair in pairs or []:
        key, sep, _ = pair.partition("=")
        if not sep or not key or "." in key:
            raise UserError(f"{flag} expects KEY=VALUE (a {section} setting), got {pair!r}")
    return [f"{section}.{pair}" for pair in pairs or []]


def expert_overrides(
    options: list[str] | None,
    *,
    sampler: str | None = None,
    denoising_steps: int | None = None,
    lr_schedule: str | None = None,
    n_envs: int | None = None,
    batch_size: int | None = None,
    decoder: str | None = None,
    encoder: str | None = None,
    iterations: int | None = None,
    bc_steps: int | None = None,
    demos: int | None = None,
    demos_from: Path | None = None,
    ppo_options: list[str] | None = None,
    policy_options: list[str] | None = None,
) -> dict[str, Any]:
    """The expert configuration overrides that flags and ``--option KEY=VALUE`` give.

    ``--option policy.KEY=V`` / ``ppo.KEY=V`` (or ``--policy KEY=V`` / ``--ppo KEY=V``)
    reach the nested policy and PPO settings; a flag wins over an option for the same key.
    ``demos_from`` is made absolute, so that Ray workers started elsewhere read it too.
    """
    options = [*(options or []), *section_options("--ppo", "ppo", ppo_options),
               *section_options("--policy", "policy", policy_options)]
    overrides: dict[str, Any] = {}
    policy: dict[str, Any] = {}
    ppo: dict[str, Any] = {}
    for key, value in parse_options(options).items():
        section, dot, field = key.partition(".")
        if dot and section in VIEWS:
            section, key = view_home(section, field), field
        if dot and section in ("policy", "ppo"):
            (policy if section == "policy" else ppo)[field] = value
        else:
            overrides[key] = value
    for name, value in (("sampler", sampler), ("denoising_steps", denoising_steps),
                        ("decoder", decoder), ("encoder", encoder)):
        if value is not None:
            policy[name] = value
    for name, value in (("lr_schedule", lr_schedule), ("n_envs", n_envs),
                        ("batch_size", batch_size), ("n_iterations", iterations)):
        if value is not None:
            ppo[name] = value
    if bc_steps is not None:
        overrides["bc_gradient_steps"] = bc_steps
    if demos is not None:
        overrides["n_demonstrations"] = demos
    if demos_from is not None:
        overrides["demos_from"] = str(demos_from.absolute())
    if policy:
        overrides["policy"] = {**overrides.get("policy", {}), **policy}
    if ppo:
        overrides["ppo"] = {**overrides.get("ppo", {}), **ppo}
    return overrides


def select_tasks(backend: EnvBackend, suite: str | None, tasks: list[str] | None
                 ) -> list[TaskSpec]:
    if (suite is None) == (not tasks):
        raise UserError("give exactly one of --suite or --task")
    if suite is not None:
        backend.check_suite(suite)
        return backend.tasks(suite)
    return [backend.task(t) for t in tasks or []]


def check_iterations(generator_cls: Any, overrides: dict[str, Any], iterations: int | None
                     ) -> None:
    """``--iterations`` must leave PPO at least one iteration after the critic's warm-up
    (a count below 1 is refused by the PPO settings themselves). A preset's warm-up longer
    than the run gives way to PPOConfig's default when that fits (``warmup_fallback``, as
    ``ExpertGenerator.make_config`` does); otherwise the error names the flag."""
    from generators.expert.settings import warmup_fallback

    if iterations is None or iterations < 1:
        return
    user_ppo = overrides.get("ppo", {})
    preset_ppo = getattr(generator_cls, "recipe", {}).get("ppo", {})
    default = PPOConfig.critic_warmup_iterations
    warmup = warmup_fallback(preset_ppo, user_ppo)
    if warmup is None:
        warmup = int({**preset_ppo, **user_ppo}.get("critic_warmup_iterations", default))
        if "critic_warmup_iterations" not in user_ppo and iterations <= warmup:
            warmup = min(warmup, default)
    if iterations <= warmup:
        raise UserError(
            f"--iterations must be greater than the {warmup} critic warm-up iterations "
            f"(they train only the value network); got {iterations}: give --iterations "
            f"{warmup + 1} or more, or --option ppo.critic_warmup_iterations={max(iterations - 1, 0)}"
        )


def expert_generator(source: str, backend: EnvBackend, overrides: dict[str, Any],
                     iterations: int | None = None, device: str = "cpu"):
    """An RL generator (one with experts to train) built from ``overrides`` (``iterations``:
    the --iterations flag they hold, checked against the critic's warm-up), training on
    torch ``device`` (resolved)."""
    generator_cls = registry.generators.load(source)
    if not issubclass(generator_cls, TrainsExperts):
        rl = generators_with(TrainsExperts)
        raise UserError(
            f"generator {source!r} has no expert to train; valid choices: {', '.join(rl)}"
        )
    check_iterations(generator_cls, overrides, iterations)
    return generator_cls(backend, generator_cls.make_config(overrides), device=device)


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def iteration_status(stats: dict[str, float]) -> str:
    """A PPO iteration on one line: training success, per-element KL, clip fraction,
    critic explained variance, gradient agreement, deterministic success when measured,
    end-to-end env steps per second."""
    status = (f"success {_fmt(stats['success_rate'])} "
              f"kl/elem {_fmt(stats.get('element_kl'), 4)} "
              f"clip {_fmt(stats.get('clip_fraction'))} "
              f"ev {_fmt(stats.get('explained_variance'))} "
              f"grad-cos {_fmt(stats.get('gradient_agreement'))}")
    evaluated = stats.get("eval_success")
    if evaluated is not None and not math.isnan(evaluated):
        status += f" eval {_fmt(evaluated)}"
    if stats.get("env_steps_per_second") is not None:
        status += f" {_fmt(stats['env_steps_per_second'], 0)} steps/s"
    return status


def train_expert_run(run: Any, on_iteration: Any = None, on_stage: Any = None
                     ) -> list[dict[str, float]]:
    """Train (or finish) one expert run; its curves (one row per PPO iteration).

    Module-level so that a Ray worker can import it; the trained policy stays on disk in
    the run directory rather than travelling back.
    """
    run.train(on_iteration=on_iteration, on_stage=on_stage)
    return run.history()


def train_expert(
    source: str = typer.Option("diffusion-ppo", "--source", help="RL generator: diffusion-ppo | gaussian-ppo."),
    suite: str = typer.Option(None, "--suite", "-s", help="Train an expert for every task of this suite."),
    task: list[str] = typer.Option(None, "--task", "-t", help="A task id (repeatable); instead of --suite."),
    backend: str = typer.Option("tabletop", "--backend", "-b", help="Environment backend."),
    seed: int = typer.Option(0, "--seed", help="Expert seed (BC and PPO)."),
    out: Path = typer.Option(None, "--out", "-o", help="Directory for the runs (one sub-directory per task); default: the expert cache that 'generate' reads."),
    resume: bool = typer.Option(False, "--resume", help="Continue interrupted runs from their last finished iteration."),
    iterations: int = typer.Option(None, "--iterations", help="PPO iterations."),
    bc_steps: int = typer.Option(None, "--bc-steps", help="Behaviour-cloning gradient steps."),
    demos: int = typer.Option(None, "--demos", help="Human demonstrations cloned per task."),
    demos_from: Path = typer.Option(None, "--demos-from", help="Clone the human demonstrations of this dataset (written by 'import' or 'generate'); needed on libero. Default: the tabletop's simulated teleoperator."),
    sampler: str = typer.Option(None, "--sampler", help="ddim | ddpm (diffusion only)."),
    denoising_steps: int = typer.Option(None, "--denoising-steps", help="DDIM steps K (diffusion only)."),
    lr_schedule: str = typer.Option(None, "--lr-schedule", help="cosine | constant."),
    n_envs: int = typer.Option(None, "--n-envs", help="Parallel environments."),
    batch_size: int = typer.Option(None, "--batch-size", help="PPO minibatch size."),
    decoder: str = typer.Option(None, "--decoder", help="unet | mlp (diffusion only)."),
    encoder: str = typer.Option(None, "--encoder", help="mlp (state) | resnet (images)."),
    option: list[str] = typer.Option(None, "--option", help="Expert setting KEY=VALUE; policy.KEY / ppo.KEY reach nested settings (repeatable)."),
    ppo_option: list[str] = typer.Option(None, "--ppo", help="PPO setting KEY=VALUE, as --option ppo.KEY=VALUE (repeatable)."),
    policy_option: list[str] = typer.Option(None, "--policy", help="Policy setting KEY=VALUE, as --option policy.KEY=VALUE (repeatable)."),
    executor: str = executor_option(),
    ray_address: str = ray_address_option(),
    workers: int = workers_option(),
    device: str = device_option(),
) -> None:
    """Train RL experts: BC on human demonstrations, then PPO; resumable, with curves.

    The demonstrations are the simulated teleoperator's (tabletop) or, with --demos-from,
    the first --demos successful episodes of each task in a human dataset (on libero:
    LIBERO's HDF5 demonstrations brought in with 'diffrl-eval import').

    Each task's run directory holds the policy and value checkpoints (safetensors + JSON),
    curves.parquet (success, return, KL, clip fraction, value loss per iteration) and
    expert.json. Experts trained into the default cache are reused by 'generate'. With
    --executor ray each task's expert trains on its own Ray worker.

    Settings: the head's recipe preset, then the flags, --option KEY=VALUE and
    --ppo / --policy KEY=VALUE (see generators/expert/settings.py). --device runs BC and
    PPO on cpu, cuda or mps (the environments stay on the CPU); the checkpoints are the
    same files whatever the device, and a run may be resumed on another one.
    """
    from diffrl_eval.device import resolve_device
    from diffrl_eval.executor import make_executor

    resolved_device = resolve_device(device)
    runner = make_executor(executor, address=ray_address, workers=workers)
    env_backend = get_backend(backend)
    tasks = select_tasks(env_backend, suite, task)
    overrides = expert_overrides(
        option, sampler=sampler, denoising_steps=denoising_steps, lr_schedule=lr_schedule,
        n_envs=n_envs, batch_size=batch_size, decoder=decoder, encoder=encoder,
        iterations=iterations, bc_steps=bc_steps, demos=demos, demos_from=demos_from,
        ppo_options=ppo_option, policy_options=policy_option,
    )
    overrides["expert_seed"] = seed
    generator = expert_generator(source, env_backend, overrides, iterations, resolved_device)
    # absolute, so that workers started elsewhere write where this process looks
    runs = [generator.expert_run(t, (out / t.task_id).absolute() if out is not None else None)
            for t in tasks]
    for run in runs:  # refuse before any work starts
        run.check_same_run()
        generator.check_demonstrations(run.task, run)
        if run.started and not resume:
            raise UserError(
                f"{run.directory} holds an interrupted run; pass --resume to continue it "
                "or remove the directory to start over"
            )
    claims = contextlib.ExitStack()
    if out is not None:
        claims.enter_context(OutputClaim(out))
    for run in runs:  # a second run into the same directories refuses; a killed one's
        claims.enter_context(OutputClaim(run.directory))  # staging goes
        remove_stale_staging_under(run.directory)
    n_iterations = generator.config.ppo_config().n_iterations
    summary = Table(title=f"{source} experts")
    for column in ("task", "iterations", "env steps", "last success", "directory"):
        summary.add_column(column)
    for run in runs:
        if run.finished:
            console.print(f"{run.task.task_id}: finished expert found in {run.directory}")
    with claims, runner, progress_bar() as progress:
        where = "" if runner.in_process else f" on {runner.describe()}"
        overall = progress.add_task(f"{source}{where}", total=len(runs), status="")

        def train_here(run: Any) -> list[dict[str, float]]:
            """In this process: one bar per task, advancing per PPO iteration."""
            bar = progress.add_task(f"  {run.task.task_id}", total=n_iterations, status="",
                                    completed=len(run.history()))

            def on_iteration(stats: dict[str, float]) -> None:
                progress.update(bar, completed=int(stats["iteration"]) + 1,
                                status=iteration_status(stats))

            def on_stage(stage: str) -> None:
                progress.update(bar, description=f"  {run.task.task_id}: {stage}")

            history = train_expert_run(run, on_iteration=on_iteration, on_stage=on_stage)
            progress.update(bar, completed=n_iterations)
            return history

        histories = runner.imap(
            train_here if runner.in_process else train_expert_run, runs,
            desc=f"train-expert {source}", labels=[run.task.task_id for run in runs],
            on_done=lambda _: progress.update(overall, advance=1),
        )
        for run, history in zip(runs, histories):
            summary.add_row(run.task.task_id, str(len(history)),
                            str(int(sum(r["env_steps"] for r in history))),
                            _fmt(history[-1]["success_rate"]) if history else "-",
                            str(run.directory))
    console.print(summary)


def ablate(
    task: str = typer.Option(..., "--task", "-t", help="Task to run the ablation on."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the variants' runs, curves and chart (reruns resume)."),
    source: str = typer.Option("diffusion-ppo", "--source", help="RL generator: diffusion-ppo | gaussian-ppo."),
    variants: str = typer.Option(",".join(DEFAULT_VARIANTS), "--variants", help="Comma-separated variants: " + ", ".join(VARIANTS) + "."),
    backend: str = typer.Option("tabletop", "--backend", "-b", help="Environment backend."),
    seed: int = typer.Option(0, "--seed", help="Expert seed, the same for every variant."),
    iterations: int = typer.Option(None, "--iterations", help="PPO iterations per variant."),
    bc_steps: int = typer.Option(None, "--bc-steps", help="Behaviour-cloning gradient steps."),
    demos: int = typer.Option(None, "--demos", help="Human demonstrations cloned."),
    demos_from: Path = typer.Option(None, "--demos-from", help="Clone the human demonstrations of this dataset (needed on libero)."),
    option: list[str] = typer.Option(None, "--option", help="Setting for every variant, KEY=VALUE; policy.KEY / ppo.KEY reach nested settings."),
    ppo_option: list[str] = typer.Option(None, "--ppo", help="PPO setting for every variant, KEY=VALUE, as --option ppo.KEY=VALUE."),
    policy_option: list[str] = typer.Option(None, "--policy", help="Policy setting for every variant, KEY=VALUE, as --option policy.KEY=VALUE."),
    device: str = device_option(),
) -> None:
    """Stabilizer ablation: one expert per variant, success against environment steps.

    Writes OUT/<variant>/ (resumable expert runs), OUT/curves.parquet and OUT/ablation.html.
    """
    from diffrl_eval.device import resolve_device
    from generators.expert.ablation import (
        ablation_curves,
        ablation_report_input,
        parse_variants,
        variant_overrides,
    )

    resolved_device = resolve_device(device)
    env_backend = get_backend(backend)
    spec = env_backend.task(task)
    chosen = parse_variants(variants)
    base = expert_overrides(option, iterations=iterations, bc_steps=bc_steps, demos=demos,
                            demos_from=demos_from, ppo_options=ppo_option,
                            policy_options=policy_option)
    base["expert_seed"] = seed
    runs = {}
    for variant in chosen:  # every variant's settings are checked before any training
        generator = expert_generator(source, env_backend, variant_overrides(base, variant),
                                     iterations, resolved_device)
        runs[variant] = generator.expert_run(spec, out / variant)
        runs[variant].check_same_run()
        generator.check_demonstrations(spec, runs[variant])
    histories = {}
    with progress_bar() as progress:
        overall = progress.add_task(f"ablation on {task}", total=len(runs), status="")
        for variant, run in runs.items():
            total = run.settings.ppo_config().n_iterations
            bar = progress.add_task(f"  {variant}", total=total, status="",
                                    completed=len(run.history()))

            def on_iteration(stats: dict[str, float], bar=bar) -> None:
                progress.update(bar, completed=int(stats["iteration"]) + 1,
                                status=iteration_status(stats))

            run.train(on_iteration=on_iteration)
            histories[variant] = run.history()
            progress.update(overall, advance=1)
    curves = ablation_curves(histories)
    import io

    from diffrl_eval.atomic import write_bytes_atomic

    buffer = io.BytesIO()
    curves.write_parquet(buffer)
    write_bytes_atomic(out / "curves.parquet", buffer.getvalue(), overwrite=True)
    chart = out / "ablation.html"
    report_input = ablation_report_input(task, curves)
    if report_input["curves"]:
        staged = out / ".ablation.staged.html"
        staged.unlink(missing_ok=True)
        registry.report_builders.load("html")(
            [], staged, title=f"Stabilizer ablation: {task}",
            metadata={"task": task, "source": source, "seed": seed,
                      "variants": ", ".join(chosen)},
            ablation=report_input,
        )
        staged.replace(chart)
    else:
        console.print("no training episode ended in any variant: no chart (run more "
                      "iterations or longer rollouts)")
    table = Table(title=f"ablation on {task}")
    for column in ("variant", "iterations", "env steps", "last success"):
        table.add_column(column)
    for variant, history in histories.items():
        table.add_row(variant, str(len(history)), str(int(sum(h["env_steps"] for h in history))),
                      _fmt(history[-1]["success_rate"]) if history else "-")
    console.print(table)
    console.print(f"wrote {out / 'curves.parquet'}" + (f" and {chart}" if chart.exists() else ""))


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (the ``diffrl_eval.commands`` entry point's value)."""
    app.command("train-expert")(train_expert)
    app.command("ablate")(ablate)


__all__ = ["expert_overrides", "register", "train_expert"]
