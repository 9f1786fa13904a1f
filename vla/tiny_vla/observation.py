"""What tiny-vla reads from an observation, and how it is normalized.

Two modes:

* ``state`` - proprioception ``state`` (8,) plus the scene's ``object_poses``. The width of
  ``object_poses`` (7 per object, in the task's own object order) varies between tasks,
  while one model serves every task of a suite, so the objects are laid into a fixed
  number of slots (``max_objects`` x 10, zeros past the task's objects) with a presence
  mask (``max_objects``,). A slot holds the object's pose (7) and its position relative
  to the gripper (3): the offset is a function of the observation, but an MLP finds it
  hard to learn the subtraction precisely enough to grasp. A slot's meaning is the
  task's object order, which the backend defines; the model has to learn from language
  and layout what to do with each slot.
* ``image`` - proprioception plus the agent-view and wrist camera frames.

Low-dimensional inputs are standardized with statistics fitted on the training data
(padded slots excluded) and stored in the checkpoint's JSON config.

Shape legend: B batch, M = max_objects slots, D a field's width, H/W image size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffrl_eval.constants import OBS_EEF_POS, OBS_OBJECT_POSES, OBS_STATE
from diffrl_eval.errors import UserError

POSE_DIM = 7  # position (3) + quaternion (4) per object
SLOT_DIM = POSE_DIM + 3  # pose + position relative to the gripper
OBJECTS = "objects"  # model input: padded object slots (B, M * 10)
OBJECT_MASK = "object_mask"  # model input: which slots hold an object (B, M)
MODES = ("state", "image")
# a dimension that never varies in the data (an object that never moves) is only centred
MIN_STD = 1e-3


@dataclass(frozen=True)
class ObservationLayout:
    """Which observation keys the model reads and in what shape."""

    mode: str
    max_objects: int
    cameras: tuple[str, ...] = ()
    image_size: int = 64  # the size the vision encoder reads
    env_image_size: int | None = None  # the camera size the training data was recorded at

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    @property
    def object_slots_width(self) -> int:
        return self.max_objects * SLOT_DIM

    def env_options(self) -> dict[str, Any]:
        if self.mode == "image":
            return {"images": True, "image_size": int(self.env_image_size or self.image_size)}
        return {}

    def check_space(self, space: Any, task_id: str) -> None:
        """Refuse an env whose observations this layout cannot hold."""
        keys = set(getattr(space, "spaces", {}) or {})
        if OBS_STATE not in keys:
            raise UserError(f"task {task_id!r}: observations have no {OBS_STATE!r}")
        if self.mode == "state":
            if OBS_OBJECT_POSES not in keys:
                raise UserError(
                    f"observation space does not match the checkpoint: task {task_id!r} "
                    f"reports no {OBS_OBJECT_POSES!r}, which this state-only model reads"
                )
            width = int(space.spaces[OBS_OBJECT_POSES].shape[-1])
            if width > self.max_objects * POSE_DIM:
                raise UserError(
                    f"observation space does not match the checkpoint: task {task_id!r} has "
                    f"{width // POSE_DIM} objects, the model was trained with "
                    f"{self.max_objects} object slots"
                )
            return
        missing = [camera for camera in self.cameras if camera not in keys]
        if missing:
            raise UserError(
                f"observation space does not match the checkpoint: the model reads camera "
                f"images ({', '.join(self.cameras)}) but task {task_id!r} observations have "
                f"no {', '.join(missing)}"
            )

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "max_objects": self.max_objects, "cameras": list(self.cameras),
                "image_size": self.image_size, "env_image_size": self.env_image_size}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ObservationLayout:
        return cls(values["mode"], int(values["max_objects"]), tuple(values["cameras"]),
                   int(values["image_size"]), values.get("env_image_size"))


def object_slots(poses: np.ndarray, gripper_pos: np.ndarray,
                 max_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, 7 n) object poses and (B, 3) gripper positions -> slots (B, M * 10) and
    presence mask (B, M). Slot k: object k's pose (7), its position minus the gripper's
    (3); zeros for k >= n."""
    poses = np.asarray(poses, dtype=np.float32)
    batch, width = poses.shape
    n_objects = width // POSE_DIM
    if width % POSE_DIM or n_objects > max_objects:
        raise UserError(f"object poses of width {width} do not fit {max_objects} object slots")
    objects = poses.reshape(batch, n_objects, POSE_DIM)
    offsets = objects[:, :, :3] - np.asarray(gripper_pos, dtype=np.float32)[:, None, :]
    slots = np.zeros((batch, max_objects, SLOT_DIM), dtype=np.float32)
    slots[:, :n_objects] = np.concatenate([objects, offsets], axis=-1)
    mask = np.zeros((batch, max_objects), dtype=np.float32)
    mask[:, :n_objects] = 1.0
    return slots.reshape(batch, max_objects * SLOT_DIM), mask


def stack_observations(
    layout: ObservationLayout, observations: Sequence[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """B env observation dictionaries -> model inputs, key -> (B, ...).

    ``state`` (B, 8); in state mode ``objects`` (B, M * 10) and ``object_mask`` (B, M);
    in image mode each camera (B, H, W, 3) uint8. Tasks with different object counts may
    share a batch.
    """
    inputs: dict[str, np.ndarray] = {
        OBS_STATE: np.stack([np.asarray(o[OBS_STATE], dtype=np.float32) for o in observations])
    }
    if layout.mode == "state":
        pairs = [object_slots(np.asarray(o[OBS_OBJECT_POSES])[None],
                              np.asarray(o[OBS_EEF_POS])[None], layout.max_objects)
                 for o in observations]
        inputs[OBJECTS] = np.concatenate([p[0] for p in pairs])
        inputs[OBJECT_MASK] = np.concatenate([p[1] for p in pairs])
    else:
        for camera in layout.cameras:
            inputs[camera] = np.stack([np.asarray(o[camera], dtype=np.uint8) for o in observations])
    return inputs


@dataclass
class Standardizer:
    """x -> (x - mean) / std per dimension; statistics live in the JSON config."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, present: np.ndarray | None = None) -> Standardizer:
        """Fit to ``data`` (N, D); ``present`` (N, D) bool excludes padded entries."""
        data = np.asarray(data, dtype=np.float64)
        if present is None:
            present = np.ones(data.shape, dtype=bool)
        count = present.sum(0)
        mean = np.where(present, data, 0.0).sum(0) / np.maximum(count, 1)
        var = np.where(present, (data - mean) ** 2, 0.0).sum(0) / np.maximum(count, 1)
        std = np.maximum(np.sqrt(var), MIN_STD)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, values: dict[str, list[float]]) -> Standardizer:
        return cls(np.asarray(values["mean"], dtype=np.float32),
                   np.asarray(values["std"], dtype=np.float32))


@dataclass
class ActionScaler:
    """Actions (..., Da) <-> [-1, 1] per dimension from the data's range (saved in JSON)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, actions: np.ndarray) -> ActionScaler:
        flat = np.asarray(actions, dtype=np.float32).reshape(-1, actions.shape[-1])
        return cls(flat.min(0), flat.max(0))

    @property
    def _centre_and_half_range(self) -> tuple[np.ndarray, np.ndarray]:
        half = (self.high - self.low) / 2
        return (self.high + self.low) / 2, np.where(half > MIN_STD, half, 1.0)

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        centre, half = self._centre_and_half_range
        return ((actions - centre) / half).astype(np.float32)

    def unnormalize(self, scaled: np.ndarray) -> np.ndarray:
        centre, half = self._centre_and_half_range
        return (scaled * half + centre).astype(np.float32)

    def to_json(self) -> dict[str, list[float]]:
        return {"low": [float(v) for v in self.low], "high": [float(v) for v in self.high]}

    @classmethod
    def from_json(cls, values: dict[str, list[float]]) -> ActionScaler:
        return cls(np.asarray(values["low"], dtype=np.float32),
                   np.asarray(values["high"], dtype=np.float32))

