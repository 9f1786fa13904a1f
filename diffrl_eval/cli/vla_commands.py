"""`vla train` and `vla eval`: the downstream half of the comparison.

The VLA code is reached lazily (importing torch and the models costs seconds), so
``--help`` and argument errors stay instant.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from diffrl_eval.atomic import check_new_file, write_text_atomic
from diffrl_eval.cli.data import (
    device_option,
    executor_option,
    ray_address_option,
    workers_option,
)
from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.errors import UserError
from diffrl_eval.validation import dumps_json

vla_app = typer.Typer(help="Fine-tune and evaluate VLA models.", no_args_is_help=True)
console = Console()


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--seeds expects comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds expects distinct comma-separated integers, got {text!r}")
    return seeds


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@vla_app.command("train")
def vla_train(
    data: list[str] = typer.Option(..., "--data", help="Dataset (repeatable: several sources train one model): a directory of this tool, or a LeRobot directory / Hub id / LIBERO HDF5 in LIBERO's layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint directory to create."),
    vla: str = typer.Option(DEFAULT_VLA, "--vla", help="VLA to train (a name in the diffrl_eval.vlas entry-point group)."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
    seeds: str = typer.Option(None, "--seeds", help="Comma-separated seeds: one checkpoint per seed, OUT/seed-<n>."),
    hparams: Path = typer.Option(None, "--hparams", help="Hyper-parameter JSON file (its hash goes into every result)."),
    preset: str = typer.Option(None, "--preset", help="One of the VLA's hparams presets (tiny-vla: quick | full), when no --hparams file is given."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    device: str = device_option(),
) -> None:
    """Fine-tune a VLA on one or more datasets (one backend, one action dimension)."""
    from diffrl_eval.device import resolve_device
    from diffrl_eval.vla.hparams import hparams_hash
    from diffrl_eval.vla.training import trainable_vla

    if hparams is not None and preset is not None:
        raise UserError("give --hparams or --preset, not both (a file may name its preset)")
    torch_device = resolve_device(device)
    values = vla_hparams(trainable_vla(vla), hparams, preset)
    from diffrl_eval.atomic import ScratchDir

    with ScratchDir(out) as workdir:  # datasets of other formats, converted beside --out
        from diffrl_eval.dataset.sources.convert import native_path

        datasets = [native_path(location, workdir)[0] for location in data]
        paths = _train(datasets, out, vla, values, seed, seeds, overwrite, torch_device)
    info = json.loads((paths[0] / "checkpoint.json").read_text())
    console.print(f"hparams {hparams_hash(info['hparams'])} ({vla} on {torch_device})")
    for path in paths:
        console.print(f"wrote {path}")


def vla_hparams(cls, hparams_file: Path | None, preset: str | None) -> dict:
    """The complete hparams of VLA class ``cls`` from ``--hparams`` or ``--preset`` (neither:
    the VLA's defaults); an unknown preset or key is a one-line error."""
    from diffrl_eval.vla.hparams import PRESET_KEY, read_hparams_file
    from diffrl_eval.vla.interface import unknown_preset

    if hparams_file is not None:
        return cls.resolve_hparams(read_hparams_file(hparams_file))
    if preset is not None and preset not in cls.hparams_presets:
        raise unknown_preset(cls, preset)
    return cls.resolve_hparams({PRESET_KEY: preset} if preset is not None else {})


def _train(data: list[Path], out: Path, vla: str, values: dict, seed: int, seeds: str | None,
           overwrite: bool, device: str) -> list[Path]:
    from diffrl_eval.vla.training import train_vla, train_vla_seeds

    if seeds is not None:
        return train_vla_seeds(data, out, seeds=_parse_seeds(seeds), vla=vla, hparams=values,
                               overwrite=overwrite, device=device)
    return [train_vla(data, out, vla=vla, hparams=values, seed=seed, overwrite=overwrite,
                      device=device)]


def _rate(summary: dict) -> str:
    return (f"{summary['successes']}/{summary['episodes']}  {summary['rate']:.0%} "
            f"[{summary['ci_low']:.0%}, {summary['ci_high']:.0%}]")


def _result_table(result: dict) -> Table:
    table = Table(title=f"{result['vla']} {result['protocol']} ({', '.join(result['training']['sources'])})")
    table.add_column("suite")
    table.add_column("task")
    table.add_column("success [95% CI]", justify="right")
    for task_id, task in result["per_task"].items():
        table.add_row(task["suite"], task_id, _rate(task))
    for suite, summary in result["per_suite"].items():
        table.add_row(suite, "[bold]all tasks[/bold]", _rate(summary))
    table.add_row("[bold]overall[/bold]", "", _rate(result["overall"]))
    return table


def _seeds_table(aggregate: dict) -> Table:
    seeds = ", ".join(str(s) for s in aggregate["seeds"])
    table = Table(title=f"{aggregate['protocol']} ({', '.join(aggregate['sources'])}), "
                        f"seeds {seeds}: mean ± std")
    table.add_column("suite / task")
    table.add_column("success", justify="right")
    table.add_column("per seed", justify="right")

    def row(name: str, spread: dict) -> None:
        table.add_row(name, f"{spread['mean']:.1%} ± {spread['std']:.1%}",
                      "  ".join(f"{r:.0%}" for r in spread["rates"]))

    for task_id, spread in aggregate["per_task"].items():
        row(task_id, spread)
    for suite, spread in aggregate["per_suite"].items():
        row(f"[bold]{suite}[/bold]", spread)
    row("[bold]overall[/bold]", aggregate["overall"])
    return table


@vla_app.command("eval")
def vla_eval(
    ckpt: list[Path] = typer.Option(None, "--ckpt", help="Checkpoint directory (repeatable; a multi-seed directory counts as all its seeds). With --vla, a directory without checkpoint.json is whatever that VLA's load reads (a model trained elsewhere)."),
    suite: str = typer.Option(..., "--suite", "--suites", "--eval-suites", "-s", help="Suite(s) to evaluate on, comma-separated."),
    episodes_per_task: int = typer.Option(50, "--episodes-per-task", help="Episodes per task (episode i starts from fixed initial state i)."),
    seed: int = typer.Option(0, "--seed", help="Evaluation seed."),
    task: list[str] = typer.Option(None, "--task", "-t", help="Only this task (repeatable)."),
    protocol: str = typer.Option(None, "--protocol", help="in-distribution | ood-zero-shot (default: from the training suites)."),
    envs: int = typer.Option(25, "--envs", help="Environments run side by side in one job."),
    episodes_per_job: int = typer.Option(None, "--episodes-per-job", help="Cut each task's episodes into jobs of this many (default: one job per task and checkpoint)."),
    json_out: Path = typer.Option(None, "--json", help="Write the result JSON here."),
    record: int = typer.Option(0, "--record", help="Replay the first N episodes of each task into MP4 videos (step and outcome drawn on the frames), written to JSON-STEM-rollouts/ next to --json and listed in it."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
    executor: str = executor_option(),
    ray_address: str = ray_address_option(),
    workers: int = workers_option(),
    vla: str = typer.Option(None, "--vla", help="VLA that reads the --ckpt directories (default: the one each checkpoint.json names); needed for models trained elsewhere."),
    backend: str = typer.Option(None, "--backend", "-b", help="Backend a model trained elsewhere or a served policy acts in (default: a checkpoint of this tool knows its own; a policy server's declared one, else the backend that has --suite; else tabletop)."),
    device: str = device_option(),
    policy_server: str = typer.Option(None, "--policy-server", help="Evaluate the policy served at ws://HOST:PORT (openpi's websocket protocol) instead of a checkpoint."),
    policy_keys: str = typer.Option(None, "--policy-keys", help="With --policy-server: NAME=WIRE_KEY pairs, comma-separated, or a .toml file ([policy_keys] table); NAME is an observation key, 'instruction' or 'actions'; an empty WIRE_KEY is not sent. Default: openpi/LeRobot names (observation/image, observation/wrist_image, observation/state, prompt, actions; other keys as observation/NAME)."),
    executed_steps: int = typer.Option(None, "--executed-steps", help="With --policy-server: actions executed per chunk (default: the server's, else the whole chunk)."),
    image_size: int = typer.Option(None, "--image-size", help="With --policy-server: camera size sent (0: no cameras; default: the server's, else 224)."),
    sources: str = typer.Option(None, "--sources", help="With --policy-server: comma-separated names of the data the served policy was trained on, for the result (default: the server's, else 'remote')."),
    connect_timeout: float = typer.Option(30.0, "--connect-timeout", help="With --policy-server: seconds to wait for the connection and the server's metadata."),
    reply_timeout: float = typer.Option(120.0, "--reply-timeout", help="With --policy-server: seconds to wait for each action chunk."),
) -> None:
    """Evaluate VLA checkpoints, or a policy server: success per task, suite and overall
    with Wilson 95% intervals; several checkpoints (training seeds) give mean ± std. With
    --executor ray each job (a task of a checkpoint) runs on a Ray worker; the results are
    the same."""
    from diffrl_eval.device import resolve_device
    from diffrl_eval.executor import make_executor
    from diffrl_eval.vla.aggregate import check_same_hparams
    from diffrl_eval.vla.evaluation import (
        check_eval_options,
        checkpoint_info,
        evaluate_checkpoints,
    )

    check_eval_options(episodes_per_task, envs, episodes_per_job, record)
    if (policy_server is None) == (not ckpt):
        raise UserError("give --ckpt (checkpoints) or --policy-server (a served policy), "
                        "one of them")
    if policy_server is not None and (executor != "local" or episodes_per_job is not None):
        raise UserError("--policy-server evaluates in this process: drop --executor and "
                        "--episodes-per-job")
    if policy_server is not None and vla is not None:
        raise UserError("--vla names the VLA that reads --ckpt; a policy server is its own "
                        "model: drop --vla")
    torch_device = resolve_device(device)
    if vla is not None:
        from diffrl_eval import registry

        registry.vlas.entry(vla)  # unknown names are one-line errors before anything runs
    if backend is not None:
        from diffrl_eval.envs.base import get_backend

        get_backend(backend)
    runner = make_executor(executor, address=ray_address, workers=workers)  # starts nothing yet
    if json_out is not None:
        check_new_file(json_out, overwrite=overwrite)
    record_dir = None
    if record:
        if json_out is None:
            raise UserError("--record needs --json: the videos are written next to it")
        record_dir = json_out.with_name(f"{json_out.stem}-rollouts")
        if record_dir.exists() and not overwrite:
            raise UserError(f"{record_dir} exists; pass --overwrite to replace it")
    suites = _split(suite)
    if policy_server is not None:
        from diffrl_eval.policy_server.evaluation import evaluate_policy_server
        from diffrl_eval.policy_server.keys import parse_key_mapping

        results = [evaluate_policy_server(
            policy_server, suites, episodes_per_task=episodes_per_task, seed=seed,
            tasks=task or None, protocol=protocol, backend=backend,
            keys=parse_key_mapping(policy_keys), executed_steps=executed_steps,
            image_size=image_size, sources=_split(sources) if sources else None,
            connect_timeout=connect_timeout, reply_timeout=reply_timeout, n_envs=envs,
            record=record, record_dir=record_dir)]
        _report(results, json_out, record_dir, overwrite)
        return
    checkpoints = [path for given in ckpt for path in _checkpoints(given, vla is not None)]
    infos = [checkpoint_info(path, vla, backend) for path in checkpoints]
    # refuse before spending time on evaluation
    check_same_hparams([info["hparams_hash"] for info in infos], [str(p) for p in checkpoints])
    with runner:
        results = evaluate_checkpoints(
            checkpoints, suites, episodes_per_task=episodes_per_task, seed=seed,
            tasks=task or None, protocol=protocol, n_envs=envs,
            episodes_per_job=episodes_per_job, executor=runner, record=record,
            record_dir=record_dir, vla=vla, backend=backend, device=torch_device)
    _report(results, json_out, record_dir, overwrite)


def _report(results: list[dict], json_out: Path | None, record_dir: Path | None,
            overwrite: bool) -> None:
    """Print the evaluation's tables and write its JSON (once everything has run)."""
    from diffrl_eval.vla.evaluation import aggregate_seeds

    for result in results:
        console.print(_result_table(result))
    output = results[0] if len(results) == 1 else aggregate_seeds(results)
    if len(results) > 1:
        console.print(_seeds_table(output))
    if json_out is not None:
        write_text_atomic(json_out, dumps_json(output, indent=2) + "\n", overwrite=overwrite)
        console.print(f"wrote {json_out}")
    if record_dir is not None:
        console.print(f"wrote {sum(1 for _ in record_dir.rglob('*.mp4'))} rollout videos to "
                      f"{record_dir}")


def _checkpoints(given: Path, foreign_allowed: bool) -> list[Path]:
    """The checkpoints ``--ckpt given`` stands for: itself, its ``seed-<n>`` checkpoints,
    or (with --vla) a directory of a model trained elsewhere."""
    from diffrl_eval.vla.checkpoint import checkpoint_dirs

    try:
        return checkpoint_dirs(given)
    except UserError:
        if foreign_allowed and given.is_dir():
            return [given]
        raise


def register(app: typer.Typer) -> None:
    """Top-level commands of this module (none besides the `vla` group)."""
