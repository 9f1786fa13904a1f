"""The policy's configuration: architecture, diffusion schedule, sampling, exploration.

Everything that decides the shape of the weights or the behaviour of sampling is here, so
that a checkpoint's JSON config rebuilds exactly the same policy. Nonsense values fail
loudly in ``__post_init__`` with a one-line :class:`~diffrl_eval.errors.UserError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from diffrl_eval.constants import ACTION_DIM, CAMERA_KEYS, GRIPPER_ACTION_INDEX, STATE_DIM
from diffrl_eval.diffusion.noise_schedule import SAMPLERS
from diffrl_eval.errors import UserError

ENCODERS = ("resnet", "mlp")
DECODERS = ("unet", "mlp")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise UserError(f"{name} must be > 0; got {value!r}")


@dataclass
class PolicyConfig:
    """Architecture and sampling settings shared by the diffusion and Gaussian policies.

    Observation: ``n_obs_steps`` (To) frames of proprioception (``proprio_dim``), plus
    either camera images (``encoder="resnet"``, keys ``image_keys``) or a low-dimensional
    state vector (``encoder="mlp"``, keys ``lowdim_keys`` concatenated to ``lowdim_dim``).
    Action: a chunk of ``horizon`` (Ta) steps of ``action_dim`` (Da), of which the first
    ``action_steps`` (Te) are executed.
    """

    action_dim: int = ACTION_DIM
    horizon: int = 16
    action_steps: int = 8
    n_obs_steps: int = 2
    proprio_dim: int = STATE_DIM
    # --- observation encoder
    encoder: str = "mlp"
    lowdim_keys: tuple[str, ...] = ()
    lowdim_dim: int = 0
    image_keys: tuple[str, ...] = CAMERA_KEYS
    image_size: int = 84
    encoder_channels: tuple[int, ...] = (32, 64, 128)
    encoder_hidden: int = 256
    obs_feature_dim: int = 64
    group_norm_groups: int = 8
    # --- noise-prediction decoder
    decoder: str = "unet"
    unet_channels: tuple[int, ...] = (64, 128, 256)
    unet_kernel_size: int = 5
    step_embed_dim: int = 64
    mlp_hidden: tuple[int, ...] = (256, 256, 256)
    # --- diffusion
    train_denoising_steps: int = 100
    clip_denoised: float = 1.0  # normalized actions live in [-1, 1]
    sampler: str = "ddim"
    denoising_steps: int = 5
    # eta of the stochastic DDIM steps taken during RL; evaluation and data generation
    # sample with eta = 0 (deterministic)
    rl_eta: float = 1.0
    # floor on every denoising step's (and the Gaussian head's) standard deviation during
    # RL: keeps per-step likelihoods finite and the policy exploring
    min_std: float = 0.1
    max_std: float = 1.0  # Gaussian head only
    init_std: float = 0.5  # Gaussian head only
    # Gaussian head only: the std PPO starts from (None: whatever behaviour cloning left;
    # an NLL fit on whole chunks leaves it wide, and PPO then optimizes a much noisier
    # policy than the mean it generates data with)
    rl_init_std: float | None = None
    # fine-tune only the last ft_denoising_steps steps of the chain (None: all); the earlier
    # steps keep sampling from a frozen copy of the cloned network
    ft_denoising_steps: int | None = None
    # with ft_denoising_steps: the frozen early steps sample deterministically (DDIM eta = 0,
    # no noise) instead of with the RL noise; their noise is not learnt from, so it only
    # blurs the outcome the fine-tuned steps are credited with
    frozen_steps_deterministic: bool = False
    # the standard-normal noise of every stochastic denoising step is clipped to
    # +-noise_clip during RL (None: unclipped); keeps a rare far sample from making a
    # log-probability, and so a ratio, extreme
    noise_clip: float | None = None
    # lag-1 correlation of the RL exploration noise along the chunk's time axis (an AR(1)
    # process with unit marginal variance, so each element keeps its std): 0 draws every
    # element independently; near 1 a whole chunk moves together, giving far fewer
    # independent draws for one episode's outcome to be credited to
    noise_time_correlation: float = 0.0
    # --- observation normalization
    # floor on the fitted range (max - min, data units) of every observation dimension
    # that varies: a dimension the demonstrations barely move (the other cube's height)
    # would otherwise get a gain in the thousands and turn small deviations into huge inputs
    obs_min_range: float = 0.0
    # normalized observation inputs are clipped to +-obs_clip (None: unclipped)
    obs_clip: float | None = None
    ema_decay: float = 0.995
    # executed gripper commands snap to -1 / +1 (the demonstrations' own values)
    binarize_gripper: bool = True

    def __post_init__(self) -> None:
        self.lowdim_keys = tuple(self.lowdim_keys)
        self.image_keys = tuple(self.image_keys)
        self.encoder_channels = tuple(self.encoder_channels)
        self.unet_channels = tuple(self.unet_channels)
        self.mlp_hidden = tuple(self.mlp_hidden)
        _choice("encoder", self.encoder, ENCODERS)
        _choice("decoder", self.decoder, DECODERS)
        _choice("sampler", self.sampler, SAMPLERS)
        for name in (
            "action_dim",
            "horizon",
            "action_steps",
            "n_obs_steps",
            "proprio_dim",
            "obs_feature_dim",
            "step_embed_dim",
            "train_denoising_steps",
            "denoising_steps",
            "image_size",
            "group_norm_groups",
            "min_std",
        ):
            _positive(name, getattr(self, name))
        if self.action_steps > self.horizon:
            raise UserError(
                f"action_steps (Te={self.action_steps}) must be <= horizon (Ta={self.horizon})"
            )
        if self.denoising_steps > self.train_denoising_steps:
            raise UserError(
                f"denoising_steps ({self.denoising_steps}) must be <= train_denoising_steps "
                f"({self.train_denoising_steps})"
            )
        if self.encoder == "mlp" and bool(self.lowdim_keys) != (self.lowdim_dim > 0):
            raise UserError("lowdim_keys and lowdim_dim must be given together for encoder mlp")
        if self.encoder == "resnet" and not self.image_keys:
            raise UserError("encoder resnet needs at least one camera in image_keys")
        if self.decoder == "unet":
            levels = len(self.unet_channels)
            if self.horizon % 2 ** (levels - 1):
                raise UserError(
                    f"horizon (Ta={self.horizon}) must be divisible by {2 ** (levels - 1)} "
                    f"for a U-Net with {levels} levels"
                )
        for channels in (*self.unet_channels, *self.encoder_channels):
            if channels % self.group_norm_groups:
                raise UserError(
                    f"channel width {channels} is not divisible by group_norm_groups "
                    f"({self.group_norm_groups})"
                )
        if not 0.0 <= self.rl_eta <= 1.0:
            raise UserError(f"rl_eta must be in [0, 1]; got {self.rl_eta}")
        if not self.min_std < self.max_std:
            raise UserError(f"the std range needs min_std < max_std; got min_std {self.min_std}, "
                            f"max_std {self.max_std}")
        for name in ("init_std", "rl_init_std"):
            value = getattr(self, name)
            if value is not None and not self.min_std <= value <= self.max_std:
                raise UserError(f"{name} must be in [min_std, max_std] = [{self.min_std}, "
                                f"{self.max_std}]; got {value}")
        chain = self.chain_steps
        if self.ft_denoising_steps is not None and not 1 <= self.ft_denoising_steps <= chain:
            raise UserError(
                f"ft_denoising_steps must be in [1, {chain}] (the {self.sampler} chain has "
                f"{chain} denoising steps) or None; got {self.ft_denoising_steps!r}"
            )
        if self.frozen_steps_deterministic and self.ft_denoising_steps is None:
            raise UserError("frozen_steps_deterministic needs ft_denoising_steps (the frozen "
                            "early steps it makes deterministic)")
        for name in ("noise_clip", "obs_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"{name} must be > 0 or None; got {value!r}")
        if not 0.0 <= self.noise_time_correlation < 1.0:
            raise UserError(f"noise_time_correlation must be in [0, 1); "
                            f"got {self.noise_time_correlation!r}")
        if not self.obs_min_range >= 0:
            raise UserError(f"obs_min_range must be >= 0; got {self.obs_min_range!r}")
        if self.binarize_gripper and self.action_dim <= GRIPPER_ACTION_INDEX:
            raise UserError(
                f"binarize_gripper needs the gripper at action index {GRIPPER_ACTION_INDEX}; "
                f"action_dim is {self.action_dim}"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"ema_decay must be in [0, 1); got {self.ema_decay}")

    @property
    def chain_steps(self) -> int:
        """Denoising steps the RL sampler takes: ``denoising_steps`` for DDIM, all T for DDPM."""
        return self.train_denoising_steps if self.sampler == "ddpm" else self.denoising_steps

    @property
    def fine_tuned_steps(self) -> int:
        """How many of the chain's last steps PPO trains (all unless ``ft_denoising_steps``)."""
        return self.chain_steps if self.ft_denoising_steps is None else self.ft_denoising_steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PolicyConfig:
        """Rebuild from :meth:`to_dict`; unknown keys are a one-line error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown policy config key(s): {', '.join(unknown)}")
        return cls(**values)
