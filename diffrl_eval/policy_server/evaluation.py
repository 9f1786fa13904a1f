"""Evaluate a policy server on suites: the same episodes, JSON, intervals and videos as a
checkpoint evaluated on this machine.

The episodes (tasks, fixed initial states, reset seeds, per-decision noise seeds) are
planned exactly as for a checkpoint, run by the same runner in this process (the server
does the model's work), and written as the same ``diffrl-eval/vla-eval`` result. What the
checkpoint's ``checkpoint.json`` would say (the VLA, its hparams hash, the training
provenance, the backend) comes from the server's metadata when it declares it (this
tool's ``serve`` does); otherwise the fields say the policy is remote. The result adds
``policy_server``: the address and the metadata. A run that fails returns nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval import registry
from diffrl_eval.constants import ACTION_DIM
from diffrl_eval.documents import PROTOCOLS
from diffrl_eval.envs.base import EnvBackend, get_backend
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.policy_server.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REPLY_TIMEOUT,
    PolicyClient,
)
from diffrl_eval.policy_server.keys import KeyMapping
from diffrl_eval.policy_server.remote_policy import RemotePolicy
from diffrl_eval.progress import progress_bar
from diffrl_eval.vla.evaluation import (
    DEFAULT_EVAL_ENVS,
    EvalPlan,
    check_eval_options,
    default_protocol,
    episode_jobs,
    evaluation_tasks,
    plan_result,
    run_episodes,
    write_recordings,
)

REMOTE_DEVICE = "remote"  # device of a served model that does not declare it
REMOTE_SOURCE = "remote"  # training.sources of a server that does not say what it learnt from
# training.seed of a server that does not declare one: results are grouped by training seed
# (compare, the report), and a served policy is one training run
REMOTE_TRAINING_SEED = 0
_TRAINING_KEYS = ("seed", "datasets", "sources", "train_suites")


def backend_for_suites(suites: Sequence[str]) -> str:
    """The registered backend that has every suite of ``suites``."""
    names = registry.envs.names()
    for name in names:
        try:
            own = set(get_backend(name).suites())
        except Exception:  # noqa: BLE001 - a broken third-party backend is not a candidate
            continue
        if set(suites) <= own:
            return name
    raise UserError(f"no backend has the suite(s) {', '.join(suites)}; give --backend "
                    f"({', '.join(names)}) and a suite of it")


def _json_safe(value: Any, depth: int = 0) -> Any:
    """Metadata as JSON: arrays as lists (large ones described), bytes described."""
    if depth > 8:
        return "..."
    if isinstance(value, dict):
        return {str(k if not isinstance(k, bytes) else k.decode("utf-8", "replace")):
                _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{tuple(value.shape)} {value.dtype}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def _provenance(metadata: dict[str, Any], uri: str, backend: str,
                sources: Sequence[str] | None) -> dict[str, Any]:
    """What a checkpoint's ``checkpoint.json`` says, from the server's metadata."""
    training = metadata.get("training")
    training = dict(training) if isinstance(training, dict) and all(
        key in training for key in _TRAINING_KEYS) else {
        "seed": REMOTE_TRAINING_SEED, "datasets": [], "sources": [REMOTE_SOURCE],
        "train_suites": []}
    if sources:
        training["sources"] = list(sources)
    vla = metadata.get("vla")
    hparams_hash = metadata.get("hparams_hash")
    return {"vla": vla if isinstance(vla, str) else RemotePolicy.name,
            "hparams_hash": hparams_hash if isinstance(hparams_hash, str) else None,
            "backend": backend, "training": training,
            "checkpoint_hash": metadata.get("checkpoint_hash")
            if isinstance(metadata.get("checkpoint_hash"), str) else None}


def evaluate_policy_server(
    uri: str,
    suites: Sequence[str],
    *,
    episodes_per_task: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    protocol: str | None = None,
    backend: str | None = None,
    keys: KeyMapping | None = None,
    executed_steps: int | None = None,
    image_size: int | None = None,
    sources: Sequence[str] | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    progress: bool = True,
    n_envs: int = DEFAULT_EVAL_ENVS,
    record: int = 0,
    record_dir: Path | None = None,
) -> dict[str, Any]:
    """Success of the policy served at ``uri`` on every task of ``suites`` (kind
    ``diffrl-eval/vla-eval``), with the episodes a checkpoint's evaluation runs.

    ``executed_steps`` (Te), ``image_size`` (0: no cameras) and ``backend`` default to what
    the server declares; then to the whole chunk, 224 and the backend owning ``suites``.
    ``protocol`` defaults to one derived from the training suites the server declares, and
    to in-distribution when it declares none. ``sources`` labels the training data of a
    server that does not declare it.
    """
    check_eval_options(episodes_per_task, n_envs, None, record)
    if record and record_dir is None:
        raise UserError("recording rollouts needs a directory for the videos")
    if protocol is not None and protocol not in PROTOCOLS:
        raise unknown_choice("protocol", protocol, PROTOCOLS)
    if executed_steps is not None and executed_steps <= 0:
        raise UserError(f"--executed-steps must be a positive integer, got {executed_steps}")
    if image_size is not None and image_size < 0:
        raise UserError(f"--image-size must be a non-negative integer, got {image_size}")
    suites = list(dict.fromkeys(suites))
    if not suites:
        raise UserError("give at least one suite to evaluate on")
    if backend is not None and backend not in registry.envs.names():
        raise unknown_choice("backend", backend, registry.envs.names())

    with PolicyClient(uri, connect_timeout=connect_timeout,
                      reply_timeout=reply_timeout) as client:
        metadata = client.metadata
        declared_backend = metadata.get("backend")
        name = backend or (declared_backend if declared_backend in registry.envs.names()
                           else backend_for_suites(suites))
        env_backend: EnvBackend = get_backend(name)
        selected = evaluation_tasks(env_backend, suites, tasks)
        env_options = None
        if image_size is not None:
            env_options = {"images": True, "image_size": image_size} if image_size else {}
        model = RemotePolicy(client, keys or KeyMapping(), action_dim=ACTION_DIM,
                             executed_steps=executed_steps, env_options=env_options)
        info = _provenance(metadata, client.uri, name, sources)
        episodes = episode_jobs(env_backend, selected, episodes_per_task, seed)
        for episode in episodes:
            episode.record = episode.index < record
        plan = EvalPlan(client.uri, info, info["checkpoint_hash"], selected,
                        protocol or default_protocol(suites, info["training"]["train_suites"]
                                                     or suites), episodes)
        started = time.perf_counter()
        with progress_bar() as bars:
            bar = bars.add_task(f"eval {client.uri}", total=len(episodes), status="",
                                visible=progress)
            done = [0, 0]

            def ended(episode) -> None:
                done[0] += 1
                done[1] += episode.success
                bars.update(bar, advance=1, status=f"success {done[1]}/{done[0]}")

            plan.env_steps = run_episodes(model, env_backend, episodes, n_envs=n_envs,
                                          on_episode=ended)
        plan.seconds = time.perf_counter() - started
        requests = client.requests
    if record:
        write_recordings(plan, record_dir)
    # the device the served model runs on, when the server says (this tool's server does)
    result = plan_result(plan, seed, episodes_per_task, suites,
                         str(metadata.get("device") or REMOTE_DEVICE))
    result["policy_server"] = {"uri": client.uri, "requests": int(requests),
                               "action_horizon": model.action_horizon,
                               "executed_steps": model.executed_steps,
                               "key_mapping": (keys or KeyMapping()).to_json(),
                               "metadata": _json_safe(metadata)}
    return result
