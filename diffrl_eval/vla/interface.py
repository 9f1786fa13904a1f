"""The VLA interface: how a vision-language-action model plugs into training and evaluation.

A VLA learns, from one or more datasets of one backend, a single task-agnostic policy:
given an observation and the task's language instruction it returns an action chunk.

Contract
--------
1. Subclass :class:`VLA`; set ``description`` (one line).
2. :meth:`VLA.fit` trains on validated :class:`~diffrl_eval.dataset.Dataset` objects with
   an hparams dictionary (the VLA's own keys, completed by :meth:`VLA.resolve_hparams`;
   see :mod:`vla.tiny_vla.hparams` for tiny-vla's) and a seed.
3. :meth:`VLA.predict_batch` maps B observations (env observation dictionaries, keys from
   :mod:`diffrl_eval.constants`) and their B instructions to action chunks (B, Ta, Da)
   in the env's action units; :meth:`VLA.predict` is the single-observation case.
   Evaluation calls :meth:`VLA.predict_rows`, where each row's sampling noise comes from
   its own seed; its default asks :meth:`VLA.predict_batch` once per row, and a VLA that
   samples noise should override it with a batched version.
4. :meth:`VLA.save` writes the model into a directory: its weights as
   :data:`WEIGHTS_FILE` (safetensors) and a JSON config holding everything else,
   normalizers included, so that :meth:`VLA.load` needs nothing but the directory. No
   pickles.
5. :meth:`VLA.env_options` says what the evaluation env must provide (cameras and their
   size) and :meth:`VLA.check_observation_space` refuses an env the model cannot read.
6. Expose the class through an entry point in the ``diffrl_eval.vlas`` group::

       [project.entry-points."diffrl_eval.vlas"]
       my-vla = "my_package.module:MyVLA"

Shape legend: B batch, Ta action horizon (chunk), Da action dim.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from diffrl_eval.dataset import Dataset

WEIGHTS_FILE = "model.safetensors"


class VLA(ABC):
    """A language-conditioned policy trained by behaviour cloning on datasets."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def resolve_hparams(cls, hparams: dict[str, Any] | None) -> dict[str, Any]:
        """``hparams`` completed with the VLA's defaults and validated: the dictionary that
        is hashed and written into every checkpoint and result."""
        return dict(hparams or {})

    @abstractmethod
    def fit(
        self,
        datasets: Sequence[Dataset],
        hparams: dict[str, Any],
        *,
        seed: int = 0,
        progress: bool = True,
    ) -> VLA:
        """Train on ``datasets`` (one backend, one action dim); returns ``self``."""

    @abstractmethod
    def predict_batch(
        self,
        observations: Sequence[dict[str, np.ndarray]],
        instructions: Sequence[str],
        *,
        seed: int | None = None,
    ) -> np.ndarray:
        """Action chunks (B, Ta, Da) for B observations and their instructions.

        ``seed`` fixes any sampling noise (stochastic heads); deterministic heads ignore it.
        """

    def predict_rows(
        self,
        observations: Sequence[dict[str, np.ndarray]],
        instructions: Sequence[str],
        seeds: Sequence[int],
    ) -> np.ndarray:
        """Action chunks (B, Ta, Da) where row b's sampling noise comes from ``seeds[b]``
        alone: a row's chunk does not depend on which other rows share the batch, so an
        evaluation may split its episodes between processes without changing their noise.

        Row b is ``predict_batch([observations[b]], [instructions[b]], seed=seeds[b])[0]``
        (up to floating-point rounding, which may depend on the batch size). This default
        computes exactly that, one row at a time; override it to batch the rows.
        """
        if not len(observations) == len(instructions) == len(seeds):
            raise ValueError(f"{len(observations)} observations, {len(instructions)} "
                             f"instructions and {len(seeds)} seeds")
        return np.stack([self.predict_batch([obs], [text], seed=int(seed))[0]
                         for obs, text, seed in zip(observations, instructions, seeds)])

    def predict(
        self, observation: dict[str, np.ndarray], instruction: str, *, seed: int | None = None
    ) -> np.ndarray:
        """The action chunk (Ta, Da) for one observation and its instruction."""
        return self.predict_batch([observation], [instruction], seed=seed)[0]

    @property
    @abstractmethod
    def executed_steps(self) -> int:
        """Te: how many actions of each chunk run before the model is asked again."""

    @abstractmethod
    def env_options(self) -> dict[str, Any]:
        """Keyword arguments for ``backend.make_env`` (e.g. ``images``, ``image_size``)."""

    @abstractmethod
    def check_observation_space(self, space: Any, task_id: str) -> None:
        """Raise :class:`~diffrl_eval.errors.UserError` if the model cannot read
        observations from ``space`` (a ``gymnasium.spaces.Dict``) of task ``task_id``."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write :data:`WEIGHTS_FILE` and a JSON config into the existing ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> VLA:
        """Rebuild a trained model from what :meth:`save` wrote; corrupt or missing files
        are a :class:`~diffrl_eval.errors.UserError`."""
