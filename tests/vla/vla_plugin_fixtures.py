"""VLA plug-ins written the way a third party would: against the contract only.

* :class:`ScriptedVLA` - evaluation-only: no ``fit``, no ``save``; its "checkpoint" is a
  directory holding ``policy.json`` (one action, repeated), which its ``load`` reads.
* :class:`MeanActionVLA` - trainable without torch: the mean action of each instruction's
  demonstrations, saved as JSON.
* :class:`WrongShapeVLA` - answers with chunks of the wrong action dimension.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval import constants as C
from diffrl_eval.errors import UserError
from diffrl_eval.vla.interface import VLA

POLICY_FILE = "policy.json"


class ScriptedVLA(VLA):
    """Evaluation-only: repeats the action written in policy.json."""

    description = "scripted test policy: one action from policy.json, repeated"

    def __init__(self, action: Sequence[float], executed_steps: int) -> None:
        self.action = np.asarray(action, dtype=np.float32)
        self._executed_steps = int(executed_steps)

    @property
    def executed_steps(self) -> int:
        return self._executed_steps

    def predict_batch(self, observations, instructions, *, seed=None) -> np.ndarray:
        return np.tile(self.action, (len(observations), self._executed_steps, 1))

    @classmethod
    def load(cls, directory: Path, *, device: str = "cpu") -> ScriptedVLA:
        path = Path(directory) / POLICY_FILE
        if not path.is_file():
            raise UserError(f"not a scripted policy: {path} is missing")
        values = json.loads(path.read_text())
        return cls(values["action"], values["executed_steps"])


class MeanActionVLA(VLA):
    """Trainable: each instruction's mean demonstrated action (the overall mean for an
    instruction it has not seen)."""

    description = "mean action per instruction (test plug-in)"
    hparams_presets = ("quick",)

    def __init__(self) -> None:
        self.means: dict[str, list[float]] = {}
        self.overall: list[float] = []
        self.fitted_on: str = ""

    @classmethod
    def resolve_hparams(cls, hparams: dict[str, Any] | None) -> dict[str, Any]:
        values = dict(hparams or {})
        values.pop("preset", None)
        unknown = sorted(set(values) - {"shrink"})
        if unknown:
            raise UserError(f"mean-action hparams: unknown key(s) {', '.join(unknown)}")
        return {"shrink": float(values.get("shrink", 1.0))}

    def fit(self, datasets, hparams, *, seed=0, progress=True, device="cpu") -> MeanActionVLA:
        frames = [d.frames_df for d in datasets]
        actions = np.concatenate([np.asarray(f[C.COL_ACTION].to_list()) for f in frames])
        texts = [t for f in frames for t in f[C.COL_INSTRUCTION].to_list()]
        shrink = hparams["shrink"]
        for text in sorted(set(texts)):
            rows = np.asarray([t == text for t in texts])
            self.means[text] = (shrink * actions[rows].mean(0)).tolist()
        self.overall = (shrink * actions.mean(0)).tolist()
        self.fitted_on = device
        return self

    @property
    def executed_steps(self) -> int:
        return 1

    def predict_batch(self, observations, instructions, *, seed=None) -> np.ndarray:
        return np.asarray([[self.means.get(text, self.overall)] for text in instructions],
                          dtype=np.float32)

    def save(self, directory: Path) -> None:
        (Path(directory) / "means.json").write_text(json.dumps(
            {"means": self.means, "overall": self.overall, "device": self.fitted_on}))

    @classmethod
    def load(cls, directory: Path, *, device: str = "cpu") -> MeanActionVLA:
        values = json.loads((Path(directory) / "means.json").read_text())
        model = cls()
        model.means, model.overall = values["means"], values["overall"]
        return model


class WrongShapeVLA(ScriptedVLA):
    """Answers with 3-D actions, where the tabletop expects 7."""

    def predict_batch(self, observations, instructions, *, seed=None) -> np.ndarray:
        return np.zeros((len(observations), self._executed_steps, 3), dtype=np.float32)
