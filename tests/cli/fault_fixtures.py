"""Shared helpers for the bad-input and fault-injection tests: CLI processes (fresh or warm),
small datasets edited in one place (with their content hash recomputed, so that only the semantic
checks can catch the edit), and a small tmpfs that fills up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from diffrl_eval.cli import main
from diffrl_eval.dataset.format import FRAMES_NAME, MANIFEST_NAME, content_hash

REPO = Path(__file__).resolve().parents[2]
# hparams small enough that `vla train` takes a second or two
TINY_HPARAMS = {"preset": "quick", "hidden_dim": 32, "trunk_blocks": 1, "train_steps": 3,
                "batch_size": 16, "warmup_steps": 1, "vision_channels": [8, 8, 8]}


def run_process(argv, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter (for crashes, signals and kills)."""
    return subprocess.run([sys.executable, "-m", "diffrl_eval", *map(str, argv)],
                          capture_output=True, text=True, check=False, cwd=kwargs.pop("cwd", None),
                          env=kwargs.pop("env", None), **kwargs)


def generate_dataset(out: Path, *, tasks=("spatial_left_cube_on_plate",), episodes: int = 2,
                     seed: int = 0) -> Path:
    args = ["generate", "--source", "human", "--episodes", str(episodes), "--seed", str(seed),
            "--out", str(out)]
    for task in tasks:
        args += ["--task", task]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    return out


def edited_copy(dataset: Path, out: Path, *,
                manifest: Callable[[dict], None] | None = None,
                frames: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
                rehash: bool = True) -> Path:
    """A copy of ``dataset`` with its manifest and/or frames edited; the content hash is
    recomputed (``rehash``) so that only semantic validation can notice."""
    shutil.copytree(dataset, out)
    table = pl.read_parquet(out / FRAMES_NAME)
    if frames is not None:
        table = frames(table)
        table.write_parquet(out / FRAMES_NAME)
    document = json.loads((out / MANIFEST_NAME).read_text())
    if manifest is not None:
        manifest(document)
    if rehash:
        document["content_hash"] = content_hash(table)
    (out / MANIFEST_NAME).write_text(json.dumps(document))
    return out


def fresh(base: Path, name: str = "case") -> Path:
    """A new, empty directory under ``base``."""
    path = base / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def small_disk(path: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (skips the test where mounting is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({mounted.stderr.strip() or 'mount failed'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def visible(path: Path) -> list[str]:
    """Everything in ``path``, hidden names included, sorted."""
    return sorted(p.name for p in Path(path).iterdir()) if Path(path).exists() else []


# -- processes started warm, so that a kill lands in the command's work, not its imports ---
WARM_SCRIPT = """
import json, os, sys
sys.path[:0] = [{tests!r}, {repo!r}]
import diffrl_eval.cli
{preload}
{setup}
print("ready", flush=True)
argv = json.loads(sys.stdin.readline())
sys.stdout = open(os.devnull, "w")
diffrl_eval.cli.main(argv)
"""

# the compare command on a plan small enough for tests (the built-in presets take minutes)
TINY_COMPARE_SETUP = """
from fault_fixtures import use_tiny_compare_preset
use_tiny_compare_preset()
"""


def use_tiny_compare_preset(monkeypatch=None) -> None:
    """Make every preset name plan the tiny compare of ``tests/compare/compare_fixtures.py``:
    for the rest of a test through pytest's ``monkeypatch`` when given (undone after the
    test), for good otherwise (a process of its own)."""
    import diffrl_eval.compare.plan as plan
    from tests.compare.compare_fixtures import tiny_plan

    def tiny_preset(name, backend):
        return tiny_plan(Path("unused")).preset

    if monkeypatch is not None:
        monkeypatch.setattr(plan, "get_preset", tiny_preset)
    else:
        plan.get_preset = tiny_preset


class WarmProcess:
    """A CLI process that has done its imports and waits for its arguments."""

    def __init__(self, *, torch: bool = False, setup: str = "", stderr_path: Path) -> None:
        preload = "import torch, vla.tiny_vla, generators.expert.generator" if torch else ""
        script = WARM_SCRIPT.format(tests=str(Path(__file__).parent), repo=str(REPO),
                                    preload=preload, setup=setup)
        self.stderr_path = Path(stderr_path)
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert self.proc.stdout.readline().strip() == "ready", self.stderr_path.read_text()

    def start(self, argv) -> WarmProcess:
        self.proc.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        self.proc.stdin.flush()
        return self

    def wait_until_handling_signals(self, timeout: float = 120) -> None:
        """Wait until the command has installed its SIGINT/SIGTERM handlers, so that a
        signal sent then tests the command's handling, not what the start-up does with it.

        Read from the process's caught-signals mask in /proc: SIGTERM is caught only once the
        command line has installed its handlers (it installs both at once; SIGINT is caught
        from Python's start-up, as KeyboardInterrupt, so its bit tells nothing)."""
        status = Path(f"/proc/{self.proc.pid}/status")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                lines = status.read_text().splitlines()
            except OSError:  # no /proc here, or the process has just ended
                return
            caught = next(int(line.split()[1], 16) for line in lines if line.startswith("SigCgt:"))
            if caught >> (signal.SIGTERM - 1) & 1:
                return
            time.sleep(0.01)

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._stderr.close()
        return code, self.stderr_path.read_text()
