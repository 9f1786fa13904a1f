"""Bad input, as a table: every row is one thing a user can get wrong, the command it is
given to, the exit code, and a fragment of the one ``error:`` line it must produce.

This file is the specification of the CLI's bad-input promise (the README links here):
bad input is exactly one line on stderr starting ``error: ``, naming the problem (and the
valid choices where there are any), exit code 2, no traceback, and nothing written under
the output's name. Environment faults (exit 3) are specified in
``test_faults_every_writing_command.py``.

Placeholders in the arguments: ``{ds}`` a good dataset, ``{bad}`` the row's broken input,
``{metrics}`` a good metrics JSON, ``{ckpt}`` a good VLA checkpoint, ``{hdf5}`` a good LIBERO
demo file, ``{hparams}`` a good hparams file, ``{out}`` an output path that must stay absent.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import error_line, run_cli
from fault_fixtures import (
    TINY_HPARAMS,
    edited_copy,
    generate_dataset,
)

from diffrl_eval import constants as C
from diffrl_eval.dataset.format import FRAMES_NAME, MANIFEST_NAME

TASK = "spatial_left_cube_on_plate"


@dataclass(frozen=True)
class Row:
    kind: str  # the class of fault, for the summary in the docs
    what: str  # the bad input, in words
    argv: tuple[str, ...]
    fragment: str
    make: Callable[[Path, dict], Path] | None = None  # builds {bad} in a folder
    code: int = 2


ROWS: list[Row] = []
EMPTY = "''"  # an empty argument, in the space-separated argument strings below
PLACEHOLDER = re.compile(r"\{(ds|bad|metrics|ckpt|hdf5|hparams|out)\}")


def row(kind: str, what: str, argv: str, fragment: str, make=None, code: int = 2) -> None:
    ROWS.append(Row(kind, what, tuple(argv.split()), fragment, make, code))


# ---------------------------------------------------------------------------------------------
# bad names: every name a user types has a list of valid ones, and the error shows it
GEN = "generate --source human --episodes 1 --out {out}"
for flag, value, fragment in [
    ("--source", "nope", "unknown generator 'nope'"),
    ("--source", "Human", "unknown generator 'Human'"),
    ("--source", "", "unknown generator ''"),
    ("--backend", "nope", "unknown"),
    ("--backend", "LIBERO", "unknown"),
    ("--suite", "nope", "unknown tabletop suite 'nope'"),
    ("--suite", "libero_spatial", "unknown tabletop suite 'libero_spatial'"),
    ("--task", "nope", "unknown task 'nope'"),
    ("--task", "spatial_left_cube_on_plat", "unknown task 'spatial_left_cube_on_plat'"),
    ("--executor", "slurm", "slurm"),
]:
    base = GEN.replace("--source human", "") if flag == "--source" else GEN
    target = "" if flag in ("--suite", "--task") else f"--task {TASK}"
    row("bad names", f"generate {flag} {value!r}", f"{base} {flag} {value or EMPTY} {target}",
        fragment)
for args, fragment in [
    ("export {ds} {out} --format nope", "unknown export format 'nope'"),
    ("export {ds} {out} --format LeRobot", "unknown export format 'LeRobot'"),
    ("export {ds} {out} --format hdf5", "unknown export format 'hdf5'"),
    ("export {ds} {out} --video-codec vp9", "vp9"),
    ("import {hdf5} {out} --format nope", "unknown import format 'nope'"),
    ("import {hdf5} {out} --format lerobot", "unknown import format 'lerobot'"),
    ("import {hdf5} {out} --suite libero_nope", "unknown libero suite 'libero_nope'"),
    ("import {hdf5} {out} --suite tabletop-spatial", "unknown libero suite 'tabletop-spatial'"),
    ("render {ds} -o {out}.gif --camera top", "unknown camera 'top'"),
    ("render {ds} -o {out}.gif --camera agentview", "unknown camera 'agentview'"),
    ("vla train --data {ds} --out {out} --vla nope", "nope"),
    ("vla train --data {ds} --out {out} --preset medium", "unknown hparams preset 'medium'"),
    ("vla eval --ckpt {ckpt} --suite nope", "nope"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --task nope", "nope"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --protocol both", "both"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --executor slurm", "slurm"),
    ("check {ds} --baseline {metrics} --metric speed", "speed"),
    ("check {ds} --baseline {metrics} --metric success", "success"),
    ("check {ds} --baseline {metrics} --scope episode", "episode"),
    ("check {ds} --baseline {metrics} --tolerance speed=0.1", "speed"),
    ("check {ds} --baseline {metrics} --abs-tolerance jerk=0.1", "jerk"),
    ("compare --sources human,nope --out {out} --seeds 0", "nope"),
    ("compare --sources human --backend nope --out {out}", "nope"),
    ("compare --sources human --preset medium --out {out}", "medium"),
    ("compare --sources human --executor slurm --out {out}", "slurm"),
    ("train-expert --source nope --task goal_open_drawer --out {out}", "nope"),
    ("train-expert --source human --task goal_open_drawer --out {out}", "human"),
    ("train-expert --source gaussian-ppo --task nope --out {out}", "unknown task 'nope'"),
    ("train-expert --source gaussian-ppo --suite nope --out {out}", "nope"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --sampler ddpx --out {out}",
     "ddpx"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --lr-schedule linear "
     "--out {out}", "linear"),
    ("train-expert --source diffusion-ppo --task goal_open_drawer --decoder cnn --out {out}",
     "cnn"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --encoder vit --out {out}",
     "unknown expert encoder 'vit'"),
    ("tasks list --backend nope", "nope"),
    ("metrics {ds} --bogus", "--bogus"),
    ("nope", "nope"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --vla nope", "unknown VLA 'nope'"),
    ("compare --sources human --out {out} --vla nope", "unknown VLA 'nope'"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --backend nope", "nope"),
    ("vla train --data {ds} --out {out} --device tpu", "unknown --device 'tpu'"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --device tpu", "unknown --device 'tpu'"),
    ("compare --sources human --out {out} --device tpu", "unknown --device 'tpu'"),
    ("train-expert --device tpu --source gaussian-ppo --task goal_open_drawer --out {out}",
     "unknown --device 'tpu'"),
]:
    row("bad names", args[:60], args, fragment)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


if not _cuda_available():  # a GPU machine runs these commands instead of refusing them
    for args in ("vla train --data {ds} --out {out} --device cuda",
                 "vla eval --ckpt {ckpt} --suite tabletop-spatial --device cuda",
                 "compare --sources human --out {out} --device cuda",
                 "train-expert --device cuda --source gaussian-ppo --task goal_open_drawer "
                 "--out {out}"):
        row("bad names", args[:60], args, "--device cuda: torch sees no CUDA GPU")

# ---------------------------------------------------------------------------------------------
# counts: zero, negative and out-of-range numbers are refused before any work
for args, fragment in [
    (f"generate --source human --task {TASK} --episodes 0 --out {{out}}", "--episodes"),
    (f"generate --source human --task {TASK} --episodes -3 --out {{out}}", "--episodes"),
    (f"generate --source human --task {TASK} --episodes many --out {{out}}", "--episodes"),
    (f"generate --source human --task {TASK} --episodes 1.5 --out {{out}}", "--episodes"),
    (f"generate --source human --task {TASK} --image-size 0 --images --out {{out}}", "--image-size"),
    (f"generate --source human --task {TASK} --image-size -8 --out {{out}}", "--image-size"),
    (f"generate --source human --task {TASK} --seed x --out {{out}}", "--seed"),
    (f"generate --source human --suite tabletop-spatial --task {TASK} --out {{out}}",
     "exactly one of --suite or --task"),
    ("generate --source human --out {out}", "exactly one of --suite or --task"),
    ("render {ds} -o {out}.gif --episode 2", "--episode must be in [0, 1]"),
    ("render {ds} -o {out}.gif --episode -1", "--episode must be in [0, 1]"),
    ("render {ds} -o {out}.gif --episode 999999", "--episode must be in [0, 1]"),
    ("render {ds} -o {out}.gif --fps 0", "--fps"),
    ("render {ds} -o {out}.gif --fps -5", "--fps"),
    ("render {ds} -o {out}.gif --image-size 0", "--image-size"),
    ("render {ds} -o {out}.png", "unknown clip format"),
    ("vla train --data {ds} --out {out} --seeds 1,1", "distinct"),
    ("vla train --data {ds} --out {out} --seeds a,b", "--seeds expects"),
    ("vla train --data {ds} --out {out} --seeds ,", "--seeds expects"),
    ("vla train --data {ds} --out {out} --hparams {hparams} --preset quick", "not both"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --episodes-per-task 0", "episodes"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --episodes-per-task -1", "episodes"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --envs 0", "envs"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --episodes-per-job 0", "episodes-per-job"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --workers 0 --executor ray", "workers"),
    ("check {ds} --baseline {metrics} --tolerance -0.1", "tolerance"),
    ("check {ds} --baseline {metrics} --tolerance abc", "tolerance 'abc'"),
    ("check {ds} --baseline {metrics} --tolerance nan", "tolerance"),
    ("check {ds} --baseline {metrics} --tolerance inf", "tolerance"),
    ("check {ds} --baseline {metrics} --abs-tolerance -1", "tolerance"),
    ("check {ds}", "--baseline"),
    ("compare --sources human --seeds 1,1 --out {out}", "seeds"),
    ("compare --sources human --seeds x --out {out}", "seeds"),
    ("compare --sources human --variance-dimension 7 --out {out}", "--variance-dimension"),
    ("compare --sources human --variance-dimension -1 --out {out}", "--variance-dimension"),
    ("compare --sources '' --out {out}", "sources"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --iterations 0 --out {out}",
     "n_iterations must be >= 1"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --bc-steps 0 --out {out}",
     "gradient_steps must be >= 1"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --n-envs 0 --out {out}",
     "n_envs must be >= 1"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --batch-size 0 --out {out}",
     "batch_size must be >= 1"),
    ("train-expert --source gaussian-ppo --task goal_open_drawer --demos 0 --out {out}",
     "demonstrations"),
    ("train-expert --source diffusion-ppo --task goal_open_drawer --denoising-steps 0 "
     "--out {out}", "denoising_steps"),
]:
    row("counts", args[:60], args, fragment)

# ---------------------------------------------------------------------------------------------
# corrupt datasets: every command that reads a dataset refuses a broken one the same way


def corrupt(edit: Callable[[Path], None]) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        out = folder / "ds"
        shutil.copytree(fixtures["dataset"], out)
        edit(out)
        return out
    return make


def _frames(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / FRAMES_NAME)


def _write_frames(out: Path, frames: pl.DataFrame) -> None:
    frames.write_parquet(out / FRAMES_NAME)


def _nan_in(column: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        frames = _frames(out)
        values = np.stack(frames[column].to_numpy()).astype(np.float32) if column != C.COL_REWARD \
            else frames[column].to_numpy().astype(np.float32)
        values = values.copy()
        values.flat[3] = np.nan
        series = pl.Series(column, values.tolist() if values.ndim > 1 else values)
        if values.ndim > 1:
            series = series.cast(pl.Array(pl.Float32, values.shape[1]))
        _write_frames(out, frames.with_columns(series))
    return edit


CORRUPT_DATASETS = {
    "no such directory": (lambda folder, fixtures: folder / "missing", "dataset not found"),
    "a file, not a directory": (
        lambda folder, fixtures: (folder / "file.txt").write_text("x") and folder / "file.txt",
        "not a dataset of a known format"),
    "no manifest": (corrupt(lambda o: (o / MANIFEST_NAME).unlink()), "no manifest.json"),
    "manifest not JSON": (corrupt(lambda o: (o / MANIFEST_NAME).write_text("{ nope")),
                          "not valid JSON"),
    "manifest empty": (corrupt(lambda o: (o / MANIFEST_NAME).write_text("")), "not valid JSON"),
    "manifest a list": (corrupt(lambda o: (o / MANIFEST_NAME).write_text("[]")),
                        "must hold a JSON object"),
    "manifest binary": (corrupt(lambda o: (o / MANIFEST_NAME).write_bytes(b"\xff\xfe\x00")),
                        "not valid JSON"),
    "manifest with NaN": (corrupt(lambda o: (o / MANIFEST_NAME).write_text(
        (o / MANIFEST_NAME).read_text().replace('"seed": 0', '"seed": NaN'))), "finite"),
    "no frames file": (corrupt(lambda o: (o / FRAMES_NAME).unlink()),
                       "frame file frames.parquet is missing"),
    "frames not Parquet": (corrupt(lambda o: (o / FRAMES_NAME).write_text("hello")),
                           "unreadable Parquet"),
    "frames truncated": (corrupt(lambda o: (o / FRAMES_NAME).write_bytes(
        (o / FRAMES_NAME).read_bytes()[:500])), "unreadable Parquet"),
    "frames empty file": (corrupt(lambda o: (o / FRAMES_NAME).write_bytes(b"")),
                          "unreadable Parquet"),
    "a column missing": (corrupt(lambda o: _write_frames(o, _frames(o).drop(C.COL_ACTION))),
                         "missing column(s) action"),
    "an extra column": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.lit(1).alias("bonus")))), "unexpected column(s) bonus"),
    "actions 6-D": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.col(C.COL_ACTION).arr.head(6).list.to_array(6)))), "must be 7-D float vectors"),
    "reward as text": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.col(C.COL_REWARD).cast(pl.String)))), "column 'reward' must be"),
    "episode as float": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.col(C.COL_EPISODE).cast(pl.Float64)))), f"column '{C.COL_EPISODE}' must be"),
    "done as text": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.col(C.COL_DONE).cast(pl.String)))), "column 'done' must be"),
    "no rows": (corrupt(lambda o: _write_frames(o, _frames(o).head(0))), "empty"),
    "NaN in actions": (corrupt(_nan_in(C.COL_ACTION)), "column 'action' has NaN or inf"),
    "NaN in states": (corrupt(_nan_in(C.COL_STATE)), "column 'state' has NaN or inf"),
    "NaN in end-effector": (corrupt(_nan_in(C.COL_EEF_POS)), "column 'eef_pos' has NaN or inf"),
    "NaN in rewards": (corrupt(_nan_in(C.COL_REWARD)), "column 'reward' has NaN or inf"),
    "frames edited (hash)": (corrupt(lambda o: _write_frames(o, _frames(o).with_columns(
        pl.col(C.COL_REWARD) * 2))), "content hash mismatch"),
    "schema version 99": (corrupt(lambda o: (o / MANIFEST_NAME).write_text(json.dumps(
        {**json.loads((o / MANIFEST_NAME).read_text()), "schema_version": 99}))),
        "schema_version 99 is not supported"),
    "no content hash": (corrupt(lambda o: (o / MANIFEST_NAME).write_text(json.dumps(
        {k: v for k, v in json.loads((o / MANIFEST_NAME).read_text()).items()
         if k != "content_hash"}))), "missing key(s) content_hash"),
}
DATASET_COMMANDS = {
    "metrics": "metrics {bad}",
    "metrics --json": "metrics {bad} --json {out}",
    "check": "check {bad} --baseline {metrics}",
    "render": "render {bad} -o {out}.gif",
    "export": "export {bad} {out}",
    "export hdf5": "export {bad} {out} --format libero-hdf5",
    "vla train": "vla train --data {bad} --out {out} --hparams {hparams}",
    "report": "report {bad} --out {out}.html",
}
for what, (make, fragment) in CORRUPT_DATASETS.items():
    for command, args in DATASET_COMMANDS.items():
        if what == "no such directory" and command == "report":
            fragment_here = "dataset not found"
        elif what == "a file, not a directory" and command in ("check", "report"):
            continue  # a file is read as a metrics JSON there (see the baselines below)
        elif what == "a file, not a directory" and command == "render":
            fragment_here = "a dataset is a directory"  # render reads this tool's format only
        else:
            fragment_here = fragment
        row("corrupt datasets", f"{command}: {what}", args, fragment_here, make)

# ---------------------------------------------------------------------------------------------
# semantic manifest errors: fields of the wrong type or meaning, and frames that disagree
# with the manifest (the content hash is recomputed, so only these checks can notice)


def semantic(manifest=None, frames=None, rehash=True) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        return edited_copy(fixtures["dataset"], folder / "ds", manifest=manifest, frames=frames,
                           rehash=rehash)
    return make


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _task_field(key, value):
    return lambda m: m["tasks"][0].__setitem__(key, value)


SEMANTIC = {
    "control_hz 'fast'": (_set("control_hz", "fast"), None, "control_hz must be a positive"),
    "control_hz 0": (_set("control_hz", 0), None, "control_hz must be a positive"),
    "control_hz -1": (_set("control_hz", -1), None, "control_hz must be a positive"),
    "control_hz true": (_set("control_hz", True), None, "control_hz must be a positive"),
    "control_hz [20]": (_set("control_hz", [20]), None, "control_hz must be a positive"),
    "tasks a string": (_set("tasks", TASK), None, "tasks must be a non-empty list"),
    "tasks empty": (_set("tasks", []), None, "tasks must be a non-empty list"),
    "tasks of strings": (_set("tasks", [TASK]), None, "tasks[0] must be an object"),
    "task without id": (lambda m: m["tasks"][0].pop("task_id"), None,
                        "tasks[0].task_id must be a non-empty string"),
    "task id a number": (_task_field("task_id", 7), None, "tasks[0].task_id must be"),
    "instruction empty": (_task_field("instruction", ""), None, "tasks[0].instruction must be"),
    "task n_episodes -1": (_task_field("n_episodes", -1), None, "tasks[0].n_episodes must be"),
    "task n_episodes 'two'": (_task_field("n_episodes", "two"), None,
                              "tasks[0].n_episodes must be"),
    "task n_episodes wrong": (_task_field("n_episodes", 5), None,
                              "lists 5 episode(s), the frames hold 2"),
    "task listed twice": (lambda m: m["tasks"].append(dict(m["tasks"][0])), None,
                          "is listed twice"),
    "task not in manifest": (_task_field("task_id", "other_task"), None,
                             "is in the frames but not in the manifest's tasks"),
    "other instruction": (_task_field("instruction", "do something else"), None,
                          "has the instruction"),
    "source empty": (_set("source", ""), None, "source must be a non-empty string"),
    "source a number": (_set("source", 3), None, "source must be a non-empty string"),
    "backend a list": (_set("backend", ["tabletop"]), None, "backend must be a non-empty string"),
    "suite a number": (_set("suite", 5), None, "suite must be a string or null"),
    "content hash a number": (_set("content_hash", 5), None, "content_hash must be a string"),
    "n_episodes 3": (_set("n_episodes", 3), None, "lists 3 episode(s), the frames hold 2"),
    "n_episodes 0": (_set("n_episodes", 0), None, "n_episodes must be a positive integer"),
    "n_episodes 'two'": (_set("n_episodes", "two"), None, "n_episodes must be a positive"),
    "n_frames wrong": (_set("n_frames", 1), None, "lists 1 frame(s)"),
    "seed a string": (_set("seed", "zero"), None, "seed must be a positive integer"),
    "episode seeds too few": (_set("episode_seeds", [0]), None,
                              "episode_seeds has 1 entries for 2 episode(s)"),
    "episode seeds text": (_set("episode_seeds", ["a", "b"]), None,
                           "episode_seeds[0] must be an integer or null"),
    "episode seeds a dict": (_set("episode_seeds", {}), None, "episode_seeds must be a list"),
    "init states negative": (_set("episode_init_states", [-1, 0]), None,
                             "episode_init_states[0] must be a non-negative integer"),
    "init states floats": (_set("episode_init_states", [0.5, 1]), None,
                           "episode_init_states[0] must be"),
    "init states too many": (_set("episode_init_states", [0, 1, 2]), None,
                             "episode_init_states has 3 entries"),
    "obs-after-action text": (_set("episode_obs_after_action", ["no", "no"]), None,
                              "episode_obs_after_action[0] must be true or false"),
    "generator config a list": (_set("generator_config", [1]), None,
                                "generator_config must be an object"),
    "generator config NaN": (_set("generator_config", {"speed": float("nan")}), None,
                             "numbers must be finite"),
    "images not an object": (_set("images", "yes"), None, "images must be null or an object"),
    "images zero height": (_set("images", {"cameras": ["agentview_image"], "height": 0,
                                           "width": 8}), None, "images.height must be"),
    "negative episode index": (None, lambda f: f.with_columns(
        pl.when(pl.col(C.COL_EPISODE) == 0).then(-5).otherwise(pl.col(C.COL_EPISODE))
        .alias(C.COL_EPISODE)), "episode index -5 is negative"),
    "episode indices with a gap": (None, lambda f: f.with_columns(
        pl.when(pl.col(C.COL_EPISODE) == 1).then(7).otherwise(pl.col(C.COL_EPISODE))
        .alias(C.COL_EPISODE)), "episodes must be numbered 0..1"),
    "no done flags": (None, lambda f: f.with_columns(pl.lit(False).alias(C.COL_DONE)),
                      "must end with done=True"),
    "done on every step": (None, lambda f: f.with_columns(pl.lit(True).alias(C.COL_DONE)),
                           "must end with done=True on its last step and nowhere else"),
    "steps start at 1": (None, lambda f: f.with_columns(pl.col(C.COL_STEP) + 1),
                         "must have steps 0.."),
    "a repeated step": (None, lambda f: f.with_columns(
        pl.when(pl.col(C.COL_STEP) == 1).then(0).otherwise(pl.col(C.COL_STEP))
        .alias(C.COL_STEP)), "must have steps 0.."),
    "task changes mid-episode": (None, lambda f: f.with_columns(
        pl.when(pl.col(C.COL_STEP) == 3).then(pl.lit("other")).otherwise(pl.col(C.COL_TASK))
        .alias(C.COL_TASK)), "changes task or instruction part-way"),
}
for what, (manifest_edit, frames_edit, fragment) in SEMANTIC.items():
    for command, args in (("metrics", "metrics {bad}"),
                          ("check", "check {bad} --baseline {metrics}"),
                          ("vla train", "vla train --data {bad} --out {out} --hparams {hparams}")):
        row("semantic manifest errors", f"{command}: {what}", args, fragment,
            semantic(manifest_edit, frames_edit, rehash=what != "content hash a number"))

# ---------------------------------------------------------------------------------------------
# option types: every setting is checked by its type, with the key named


def _human(option: str) -> str:
    return f"generate --source human --task {TASK} --episodes 1 --out {{out}} --option {option}"


for key, kind in [("pause_probability", "a number"), ("overshoot_probability", "a number"),
                  ("tremor_amplitude", "a number"), ("tremor_smoothing", "a number")]:
    for value, shown in [("abc", '"abc"'), ("nan", '"nan"'), ("NaN", "nan"), ("inf", '"inf"'),
                         ("Infinity", "inf"), ("true", "true"), ("[0.1]", "[0.1]"),
                         ('{"a":1}', '{"a": 1}')]:
        row("option types", f"human {key}={value}", _human(f"{key}={value}"),
            f"{key} must be {kind}, got {shown}")
for value, shown in [("maybe", '"maybe"'), ("1", "1"), ("0", "0"), ("yes", '"yes"'),
                     ("null", "null"), ("[true]", "[true]")]:
    row("option types", f"human use_init_states={value}", _human(f"use_init_states={value}"),
        f"use_init_states must be true or false, got {shown}")
for key in ("pause_steps", "speed", "overshoot_distance"):
    for value in ("3", "[1]", '["a","b"]', "[1,2,3]"):
        row("option types", f"human {key}={value}", _human(f"{key}={value}"),
            f"{key} must be a list of 2")
for option, fragment in [
    ("bogus=1", "unknown option(s) bogus"), ("=1", "--option expects KEY=VALUE"),
    ("pause_probability", "--option expects KEY=VALUE"),
    ("pause_probability=2", "pause_probability must be in [0, 1]"),
    ("pause_probability=-0.1", "pause_probability must be in [0, 1]"),
]:
    row("option types", f"human {option}", _human(option), fragment)

EXPERT = "train-expert --source gaussian-ppo --task goal_open_drawer --out {out} --option"
for option, fragment in [
    ("ppo.gamma=abc", 'gamma must be a number, got "abc"'),
    ("ppo.gamma=NaN", "gamma must be a number, got nan"),
    ("ppo.gamma=Infinity", "gamma must be a number, got inf"),
    ("ppo.n_envs=2.5", "n_envs must be an integer, got 2.5"),
    ("ppo.n_envs=two", 'n_envs must be an integer, got "two"'),
    ("ppo.n_envs=true", "n_envs must be an integer, got true"),
    ("ppo.normalize_advantages=maybe", "normalize_advantages must be true or false"),
    ("ppo.executed_likelihood=1", "executed_likelihood must be true or false, got 1"),
    ("ppo.target_kl=abc", "target_kl must be a number or null"),
    ("ppo.lr_schedule=5", "lr_schedule must be text, got 5"),
    ("ppo.actor_lr=-1", "actor_lr must be > 0"),
    ("ppo.bogus=1", "unknown PPO option(s): bogus"),
    ("policy.bogus=1", "unknown policy option(s): bogus"),
    ("bc_learning_rate=NaN", "bc_learning_rate must be a number, got nan"),
    ("bc_learning_rate=fast", 'bc_learning_rate must be a number, got "fast"'),
    ("bc_gradient_steps=1e3", "bc_gradient_steps must be an integer"),
    ("n_demonstrations=many", "n_demonstrations must be an integer"),
    ("drop_no_ops=perhaps", "drop_no_ops must be true or false"),
    ("ppo=5", "ppo must be an object"),
    ("max_attempts_factor=0", "max_attempts_factor must be >= 1"),
]:
    row("option types", f"train-expert {option}", f"{EXPERT} {option}", fragment)


def hparams_file(values: str) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        path = folder / "hparams.json"
        path.write_text(values)
        return path
    return make


for text, fragment in [
    ('{"train_steps": "many"}', 'train_steps must be an integer, got "many"'),
    ('{"train_steps": 1.5}', "train_steps must be an integer, got 1.5"),
    ('{"train_steps": true}', "train_steps must be an integer, got true"),
    ('{"train_steps": 0}', "train_steps and batch_size must be >= 1"),
    ('{"batch_size": "big"}', "batch_size must be an integer"),
    ('{"learning_rate": Infinity}', "numbers must be finite"),
    ('{"learning_rate": NaN}', "numbers must be finite"),
    ('{"learning_rate": -Infinity}', "numbers must be finite"),
    ('{"learning_rate": "fast"}', 'learning_rate must be a number, got "fast"'),
    ('{"learning_rate": 0}', "learning_rate must be > 0"),
    ('{"weight_decay": -1}', "weight_decay >= 0"),
    ('{"dropout": 1.5}', "dropout must be in [0, 1)"),
    ('{"dropout": "none"}', "dropout must be a number"),
    ('{"language": "yes"}', "language must be true or false"),
    ('{"successful_only": 0}', "successful_only must be true or false, got 0"),
    ('{"drop_no_ops": null}', "drop_no_ops must be true or false, got null"),
    ('{"observation": "lidar"}', "observation must be one of"),
    ('{"observation": 3}', "observation must be text, got 3"),
    ('{"head": "mse"}', "head must be one of"),
    ('{"vision_channels": "big"}', "vision_channels must be a list of integers"),
    ('{"vision_channels": [32, 64.5]}', "vision_channels must be a list of integers"),
    ('{"vision_channels": []}', "vision_channels must be a non-empty list"),
    ('{"chunk_size": 4, "executed_steps": 8}', "executed_steps must be in [1, chunk_size]"),
    ('{"image_size": 8}', "image_size must be >= 16"),
    ('{"preset": "medium"}', "unknown hparams preset 'medium'"),
    ('{"bogus": 1}', "unknown key(s) bogus"),
    ("[1, 2]", "holds a JSON object"),
    ("{ nope", "is not valid JSON"),
    ("", "is not valid JSON"),
]:
    row("option types", f"hparams {text}", "vla train --data {ds} --out {out} --hparams {bad}",
        fragment, hparams_file(text))
row("option types", "hparams file missing", "vla train --data {ds} --out {out} --hparams "
    "{out}.json", "hparams file not found")

# ---------------------------------------------------------------------------------------------
# corrupt baselines and thresholds (check) and metrics files (report)


def metrics_file(edit) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        path = folder / "baseline.json"
        text = fixtures["metrics"].read_text()
        path.write_text(edit(text))
        return path
    return make


def _doc(edit):
    def apply(text: str) -> str:
        document = json.loads(text)
        edit(document)
        return json.dumps(document)
    return apply


BASELINES = {
    "not JSON": (lambda t: "{ nope", "is not valid JSON"),
    "empty": (lambda t: "", "is not valid JSON"),
    "a list": (lambda t: "[]", "is not a metrics result"),
    "NaN rate": (_doc(lambda d: d["overall"]["success"].__setitem__("rate", float("nan"))),
                 "numbers must be finite"),
    "Infinity jerk": (_doc(lambda d: d["overall"]["mean_squared_jerk"].__setitem__(
        "mean", float("inf"))), "numbers must be finite"),
    "-Infinity length": (_doc(lambda d: d["overall"]["trajectory_length"].__setitem__(
        "mean", float("-inf"))), "numbers must be finite"),
    "NaN in a task": (_doc(lambda d: next(iter(d["per_task"].values()))["success"].__setitem__(
        "ci_low", float("nan"))), "numbers must be finite"),
    "another kind": (_doc(lambda d: d.__setitem__("kind", "something")),
                     "is not a metrics result"),
    "schema version 9": (_doc(lambda d: d.__setitem__("schema_version", 9)),
                         "schema_version 9"),
    "no overall": (_doc(lambda d: d.pop("overall")), "missing the object 'overall'"),
    "no per_task": (_doc(lambda d: d.pop("per_task")), "missing the object 'per_task'"),
    "success missing": (_doc(lambda d: d["overall"].pop("success")), "overall.success"),
    "rate a string": (_doc(lambda d: d["overall"]["success"].__setitem__("rate", "high")),
                      "malformed summary at 'overall'"),
}
for what, (edit, fragment) in BASELINES.items():
    row("corrupt baselines/thresholds", f"check --baseline: {what}",
        "check {ds} --baseline {bad}", fragment, metrics_file(edit))
    report_fragment = {"a list": "not a metrics result nor a VLA evaluation",
                       "another kind": "not a metrics result nor a VLA evaluation",
                       "success missing": "success",
                       "rate a string": "overall.success.rate must be a number or null",
                       "no overall": "overall", "no per_task": "per_task",
                       "schema version 9": "schema_version"}.get(what, fragment)
    row("corrupt baselines/thresholds", f"report: {what}", "report {bad} --out {out}.html",
        report_fragment, metrics_file(edit))
    row("corrupt baselines/thresholds", f"check DATASET.json: {what}",
        "check {bad} --baseline {metrics}", fragment, metrics_file(edit))
row("corrupt baselines/thresholds", "baseline missing", "check {ds} --baseline {out}.json",
    "not found")
row("corrupt baselines/thresholds", "baseline a directory", "check {ds} --baseline {ds}",
    "is a directory")


def thresholds(text: str) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        path = folder / "thresholds.toml"
        path.write_text(text)
        return path
    return make


for text, fragment in [
    ("overall = 'success_rate >= nan'", "the bound must be a finite number"),
    ("overall = 'success_rate >= inf'", "the bound must be a finite number"),
    ("overall = 'success_rate >= high'", "malformed threshold"),
    ("overall = 'success_rate => 0.5'", "malformed threshold"),
    ("overall = 'speed >= 0.5'", "speed"),
    ("overall = 5", "must be a threshold string or a list of them"),
    ("overall = [5]", "must be a threshold string or a list of them"),
    ("overall = ", "is not valid TOML"),
    ("[suite]\nnope = 'success_rate >= 0.5'", "nope"),
    ("[task]\nnope = 'success_rate >= 0.5'", "nope"),
    ("", "holds no threshold"),
    ("bogus = 'success_rate >= 0.5'", "bogus"),
]:
    row("corrupt baselines/thresholds", f"thresholds {text!r}", "check {ds} --thresholds {bad}",
        fragment, thresholds(text))
row("corrupt baselines/thresholds", "thresholds missing", "check {ds} --thresholds {out}.toml",
    "not found")

# ---------------------------------------------------------------------------------------------
# corrupt HDF5 demo files (import)


def hdf5(edit) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        import h5py

        path = folder / "x_demo.hdf5"
        shutil.copy(fixtures["hdf5"], path)
        if isinstance(edit, bytes):
            path.write_bytes(edit)
        elif callable(edit) and getattr(edit, "raw", False):
            edit(path)
        else:
            with h5py.File(path, "r+") as handle:
                edit(handle)
        return path
    return make


def _raw(function):
    function.raw = True
    return function


def _replace(name, value):
    def edit(handle):
        del handle[name]
        handle[name] = value
    return edit


HDF5_CASES = {
    "not HDF5": (b"hello", "not an HDF5 file"),
    "empty file": (b"", "not an HDF5 file"),
    "truncated": (_raw(lambda p: p.write_bytes(p.read_bytes()[:2048])), "HDF5"),
    "no data group": (lambda h: h.__delitem__("data"), "data"),
    "no demos": (lambda h: [h["data"].__delitem__(k) for k in list(h["data"])], "no demo"),
    "no actions": (lambda h: h["data/demo_0"].__delitem__("actions"), "actions"),
    "actions 6-D": (_replace("data/demo_0/actions", np.zeros((12, 6))), "actions"),
    "NaN actions": (_replace("data/demo_0/actions", np.full((12, 7), np.nan)), "NaN"),
    "actions as text": (_replace("data/demo_0/actions", np.array([b"x"] * 12)), "actions"),
    "no obs group": (lambda h: h["data/demo_0"].__delitem__("obs"), "obs"),
    "no gripper states": (lambda h: h["data/demo_0/obs"].__delitem__("gripper_states"),
                          "gripper_states"),
    "problem_info not JSON": (lambda h: h["data"].attrs.__setitem__("problem_info", "{"),
                              "problem_info"),
    "no instruction": (lambda h: h["data"].attrs.__setitem__("problem_info", "{}"),
                       "language_instruction"),
}
for what, (edit, fragment) in HDF5_CASES.items():
    row("corrupt HDF5", f"import: {what}", "import {bad} {out}", fragment, hdf5(edit))
for args, fragment in [
    ("import {out}.hdf5 {out}", "not found"),
    ("import {out}", "give at least one demo file or folder, then OUT"),
    ("import {hdf5} {ds}", "already exists"),
]:
    row("corrupt HDF5", f"import: {args}", args, fragment)

# ---------------------------------------------------------------------------------------------
# corrupt checkpoints (vla eval)


def checkpoint(edit) -> Callable[[Path, dict], Path]:
    def make(folder: Path, fixtures: dict) -> Path:
        out = folder / "ckpt"
        shutil.copytree(fixtures["ckpt"], out)
        edit(out)
        return out
    return make


def _info(edit):
    def apply(out: Path) -> None:
        info = json.loads((out / "checkpoint.json").read_text())
        edit(info)
        (out / "checkpoint.json").write_text(json.dumps(info))
    return apply


def _nan_weights(out: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from diffrl_eval.vla.checkpoint import checkpoint_hash

    tensors = load_file(str(out / "model.safetensors"))
    save_file({k: torch.full_like(t, float("nan")) if t.is_floating_point() else t
               for k, t in tensors.items()}, str(out / "model.safetensors"))
    _info(lambda i: i.__setitem__("content_hash", checkpoint_hash(out, "tiny-vla")))(out)


CHECKPOINTS = {
    "no checkpoint.json": (lambda o: (o / "checkpoint.json").unlink(), "not a VLA checkpoint"),
    "checkpoint.json not JSON": (lambda o: (o / "checkpoint.json").write_text("{"),
                                 "not valid JSON"),
    "checkpoint.json with NaN": (lambda o: (o / "checkpoint.json").write_text(
        (o / "checkpoint.json").read_text().replace('"seed": 0', '"seed": NaN')),
        "numbers must be finite"),
    "another kind": (_info(lambda i: i.__setitem__("kind", "x")), "not a diffrl-eval/vla"),
    "schema version 7": (_info(lambda i: i.__setitem__("schema_version", 7)),
                         "schema_version 7"),
    "no hparams": (_info(lambda i: i.pop("hparams")), "missing key(s) hparams"),
    "unknown VLA": (_info(lambda i: i.__setitem__("vla", "nope")), "nope"),
    "weights missing": (lambda o: (o / "model.safetensors").unlink(), "model.safetensors"),
    "weights truncated": (lambda o: (o / "model.safetensors").write_bytes(
        (o / "model.safetensors").read_bytes()[:100]), "changed since training"),
    "weights replaced": (lambda o: (o / "model.safetensors").write_bytes(b"\0" * 64),
                         "changed since training"),
    "weights NaN (hash updated)": (_nan_weights, "NaN or inf"),
    "config missing": (lambda o: (o / "config.json").unlink(), "config.json is missing"),
    # the content hash in checkpoint.json names the file that changed after training
    "config not JSON": (lambda o: (o / "config.json").write_text("{"),
                        "config.json changed since training"),
    "config another format": (lambda o: (o / "config.json").write_text('{"format": "x"}'),
                              "config.json changed since training"),
    "a file added": (lambda o: (o / "notes.txt").write_text("x"),
                     "notes.txt appeared since training"),
}
for what, (edit, fragment) in CHECKPOINTS.items():
    row("corrupt checkpoints", f"vla eval: {what}",
        f"vla eval --ckpt {{bad}} --suite tabletop-spatial --task {TASK} --episodes-per-task 1",
        fragment, checkpoint(edit))
row("corrupt checkpoints", "vla eval: no such checkpoint",
    "vla eval --ckpt {out} --suite tabletop-spatial", "checkpoint not found")
row("corrupt checkpoints", "vla eval: a dataset, not a checkpoint",
    "vla eval --ckpt {ds} --suite tabletop-spatial", "not a VLA checkpoint")
row("corrupt checkpoints", "report: a checkpoint, not a result", "report {ckpt} --out {out}.html",
    "not a dataset")

# ---------------------------------------------------------------------------------------------
# outputs that are refused before any work


for args, fragment in [
    (f"generate --source human --task {TASK} --episodes 1 --out {{ds}}", "already exists"),
    ("metrics {ds} --json {metrics}", "already exists"),
    ("metrics {ds} --json {ds}", "already exists"),
    ("metrics {ds} --json {ds} --overwrite", "is a directory"),
    ("render {ds} -o {ds}", "unknown clip format"),
    ("export {ds} {ds} --overwrite", "holds the input"),
    ("export {ds} {ds}", "already exists"),
    ("vla train --data {ds} --out {ckpt}", "already exists"),
    ("report {metrics} --out {metrics}", "html"),
    ("vla eval --ckpt {ckpt} --suite tabletop-spatial --json {metrics}", "already exists"),
    (f"generate --source human --task {TASK} --episodes 1 --out {{metrics}}/x",
     "is not a directory"),
]:
    row("bad names", f"output: {args[:50]}", args, fragment)


# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("table")
    dataset = generate_dataset(base / "human", tasks=(TASK,), episodes=2)
    found = {"dataset": dataset, "base": base}
    from diffrl_eval.cli import main

    def call(argv) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in argv])
        assert exit_info.value.code == 0

    found["metrics"] = base / "metrics.json"
    call(["metrics", dataset, "--json", found["metrics"]])
    found["hparams"] = base / "tiny.json"
    found["hparams"].write_text(json.dumps(TINY_HPARAMS))
    found["ckpt"] = base / "ckpt"
    call(["vla", "train", "--data", dataset, "--out", found["ckpt"], "--hparams",
          found["hparams"]])
    from tests.export.libero_demo_files import random_demo, write_libero_file

    found["hdf5"] = write_libero_file(base / "good_demo.hdf5",
                                      [random_demo(np.random.default_rng(0), 12)],
                                      bddl="GOOD.bddl")
    return found


@pytest.mark.parametrize("case", ROWS, ids=[f"{r.kind}: {r.what}" for r in ROWS])
def test_bad_input_is_one_line_with_its_exit_code(case: Row, fixtures, tmp_path, capsys):
    bad = case.make(tmp_path, fixtures) if case.make is not None else None
    out = tmp_path / "out"
    values = {"ds": fixtures["dataset"], "metrics": fixtures["metrics"], "ckpt": fixtures["ckpt"],
              "hdf5": fixtures["hdf5"], "hparams": fixtures["hparams"], "out": out, "bad": bad}
    argv = [PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), arg) for arg in case.argv]
    argv = ["" if arg == EMPTY else arg for arg in argv]
    code, _, err = run_cli(argv, capsys)
    assert code == case.code, err
    line = error_line(err)
    assert case.fragment in line, line
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), "output written"


def test_the_table_covers_every_class_with_at_least_300_rows():
    kinds = {}
    for case in ROWS:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    assert len(ROWS) >= 300, kinds
    assert set(kinds) == {"bad names", "counts", "corrupt datasets", "corrupt HDF5",
                          "corrupt checkpoints", "corrupt baselines/thresholds",
                          "semantic manifest errors", "option types"}
