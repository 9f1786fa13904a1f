"""A third-party plug-in as a user would ship it: one generator and one tiny backend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffrl_eval.dataset import Episode
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.generator import Generator, GeneratorConfig


class LineBackend(EnvBackend):
    """Two reach-a-point tasks on a line (no physics)."""

    name = "acme-line"
    control_hz = 10

    def suites(self):
        return ["acme-suite"]

    def tasks(self, suite=None):
        return [
            TaskSpec(f"reach_{i}", "acme-suite", f"reach point {i}", 30, self.name) for i in (1, 2)
        ]

    def init_states(self, task_id):
        return np.zeros((50, 3))

    def make_env(self, task_id, *, images=False, image_size=128, **options):
        if images:
            raise UserError("acme-line has no cameras")
        raise NotImplementedError


@dataclass
class RandomWalkConfig(GeneratorConfig):
    step_scale: float = 0.01

    def __post_init__(self):
        if self.step_scale <= 0:
            raise UserError(f"step_scale must be positive, got {self.step_scale}")


class RandomWalkGenerator(Generator):
    """Random-walk episodes that end at the goal."""

    description = "Random-walk episodes (third-party example)"
    config_cls = RandomWalkConfig

    def generate(self, task, n_episodes, seed):
        rng = np.random.default_rng(seed)
        for index in range(n_episodes):
            length = int(rng.integers(8, 16))
            eef = np.cumsum(rng.normal(scale=self.config.step_scale, size=(length, 3)), axis=0)
            state = np.concatenate([eef, np.zeros((length, 3)), np.zeros((length, 2))], axis=1)
            actions = np.clip(rng.normal(size=(length, 7)), -1, 1)
            done = np.arange(length) == length - 1
            yield Episode(task.task_id, task.instruction, state, eef, actions,
                          done.astype(np.float32), done, seed=seed * 1000 + index)


class AcmeCsvSource:
    """Acme's CSV recordings: columns episode, step, x, y, z, a0 .. a6 (10 Hz)."""

    name = "acme-csv"
    description = "Acme's CSV recordings (episode, step, x, y, z, a0..a6)."

    @classmethod
    def recognizes(cls, location):
        return str(location).endswith(".acme.csv")

    @classmethod
    def read(cls, location):
        import polars as pl

        from diffrl_eval.dataset.sources import Profile, SourceFrames

        table = pl.read_csv(location)
        actions = [f"a{i}" for i in range(7)]
        frames = table.select(
            pl.col("episode").cast(pl.Int64).alias("episode_index"),
            pl.col("step").cast(pl.Int64).alias("step_index"),
            pl.lit("acme_task").alias("task_id"),
            pl.lit("do the acme thing").alias("instruction"),
            pl.concat_list("x", "y", "z").cast(pl.List(pl.Float64)).alias("tcp"),
            pl.concat_list(actions).cast(pl.List(pl.Float64)).alias("action"),
        )
        profile = Profile("acme", "an .acme.csv file", "tcp", 10.0, "Acme's controller", 6, "delta")
        return SourceFrames(str(location), "acme-csv", frames.lazy(), {"tcp": 3, "action": 7},
                            declared_fps=10.0, profile=profile)
