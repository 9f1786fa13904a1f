"""Experiment: content hashes of every file that small fixed-seed runs write.

Not a test. A refactor that must not change what the tool writes is checked by running
this before and after it and comparing the two listings line by line. It runs, in a fresh
folder: ``generate`` (human, one task, 3 episodes, seed 7), ``metrics --json``, ``check
--json`` against its own metrics, ``export`` (LeRobot and LIBERO HDF5), ``import`` of the
HDF5, ``vla train`` (one seed and ``--seeds 0,1``, three steps of a tiny hparams file) and
``vla eval --json`` of both checkpoints; then prints ``<sha256[:16]> <file>`` per file.
JSON files are hashed with the run folder's path replaced by ``O`` and wall-clock fields
(``wall_seconds``, ``train_seconds``, ...) replaced by ``X``; everything else byte for byte.

    python tests/experiments/output_hashes.py --out /tmp/hashes-before > before.txt
    python tests/experiments/output_hashes.py --out /tmp/hashes-after > after.txt
    diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

TASK = "spatial_left_cube_on_plate"
TINY_HPARAMS = {"preset": "quick", "hidden_dim": 32, "trunk_blocks": 1, "train_steps": 3,
                "batch_size": 16, "warmup_steps": 1, "vision_channels": [8, 8, 8]}
_TIMING = re.compile(r'"([a-z_]*seconds|[a-z_]*_per_s|created[a-z_]*|timestamp)": '
                     r'("[^"]*"|[-0-9.e+]+)')


def commands(out: Path) -> list[list[str]]:
    hdf5 = out / "hdf5" / f"{TASK}_demo.hdf5"
    evaluation = ["--suite", "tabletop-spatial", "--task", TASK, "--episodes-per-task", "2",
                  "--envs", "2"]
    return [
        ["generate", "--source", "human", "--task", TASK, "--episodes", "3", "--seed", "7",
         "--out", out / "ds"],
        ["metrics", out / "ds", "--json", out / "m.json"],
        ["check", out / "ds", "--baseline", out / "m.json", "--json", out / "check.json"],
        ["export", out / "ds", out / "lerobot"],
        ["export", out / "ds", out / "hdf5", "--format", "libero-hdf5"],
        ["import", hdf5, out / "imported"],
        ["vla", "train", "--data", out / "ds", "--out", out / "ckpt", "--hparams",
         out / "tiny.json"],
        ["vla", "train", "--data", out / "ds", "--out", out / "ckpts", "--seeds", "0,1",
         "--hparams", out / "tiny.json"],
        ["vla", "eval", "--ckpt", out / "ckpt", *evaluation, "--json", out / "e.json"],
        ["vla", "eval", "--ckpt", out / "ckpts", *evaluation, "--json", out / "es.json"],
    ]


def digest(path: Path, root: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".json":
        text = data.decode().replace(str(root), "O")
        data = _TIMING.sub(lambda match: f'"{match[1]}": X', text).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to (re)create")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "tiny.json").write_text(json.dumps(TINY_HPARAMS))
    for argv in commands(out):
        run = subprocess.run([sys.executable, "-m", "diffrl_eval", *map(str, argv)],
                             capture_output=True, text=True)
        if run.returncode not in (0, 1):  # check exits 1 on a regression
            sys.exit(f"{' '.join(map(str, argv))} failed:\n{run.stderr}")
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.suffix != ".lock"):
        print(digest(path, out), path.relative_to(out).as_posix())


if __name__ == "__main__":
    main()
