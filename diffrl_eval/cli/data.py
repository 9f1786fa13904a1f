"""`generate` and `metrics`: produce a dataset, measure its quality."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from diffrl_eval import constants as C
from diffrl_eval import registry
from diffrl_eval.atomic import check_new_file, write_text_atomic
from diffrl_eval.cli.source_options import SourceOptions, open_dataset, with_source_options
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.generator import ClonesDemonstrations, cloning_sources
from diffrl_eval.validation import dumps_json

console = Console()

# the demonstrations every comparison measures against; the RL experts clone them
HUMAN_SOURCE = "human"
# a file argument of "-" means standard output
STDOUT = "-"


def parse_options(pairs: list[str] | None) -> dict[str, object]:
    """Parse ``KEY=VALUE`` strings; values are read as JSON when they parse, else as text."""
    options: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            options[key.replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = raw
    return options


def nest_options(options: dict[str, object]) -> dict[str, object]:
    """``SECTION.KEY`` options as nested settings: {"ppo.n_envs": 2} -> {"ppo": {"n_envs": 2}},
    merged over a whole ``SECTION`` given as a JSON object."""
    nested = {key: value for key, value in options.items() if "." not in key}
    for key, value in options.items():
        section, dot, field = key.partition(".")
        if not dot:
            continue
        inner = nested.setdefault(section, {})
        if not isinstance(inner, dict):
            raise UserError(f"--option {key}: {section} is not a group of settings")
        nested[section] = {**inner, field: value}
    return nested


def executor_option() -> typer.models.OptionInfo:
    return typer.Option("local", "--executor", help="Where per-task work runs: local (this process, one task after another) | ray (Ray workers).")


def device_option() -> typer.models.OptionInfo:
    return typer.Option("cpu", "--device", help="Torch device: cpu | cuda | mps | auto (auto: cuda if available, else mps, else cpu).")


def ray_address_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--ray-address", help="Ray cluster to join (auto, HOST:PORT or ray://HOST:PORT); default: start Ray on this machine.")


def workers_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--workers", help="Ray tasks at once (default: one per CPU of the runtime).")


def generate(
    source: str = typer.Option(..., "--source", help="Generator name (see 'generators list')."),
    suite: str = typer.Option(None, "--suite", "-s", help="Suite whose tasks to generate."),
    task: list[str] = typer.Option(None, "--task", "-t", help="A task id (repeatable); instead of --suite."),
    episodes: int = typer.Option(50, "--episodes", "-n", help="Episodes per task."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to create (must not exist)."),
    seed: int = typer.Option(0, "--seed", help="Base seed; the same seed gives the same dataset."),
    backend: str = typer.Option("tabletop", "--backend", "-b", help="Environment backend."),
    images: bool = typer.Option(False, "--images/--no-images", help="Record agent-view and wrist camera images."),
    image_size: int = typer.Option(128, "--image-size", help="Camera image height and width in pixels."),
    option: list[str] = typer.Option(None, "--option", help="Generator setting KEY=VALUE (repeatable); SECTION.KEY=VALUE reaches a nested setting (ppo.n_envs=8)."),
    demos_from: Path = typer.Option(None, "--demos-from", help="RL sources: clone the human demonstrations of this dataset (written by 'import' or 'generate'); needed on libero."),
    executor: str = executor_option(),
    ray_address: str = ray_address_option(),
    workers: int = workers_option(),
) -> None:
    """Generate a dataset: EPISODES per task of a suite (or of the given tasks).

    On libero the human source is not generated: 'import' brings in LIBERO's HDF5
    demonstrations, and the RL sources clone them with --demos-from.
    """
    from diffrl_eval.datagen import generate_dataset
    from diffrl_eval.executor import make_executor

    if episodes <= 0:
        raise UserError(f"--episodes must be a positive integer, got {episodes}")
    if image_size <= 0:
        raise UserError(f"--image-size must be a positive integer, got {image_size}")
    if (suite is None) == (not task):
        raise UserError("give exactly one of --suite or --task")
    generator_cls = registry.generators.load(source)
    env_backend = get_backend(backend)
    if source == HUMAN_SOURCE and env_backend.human_demonstrations_hint is not None:
        raise UserError(f"the human source is not generated on backend {backend!r}: "
                        f"{env_backend.human_demonstrations_hint}")
    if suite is not None:
        env_backend.check_suite(suite)
        tasks = env_backend.tasks(suite)
    else:
        tasks = [env_backend.task(t) for t in task]
    options = nest_options(parse_options(option))
    if demos_from is not None:
        if source not in cloning_sources():
            raise UserError(f"--demos-from is for the sources that clone demonstrations "
                            f"({', '.join(cloning_sources())}), not {source!r}")
        options["demos_from"] = str(demos_from.absolute())
    config = generator_cls.make_config(options)
    env_options = {"images": images, "image_size": image_size} if images else {}
    generator = generator_cls(env_backend, config, workdir=None, env_options=env_options)
    if isinstance(generator, ClonesDemonstrations):
        for spec in tasks:  # refuse before any expert trains
            generator.check_demonstrations(spec)
    with make_executor(executor, address=ray_address, workers=workers) as runner:
        path = generate_dataset(
            generator, tasks, n_episodes=episodes, seed=seed, out=out, suite=suite,
            executor=runner,
        )
    console.print(f"wrote {path}")


@with_source_options
def metrics(
    dataset: str = typer.Argument(..., help="Dataset: a directory of this tool, a LeRobot dataset directory, a robomimic HDF5 file or folder, or a Hub id OWNER/NAME."),
    json_out: Path = typer.Option(None, "--json", help="Also write the results as JSON here ('-': stdout, nothing else printed)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
    chunk_steps: int = typer.Option(None, "--chunk-steps", help="Actions executed per policy decision: also show the action second difference and jerk by position within the executed chunk (successful episodes; datasets of this tool's format). Default: what the dataset's generator recorded, if anything."),
    *,
    source_options: SourceOptions,
) -> None:
    """Data-quality metrics of a dataset: success (Wilson 95%), length, no-ops, jerk, variance.

    Reads any known format; how its features were interpreted (end-effector, control rate,
    action layout) is printed and written into the results. For chunked data (an RL
    expert's, or with --chunk-steps) also where the roughness sits within the executed
    chunk: positions 0 and Te-1 straddle a chunk boundary.
    """
    from diffrl_eval.metrics import format_metrics_table
    from diffrl_eval.metrics.source_metrics import measure_source
    from diffrl_eval.metrics.table import quality_lines

    if chunk_steps is not None and chunk_steps < 1:
        raise UserError(f"--chunk-steps must be a positive integer, got {chunk_steps}")
    native = (Path(dataset) / "manifest.json").is_file()
    if chunk_steps is not None and not native:
        raise UserError("--chunk-steps needs a dataset directory of this tool's format "
                        f"(manifest.json); {dataset} is not one")
    to_stdout = json_out is not None and str(json_out) == STDOUT
    if json_out is not None and not to_stdout:
        check_new_file(json_out, overwrite=overwrite)
    opened = open_dataset(dataset, source_options, console=None if to_stdout else console)
    result = measure_source(opened)
    if native:
        from diffrl_eval.dataset import load_dataset

        loaded = load_dataset(Path(dataset))
        if chunk_steps is None:
            generation = (loaded.manifest.get("generator_config") or {}).get(C.GENERATION_KEY)
            chunk_steps = (generation or {}).get(C.EXECUTED_CHUNK_STEPS)
        if chunk_steps is not None:
            result["chunk_position"] = _chunk_position(
                loaded, int(chunk_steps), console=None if to_stdout else console)
    if to_stdout:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    console.print(format_metrics_table(result))
    for line in quality_lines(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        write_text_atomic(json_out, dumps_json(result, indent=2) + "\n", overwrite=overwrite)
        console.print(f"wrote {json_out}")


def _chunk_position(loaded, chunk_steps: int, console: Console | None) -> dict:
    """The by-chunk-position table, printed on ``console`` when given; JSON-ready."""
    from rich.table import Table

    from diffrl_eval.metrics import roughness_by_chunk_position

    rows = roughness_by_chunk_position(loaded.frames_df, chunk_steps, loaded.control_hz,
                                       successful_only=True)
    table = Table(title=f"roughness by position in the executed chunk (Te = {chunk_steps}, "
                        "successful episodes)")
    for header in ("position", "boundary", "samples", "action Δ² (squared)",
                   "jerk² (m/s³)²"):
        table.add_column(header, justify="right")
    for row in rows.iter_rows(named=True):
        table.add_row(str(row["position"]), "yes" if row["boundary"] else "",
                      str(row["samples"]), f"{row['action_second_difference']:.4g}",
                      f"{row['squared_jerk']:.4g}")
    if console is not None:
        console.print(table)
    return {"chunk_steps": chunk_steps, "successful_only": True,
            "rows": [{key: (None if isinstance(value, float) and value != value else value)
                      for key, value in row.items()} for row in rows.to_dicts()]}


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("metrics")(metrics)
    app.command("render")(render)


def render(
    dataset: Path = typer.Argument(..., help="Dataset directory."),
    episode: int = typer.Option(0, "--episode", "-e", help="Episode index to render."),
    out: Path = typer.Option(..., "--out", "-o", help="Clip file to create: .gif, .mp4 (H.264), .webm (VP9) or .webp."),
    camera: str = typer.Option("agentview_image", "--camera", help="agentview_image | wrist_image."),
    image_size: int = typer.Option(128, "--image-size", help="Frame size when replaying."),
    fps: int = typer.Option(20, "--fps", help="Frames per second of the animation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Write a clip of one episode (GIF, MP4, WebM or animated WebP, by --out's suffix),
    so a person can look at it.

    Uses the dataset's recorded camera frames when it has them; otherwise replays the
    episode's actions in its environment from the state it started in.
    """
    from diffrl_eval.clip import check_clip_path, episode_frames, write_clip
    from diffrl_eval.dataset import load_dataset

    check_clip_path(out)
    if camera not in C.CAMERA_KEYS:
        raise UserError(f"unknown camera {camera!r}; valid choices: {', '.join(C.CAMERA_KEYS)}")
    if image_size <= 0 or fps <= 0:
        raise UserError("--image-size and --fps must be positive integers")
    check_new_file(out, overwrite=overwrite)
    loaded = load_dataset(dataset)
    n_episodes = int(loaded.manifest["n_episodes"])
    if not 0 <= episode < n_episodes:
        raise UserError(f"--episode must be in [0, {n_episodes - 1}], got {episode}")
    frames = episode_frames(loaded, episode, camera=camera, image_size=image_size)
    write_clip(frames, out, fps=fps, overwrite=overwrite)
    console.print(f"wrote {out} ({len(frames)} frames)")
