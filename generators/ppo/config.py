"""Every PPO hyper-parameter in one validated dataclass.

The stabilizers the paper ablates are plain fields here (``lr_schedule``, ``n_envs``,
``batch_size``) or in :class:`~generators.policy.config.PolicyConfig` (``sampler``,
``denoising_steps``, ``decoder``, ``encoder``).
"""

from __future__ import annotations

from dataclasses import dataclass

from diffrl_eval.errors import UserError

LR_SCHEDULES = ("cosine", "constant")
# success_once: reward 1 at the first step the goal holds, which ends the episode;
# success_hold: reward 1 for every step the goal holds, the episode running on to its
# time limit (or until the goal has held success_hold_steps steps in a row)
REWARD_MODES = ("success_once", "success_hold")
KL_ESTIMATES = ("element", "chunk")  # which KL target_kl stops on (see generators.ppo.loss)
# where training episodes start: the task's fixed initial states (the ones evaluation and
# data generation use), or placements sampled from the task's distribution, never those
TRAIN_STARTS = ("fixed", "sampled")


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
    target_kl: float | None = 1.0  # stop an iteration's epochs once the KL exceeds it
    # element: KL of every chunk element's own ratio; chunk: of the chunk-averaged ratio
    # (40-70x smaller for the same policy change)
    target_kl_estimate: str = "element"
    # clamp element log-densities to DPPO's [LOG_PROB_MIN, LOG_PROB_MAX] in the loss
    clamp_log_prob: bool = False
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    lr_schedule: str = "cosine"
    min_lr_fraction: float = 0.1  # cosine decays to this fraction of the initial rate
    critic_warmup_iterations: int = 2  # iterations that update only the critic
    # score only the chunk elements that reach the env (executed steps, varying dims)
    executed_likelihood: bool = True
    # --- where training episodes start (see TRAIN_STARTS)
    train_starts: str = "fixed"
    # --- reward
    reward_mode: str = "success_once"
    success_hold_steps: int | None = None  # success_hold: end after this many held steps
    # divide rewards by the running std of a discounted return (PPG / DPPO)
    reward_scaling: bool = False
    # --- speed
    # torch threads for each iteration's update (the env workers wait meanwhile, so their
    # cores are free): 2 made the recipe's update 1.7x faster on two free cores, and far
    # slower on cores other jobs hold. The count changes the trained weights in their last
    # bits (reductions split differently), so it is a setting, never read from the machine.
    update_threads: int = 1
    # --- diagnostics
    # every this many iterations, the cosine between the policy gradients of two random
    # halves of the iteration's batch (how much of an update is signal); 0: never
    gradient_agreement_every: int = 1
    # every this many iterations, deterministic success from every fixed initial state of
    # the task (a diagnostic: training never reads it); 0: never
    eval_every: int = 0

    def __post_init__(self) -> None:
        for name in ("n_envs", "n_steps", "n_iterations", "batch_size", "update_epochs",
                     "update_threads"):
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
        for name, value, choices in (("reward_mode", self.reward_mode, REWARD_MODES),
                                     ("target_kl_estimate", self.target_kl_estimate,
                                      KL_ESTIMATES),
                                     ("train_starts", self.train_starts, TRAIN_STARTS)):
            if value not in choices:
                raise UserError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        if self.success_hold_steps is not None:
            if self.reward_mode != "success_hold":
                raise UserError("success_hold_steps needs reward_mode success_hold")
            if int(self.success_hold_steps) < 1:
                raise UserError(f"success_hold_steps must be >= 1 or None; "
                                f"got {self.success_hold_steps!r}")
        for name in ("gradient_agreement_every", "eval_every"):
            if int(getattr(self, name)) < 0:
                raise UserError(f"{name} must be >= 0 (0: never); got {getattr(self, name)!r}")
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
