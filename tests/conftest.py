"""Shared test helpers: the command line run in-process and its one-line errors, small
synthetic episodes and datasets, a third-party plug-in on sys.path.

The test folders (one per concept) import the plain helpers from here
(``from conftest import run_cli``); the fixtures reach them through pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from diffrl_eval.cli import main
from diffrl_eval.dataset import Episode, write_dataset

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = Path(__file__).parent / "plugin_fixture"


class CliRun(NamedTuple):
    """What one command printed and how it exited."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr together, for checks that do not care which stream said it."""
        return self.out + self.err


def run_cli(argv, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return CliRun(exit_info.value.code, captured.out, captured.err)


def error_line(err: str) -> str:
    """The one non-blank stderr line, checked to be an ``error:`` line without a traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    """Bad input: exit code 2 and one ``error:`` line holding every fragment; that line."""
    assert code == 2, err
    line = error_line(err)
    for fragment in fragments:
        assert fragment in line, line
    return line


def make_episode(
    rng: np.random.Generator,
    length: int,
    task_id: str = "task_a",
    instruction: str = "put the red cube on the plate",
    success: bool = True,
    seed: int | None = None,
) -> Episode:
    """A random but well-formed episode; success flag set on the last step if ``success``."""
    successes = np.zeros(length, dtype=bool)
    successes[-1] = success
    eef = np.cumsum(rng.normal(scale=0.01, size=(length, 3)), axis=0)
    states = np.concatenate([eef, rng.normal(size=(length, 3)), rng.uniform(0, 0.04, (length, 2))], 1)
    return Episode(
        task_id=task_id,
        instruction=instruction,
        states=states,
        eef_pos=eef,
        actions=rng.uniform(-1, 1, size=(length, 7)),
        rewards=successes.astype(np.float32),
        successes=successes,
        seed=seed,
    )


@pytest.fixture
def episode_factory():
    return make_episode


@pytest.fixture
def toy_dataset(tmp_path: Path) -> Path:
    """A 6-episode, 2-task dataset written by the project's writer."""
    rng = np.random.default_rng(0)
    episodes = [
        make_episode(rng, 20 + i, task_id=f"task_{i % 2}", instruction=f"do thing {i % 2}", seed=i)
        for i in range(6)
    ]
    return write_dataset(
        tmp_path / "toy", episodes, source="human", backend="tabletop", suite="toy-suite", seed=0
    )


@pytest.fixture
def third_party_plugin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put an installed-looking distribution (dist-info with entry points) on sys.path."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.setenv("PYTHONPATH", str(PLUGIN_DIR))
    return PLUGIN_DIR
