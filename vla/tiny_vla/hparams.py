"""Training hyper-parameters of tiny-vla: its settings, presets, and validation.

The hash of the completed dictionary and the hparams file are the core's
(:mod:`diffrl_eval.vla.hparams`). A file holds a JSON object: an optional ``"preset"`` ("quick" or "full", default "full")
whose values are the starting point, and any keys of :class:`TinyVLAHparams` to override.
Unknown keys and nonsense values are a one-line :class:`~diffrl_eval.errors.UserError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.validation import check_setting_types
from diffrl_eval.vla.hparams import PRESET_KEY, hparams_hash, read_hparams_file

OBSERVATION_MODES = ("auto", "state", "image")
HEADS = ("l1", "diffusion")
PRESETS = ("quick", "full")


@dataclass
class TinyVLAHparams:
    """Every setting that decides tiny-vla's weights or behaviour.

    Observation: ``observation`` "state" reads proprioception and the scene's object
    poses (padded to ``max_objects`` slots with a presence mask); "image" reads the
    agent-view and wrist cameras (resized to ``image_size``) and proprioception; "auto"
    picks "image" when every training dataset recorded both cameras, else "state".
    Action: a chunk of ``chunk_size`` (Ta) steps, of which the first ``executed_steps``
    (Te) run before the model is asked again.
    """

    # --- observation
    observation: str = "auto"
    max_objects: int = 8
    image_size: int = 64
    vision_channels: tuple[int, ...] = (32, 64, 128)
    group_norm_groups: int = 8
    random_shift: int = 4  # pixels of random-shift augmentation on training images
    observation_noise: float = 0.0  # std of Gaussian noise on normalized low-dim inputs
    # --- language
    language: bool = True  # False: the instruction embedding is a constant (baseline)
    # --- trunk and head
    hidden_dim: int = 256
    trunk_blocks: int = 3
    dropout: float = 0.0
    chunk_size: int = 8
    executed_steps: int = 4
    head: str = "l1"
    diffusion_train_steps: int = 100
    denoising_steps: int = 10
    # --- optimisation
    train_steps: int = 12000
    batch_size: int = 256
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    successful_only: bool = True  # clone only episodes that reached the goal
    drop_no_ops: bool = True  # leave no-op steps out of the samples (OpenVLA's filter)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.vision_channels = tuple(int(c) for c in self.vision_channels)
        checks = [
            (self.observation in OBSERVATION_MODES,
             f"observation must be one of {', '.join(OBSERVATION_MODES)}"),
            (self.head in HEADS, f"head must be one of {', '.join(HEADS)}"),
            (self.max_objects >= 1, "max_objects must be >= 1"),
            (self.image_size >= 16, "image_size must be >= 16"),
            (len(self.vision_channels) >= 1 and min(self.vision_channels) > 0,
             "vision_channels must be a non-empty list of positive widths"),
            (all(c % self.group_norm_groups == 0 for c in self.vision_channels),
             "every vision channel width must be divisible by group_norm_groups"),
            (self.random_shift >= 0, "random_shift must be >= 0"),
            (self.observation_noise >= 0, "observation_noise must be >= 0"),
            (self.hidden_dim > 0 and self.trunk_blocks >= 1,
             "hidden_dim must be > 0 and trunk_blocks >= 1"),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"),
            (self.chunk_size >= 1, "chunk_size must be >= 1"),
            (1 <= self.executed_steps <= self.chunk_size,
             "executed_steps must be in [1, chunk_size]"),
            (self.diffusion_train_steps >= 2, "diffusion_train_steps must be >= 2"),
            (1 <= self.denoising_steps <= self.diffusion_train_steps,
             "denoising_steps must be in [1, diffusion_train_steps]"),
            (self.train_steps >= 1 and self.batch_size >= 1,
             "train_steps and batch_size must be >= 1"),
            (self.learning_rate > 0 and self.weight_decay >= 0,
             "learning_rate must be > 0 and weight_decay >= 0"),
            (self.warmup_steps >= 0, "warmup_steps must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"tiny-vla hparams: {message}")
        if self.extra:
            raise UserError(f"tiny-vla hparams: unknown key(s) {', '.join(sorted(self.extra))}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TinyVLAHparams:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = {k: v for k, v in values.items() if k not in known}
        check_setting_types(cls, {k: v for k, v in values.items() if k in known},
                            "tiny-vla hparams")
        try:
            return cls(**{k: v for k, v in values.items() if k in known}, extra=unknown)
        except TypeError as exc:  # a value of the wrong type reaching a comparison
            raise UserError(f"tiny-vla hparams: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("extra")
        values["vision_channels"] = list(self.vision_channels)
        return values


_QUICK = {
    # small enough to train in well under a minute on 2 CPU cores for a few tasks of
    # 10-20 state-only episodes each: for smoke runs and the quick `compare` preset
    "hidden_dim": 128,
    "trunk_blocks": 2,
    "vision_channels": [16, 32, 64],
    "train_steps": 1500,
    "batch_size": 128,
    "learning_rate": 1e-3,
    "warmup_steps": 50,
}


def default_hparams(preset: str = "full") -> dict[str, Any]:
    """The complete hparams dictionary of ``preset`` ("quick" or "full")."""
    if preset not in PRESETS:
        raise unknown_choice("hparams preset", preset, PRESETS)
    values = TinyVLAHparams().to_dict()
    if preset == "quick":
        values.update(_QUICK)
    return TinyVLAHparams.from_dict(values).to_dict()


def resolve_hparams(values: dict[str, Any] | None) -> dict[str, Any]:
    """``values`` (possibly partial, possibly naming a preset) completed and validated."""
    values = dict(values or {})
    preset = values.pop(PRESET_KEY, "full")
    merged = default_hparams(preset)
    merged.update(values)
    return TinyVLAHparams.from_dict(merged).to_dict()


def load_hparams(path: str | Path) -> dict[str, Any]:
    """Read an hparams JSON file; the result is complete (defaults filled in) and valid."""
    return resolve_hparams(read_hparams_file(path))


__all__ = ["PRESETS", "PRESET_KEY", "TinyVLAHparams", "default_hparams", "hparams_hash",
           "load_hparams", "resolve_hparams"]
