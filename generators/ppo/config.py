"""Every PPO hyper-parameter in one validated dataclass.

The stabilizers the paper ablates are plain fields here (``lr_schedule``, ``n_envs``,
``batch_size``) or in :class:`~generators.policy.config.PolicyConfig` (``sampler``,
``denoising_steps``, ``decoder``, ``encoder``).
"""

from __future__ import annotations

from dataclasses import dataclass

from diffrl_eval.errors import UserError

LR_SCHEDULES = ("cosine", "constant")


@dataclass
class PPOConfig:
    """PPO settings; invalid values raise a one-line :class:`UserError`."""

    n_envs: int = 50  # parallel environments: diversity of each PPO batch
    n_steps: int = 64  # decisions (action chunks) per environment per iteration
    n_iterations: int = 200
    batch_size: int = 2500  # minibatch size, in (decision, denoising step) samples
    update_epochs: int = 5
    gamma: float = 0.999  # environment discount, per executed chunk
    gae_lambda: float = 0.95
    gamma_denoise: float = 0.99  # discount of the advantage along the denoising chain
    clip_coef: float = 0.01  # PPO ratio clip; small because each chain step is one decision
    # clip at the noisiest denoising step, growing to clip_coef at the last (None: flat)
    clip_coef_base: float | None = None
    clip_coef_rate: float = 3.0  # how late in the chain the clip grows
    normalize_advantages: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    max_grad_norm: float = 1.0
    target_kl: float | None = 1.0  # stop an iteration's epochs once the approx KL exceeds it
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    lr_schedule: str = "cosine"
    min_lr_fraction: float = 0.1  # cosine decays to this fraction of the initial rate
    critic_warmup_iterations: int = 2  # iterations that update only the critic
    # score only the chunk elements that reach the env (executed steps, varying dims)
    executed_likelihood: bool = True

    def __post_init__(self) -> None:
        for name in ("n_envs", "n_steps", "n_iterations", "batch_size", "update_epochs"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        for name in ("gamma", "gae_lambda", "gamma_denoise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{name} must be in [0, 1]; got {getattr(self, name)!r}")
        for name in ("clip_coef", "max_grad_norm", "actor_lr", "critic_lr"):
            if not getattr(self, name) > 0:
                raise UserError(f"{name} must be > 0; got {getattr(self, name)!r}")
        for name in ("vf_coef", "ent_coef"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.clip_coef_base is not None and not 0 < self.clip_coef_base <= self.clip_coef:
            raise UserError(f"clip_coef_base must be in (0, clip_coef]; got {self.clip_coef_base!r}")
        if not self.clip_coef_rate > 0:
            raise UserError(f"clip_coef_rate must be > 0; got {self.clip_coef_rate!r}")
        if self.target_kl is not None and not self.target_kl > 0:
            raise UserError(f"target_kl must be > 0 or None; got {self.target_kl!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {self.lr_schedule!r}"
            )
        if not 0.0 <= self.min_lr_fraction <= 1.0:
            raise UserError(f"min_lr_fraction must be in [0, 1]; got {self.min_lr_fraction!r}")
        if not 0 <= self.critic_warmup_iterations < self.n_iterations:
            raise UserError(
                f"critic_warmup_iterations must be in [0, n_iterations); "
                f"got {self.critic_warmup_iterations!r}"
            )
