"""Joining consecutive action chunks when an expert generates data.

A chunk policy plans Ta actions and executes the first Te; the next chunk is planned from
fresh noise, so nothing ties its first action to the last one executed and the actions
jump at chunk boundaries. A join mode decides how a deterministic rollout turns the
policy's chunks into executed actions:

``none``
    Fresh initial noise per chunk, first Te actions executed (the plain policy).
``warm-start``
    Diffusion only. The next chunk's denoising starts halfway down the DDIM chain from the
    previous chunk's unexecuted tail (shifted to the front, its last action repeated to
    fill the horizon; with Te = Ta, the last action) noised to that level with fresh noise,
    instead of from pure noise:
    the policy still conditions on the new observation but begins near the plan it had.
``blend``
    The first ``BLEND_STEPS`` executed actions of the new chunk are mixed with the
    previous chunk's plan for the same steps, the new chunk's weight rising linearly
    (1/(L+1) ... L/(L+1)), a cheap temporal ensemble. The gripper command stays the new
    chunk's (it is binary).
``whole-chunk``
    All Ta planned actions are executed (half as many decisions, twice as open-loop).

Every mode is deterministic given the seed. Shape legend: n running episodes, Ta action
horizon, Te executed steps, Da action dim, K denoising steps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from diffrl_eval.constants import GRIPPER_ACTION_INDEX
from diffrl_eval.errors import UserError

CHUNK_JOIN_MODES = ("none", "warm-start", "blend", "whole-chunk")
DIFFUSION_ONLY = ("warm-start",)
DEFAULT_CHUNK_JOIN = "none"  # diffusion-ppo's recipe chooses warm-start (measured)
BLEND_STEPS = 4  # executed steps over which a blended chunk takes over from the last plan


def check_chunk_join(mode: str, policy_kind: str = "diffusion") -> str:
    """``mode`` if a policy of ``policy_kind`` can join its chunks so; otherwise a one-line
    error naming the valid choices."""
    choices = CHUNK_JOIN_MODES if policy_kind == "diffusion" else tuple(
        m for m in CHUNK_JOIN_MODES if m not in DIFFUSION_ONLY)
    if mode not in choices:
        what = "unknown" if mode not in CHUNK_JOIN_MODES else f"{policy_kind} policies have no"
        raise UserError(f"{what} chunk_join {mode!r}; valid choices: {', '.join(choices)}")
    return mode


def executed_steps(mode: str, horizon: int, action_steps: int) -> int:
    """Actions executed per chunk under ``mode``."""
    return horizon if mode == "whole-chunk" else action_steps


class ChunkJoiner:
    """Deterministic acting for n_envs episodes, joining each env's chunks by ``mode``.

    Call :meth:`start` when an env begins an episode (it forgets the previous plan) and
    :meth:`act` once per decision for the running envs.
    """

    def __init__(self, policy: nn.Module, mode: str, n_envs: int) -> None:
        self.policy = policy
        self.mode = check_chunk_join(mode, policy.kind)
        config = policy.config
        self.horizon, self.action_steps = config.horizon, config.action_steps
        self.executed = executed_steps(mode, self.horizon, self.action_steps)
        # per env: the last chunk planned, normalized (Ta, Da) and in data units (Ta, Da),
        # kept on the CPU beside the environments
        self._plan = torch.zeros(n_envs, self.horizon, config.action_dim, device="cpu")
        self._plan_actions = torch.zeros(n_envs, self.horizon, config.action_dim, device="cpu")
        self._has_plan = np.zeros(n_envs, dtype=bool)

    def start(self, env_index: int) -> None:
        self._has_plan[env_index] = False

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor], envs: np.ndarray,
            generator: torch.Generator) -> np.ndarray:
        """Executed actions (n, Te or Ta, Da) for the envs ``envs`` (n,) given their
        observations (on the policy's device); remembers each env's new plan (on the
        CPU)."""
        envs = np.asarray(envs)
        warm = self._has_plan[envs]
        if self.mode == "warm-start" and warm.any():
            sample = self._warm_started(obs, envs, warm, generator)
            chunk = self.policy.to_action(sample)
        else:
            step = self.policy.act(obs, deterministic=True, generator=generator)
            chunk, sample = step.action_chunk, self._clean(step.record)
        chunk, sample = chunk.cpu(), sample.cpu()
        executed = chunk[:, : self.executed].clone()
        if self.mode == "blend" and warm.any():
            rows = torch.from_numpy(warm)
            executed[rows] = self._blended(executed[rows], envs[warm])
        self._plan[envs] = sample
        self._plan_actions[envs] = chunk
        self._has_plan[envs] = True
        return executed.numpy()

    @staticmethod
    def _clean(record: torch.Tensor) -> torch.Tensor:
        """The normalized chunk a deterministic act returned: the chain's end for
        diffusion (n, K+1, Ta, Da), the mean for Gaussian (n, Ta, Da)."""
        return record[:, -1] if record.dim() == 4 else record

    def _tail_guess(self, envs: np.ndarray) -> torch.Tensor:
        """Previous plans shifted by Te, the last planned action repeated: (n, Ta, Da).
        A policy that executes its whole plan (Te = Ta) has no tail: its last action,
        repeated, is the guess."""
        tail = self._plan[envs, self.action_steps:]
        if tail.shape[1] == 0:
            tail = self._plan[envs, -1:]
        pad = tail[:, -1:].expand(-1, self.horizon - tail.shape[1], -1)
        return torch.cat([tail, pad], dim=1)

    def _blended(self, executed: torch.Tensor, envs: np.ndarray) -> torch.Tensor:
        overlap = min(BLEND_STEPS, self.executed, self.horizon - self.action_steps)
        previous = self._plan_actions[envs, self.action_steps : self.action_steps + overlap]
        weight = torch.arange(1, overlap + 1, dtype=executed.dtype,
                              device=executed.device) / (overlap + 1)
        weight = weight[None, :, None].expand_as(previous).clone()
        weight[..., GRIPPER_ACTION_INDEX] = 1.0
        executed[:, :overlap] = weight * executed[:, :overlap] + (1 - weight) * previous
        return executed

    def _warm_started(self, obs: dict[str, torch.Tensor], envs: np.ndarray,
                      warm: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        """Deterministic DDIM (eta = 0) for every env: from pure noise over the whole chain
        where ``warm`` is False, from the noised tail guess over the second half where it
        is True. Returns the normalized chunks (n, Ta, Da)."""
        policy = self.policy
        cond = policy.encoder(obs)
        batch = cond.shape[0]
        timesteps, prev = policy.chain_timesteps()
        first = len(timesteps) // 2  # the warm chains start at this denoising step
        noise = policy.initial_noise(batch, generator)
        alpha_bar = policy.alpha_bar(timesteps[first].expand(batch))
        guess = torch.zeros_like(noise)
        guess[torch.from_numpy(warm).to(noise.device)] = self._tail_guess(envs[warm]).to(noise)
        warm_start = alpha_bar.sqrt() * guess + (1 - alpha_bar).sqrt() * noise
        x = noise
        warm_rows = torch.from_numpy(warm).to(noise.device)[:, None, None]
        for k, (t, t_prev) in enumerate(zip(timesteps, prev)):
            if k == first:
                x = torch.where(warm_rows, warm_start, x)
            mean, _ = policy.step_distribution(x, t.expand(batch), t_prev.expand(batch), cond,
                                               eta=0.0, min_std=0.0)
            x = mean if k >= first else torch.where(warm_rows, x, mean)
        return x
