"""A policy on a server, seen through the VLA contract, so the evaluation runner runs it
exactly as it runs a checkpoint on this machine.

Each row of a batch is one request (the protocol carries one observation per request).
The server's metadata may declare what it reads and returns (this tool's ``serve`` does:
``observation_keys``, ``action_dim``, ``action_horizon``, ``executed_steps``,
``env_options``, ``noise_seed_key``); what it declares is checked before the first episode,
and every reply is checked against the env's action dimension.

Shape legend: B rows, Ta action horizon (chunk), Da action dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval.errors import UserError
from diffrl_eval.policy_server.client import PolicyClient
from diffrl_eval.policy_server.keys import KeyMapping
from diffrl_eval.vla.interface import VLA

# what a server that declares nothing gets: both cameras at the resolution openpi's LIBERO
# policies read (224 x 224)
DEFAULT_ENV_OPTIONS = {"images": True, "image_size": 224}


class RemotePolicy(VLA):
    """An evaluation-only VLA whose predictions come from a policy server."""

    name = "policy-server"
    description = "a policy served over openpi's websocket protocol"

    def __init__(self, client: PolicyClient, keys: KeyMapping, *, action_dim: int,
                 executed_steps: int | None = None,
                 env_options: dict[str, Any] | None = None) -> None:
        self.client = client
        self.keys = keys
        self.action_dim = int(action_dim)
        meta = client.metadata
        declared_steps = meta.get("executed_steps")
        self._executed_steps = executed_steps or (
            int(declared_steps) if isinstance(declared_steps, int) and declared_steps > 0
            else None)
        declared_options = meta.get("env_options")
        self._env_options = dict(env_options if env_options is not None else
                                 declared_options if isinstance(declared_options, dict)
                                 else DEFAULT_ENV_OPTIONS)
        seed_key = meta.get("noise_seed_key")
        self.noise_seed_key = seed_key if isinstance(seed_key, str) and seed_key else None
        self.action_horizon: int | None = None  # Ta, from the first reply

    # --- what evaluation asks -------------------------------------------------------------
    @property
    def executed_steps(self) -> int:
        """Te: the given or declared count, else the whole chunk of the first reply."""
        if self._executed_steps is not None:
            return self._executed_steps
        if self.action_horizon is None:
            raise RuntimeError("the chunk length is known after the first reply")
        return self.action_horizon

    def env_options(self) -> dict[str, Any]:
        return dict(self._env_options)

    def check_observation_space(self, space: Any, task_id: str) -> None:
        """Refuse, before the first episode, an env that lacks what the server declares it
        reads (under the key mapping)."""
        declared = self.client.metadata.get("observation_keys")
        if not isinstance(declared, list):
            return
        sent = self.keys.sent_keys(getattr(space, "spaces", {}) or {})
        missing = [str(key) for key in declared if key not in sent]
        if missing:
            raise UserError(
                f"policy server {self.client.uri} reads {', '.join(missing)}, which task "
                f"{task_id!r} does not send under this key mapping (it sends "
                f"{', '.join(sorted(sent)) or 'nothing'}); see --policy-keys")

    def predict_batch(self, observations: Sequence[dict[str, np.ndarray]],
                      instructions: Sequence[str], *, seed: int | None = None) -> np.ndarray:
        """Action chunks (B, Ta, Da), one request per row, each with noise seed ``seed``
        (when the server takes one)."""
        return np.stack([self._chunk(obs, text, seed)
                         for obs, text in zip(observations, instructions)])

    def predict_rows(self, observations: Sequence[dict[str, np.ndarray]],
                     instructions: Sequence[str], seeds: Sequence[int]) -> np.ndarray:
        """Action chunks (B, Ta, Da), row b's request carrying ``seeds[b]``."""
        return np.stack([self._chunk(obs, text, int(seed))
                         for obs, text, seed in zip(observations, instructions, seeds)])

    def _chunk(self, observation: dict[str, np.ndarray], instruction: str,
               seed: int | None) -> np.ndarray:
        """One request's action chunk (Ta, Da), checked."""
        request = self.keys.request(observation, instruction)
        if self.noise_seed_key is not None and seed is not None:
            request[self.noise_seed_key] = int(seed)
        reply = self.client.infer(request)
        return self._checked_chunk(reply)

    def _checked_chunk(self, reply: dict[str, Any]) -> np.ndarray:
        where = f"policy server {self.client.uri}"
        key = self.keys.action_key
        if key not in reply:
            raise UserError(f"{where} replied without {key!r} (it sent "
                            f"{', '.join(sorted(map(str, reply))) or 'an empty map'}); "
                            "--policy-keys actions=KEY names the action chunk's key")
        chunk = reply[key]
        if not isinstance(chunk, np.ndarray) or chunk.dtype.kind not in "iuf":
            raise UserError(f"{where} replied with {key!r} as "
                            f"{getattr(chunk, 'dtype', type(chunk).__name__)}; expected a "
                            f"numeric array (Ta, {self.action_dim})")
        if chunk.ndim != 2 or chunk.shape[1] != self.action_dim or chunk.shape[0] < 1:
            raise UserError(f"{where} replied with {key!r} of shape {tuple(chunk.shape)}; "
                            f"this suite's policies return action chunks (Ta, "
                            f"{self.action_dim})")
        if self.action_horizon is None:
            self.action_horizon = int(chunk.shape[0])
        elif chunk.shape[0] != self.action_horizon:
            raise UserError(f"{where} replied with a chunk of {chunk.shape[0]} actions after "
                            f"chunks of {self.action_horizon}")
        if self._executed_steps is not None and self._executed_steps > self.action_horizon:
            raise UserError(f"{where} returns chunks of {self.action_horizon} actions, fewer "
                            f"than the {self._executed_steps} executed per decision "
                            "(--executed-steps)")
        if not np.isfinite(chunk).all():
            raise UserError(f"{where} replied with non-finite actions")
        return chunk

    # --- what a server-side policy is not -------------------------------------------------
    def fit(self, datasets, hparams, *, seed=0, progress=True) -> VLA:
        raise UserError("a policy server is evaluated here, not trained")

    def save(self, directory: Path) -> None:
        raise UserError("a policy server has no checkpoint to save")

    @classmethod
    def load(cls, directory: Path) -> VLA:
        raise UserError("a policy server is reached by its address (--policy-server), not "
                        "loaded from a directory")
