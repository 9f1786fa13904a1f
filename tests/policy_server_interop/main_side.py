"""The diffrl-eval side of verify.sh (runs with diffrl-eval's own interpreter).

usage:
  python main_side.py observation URI CKPT TASK SEED OUT_NPZ   -> prints the instruction
  python main_side.py same-chunk URI CKPT TASK SEED NOISE_SEED OPENPI_CHUNK_NPY
  python main_side.py evals LOG_JSON INSTRUCTION EVAL_JSON...
  python main_side.py summary EVAL_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from diffrl_eval.envs.base import get_backend
from diffrl_eval.policy_server.client import PolicyClient
from diffrl_eval.policy_server.keys import KeyMapping
from diffrl_eval.vla.checkpoint import load_vla


def first_observation(ckpt: str, task_id: str, seed: int):
    model, info = load_vla(Path(ckpt))
    backend = get_backend(info["backend"])
    env = backend.make_env(task_id, **model.env_options())
    observation, _ = env.reset(seed=seed)
    env.close()
    return model, observation, backend.task(task_id).instruction


def observation(uri: str, ckpt: str, task_id: str, seed: str, out: str) -> None:
    """Save the observation the server reads, under its wire keys ('/' written as '|')."""
    _, obs, instruction = first_observation(ckpt, task_id, int(seed))
    with PolicyClient(uri) as client:
        wanted = client.metadata["observation_keys"]
    request = KeyMapping().request(obs, instruction)
    np.savez(out, **{key.replace("/", "|"): request[key] for key in wanted})
    print(instruction)


def same_chunk(uri: str, ckpt: str, task_id: str, seed: str, noise_seed: str,
               openpi_chunk: str) -> None:
    """openpi's client, this tool's client and the model in this process: one chunk."""
    model, obs, instruction = first_observation(ckpt, task_id, int(seed))
    with PolicyClient(uri) as client:
        request = KeyMapping().request(obs, instruction)
        request[client.metadata["noise_seed_key"]] = int(noise_seed)
        ours = client.infer(request)["actions"]
    in_process = model.predict_rows([obs], [instruction], [int(noise_seed)])[0]
    theirs = np.load(openpi_chunk)
    np.testing.assert_array_equal(theirs, ours)
    np.testing.assert_array_equal(theirs, in_process)
    print(f"openpi-client's chunk == diffrl-eval's client's chunk == the model in this process "
          f"({theirs.shape} {theirs.dtype}, bit for bit)")


def evals(log_json: str, instruction: str, *results: str) -> None:
    """Both evaluations of the scripted server: complete, identical, every request seen."""
    log = json.loads(Path(log_json).read_text())
    runs = [json.loads(Path(path).read_text()) for path in results]
    hashes = [{task: run["per_task"][task]["actions_sha256"] for task in run["per_task"]}
              for run in runs]
    assert all(h == hashes[0] for h in hashes), hashes
    requests = sum(run["policy_server"]["requests"] for run in runs)
    assert requests == log["requests"], (requests, log["requests"])
    assert log["prompts"] == [instruction], log["prompts"]
    first = log["first_request"]
    print(f"the scripted server received {log['requests']} requests; the first held "
          + ", ".join(f"{key} {shape} {dtype}" for key, (shape, dtype) in sorted(first.items())))
    summary(results[0], f"; {len(runs)} runs, the same actions_sha256 per task")


def summary(result: str, note: str = "") -> None:
    """One line about one evaluation result."""
    run = json.loads(Path(result).read_text())
    server = run["policy_server"]
    print(f"vla eval --policy-server on {run['backend']} {','.join(run['per_suite'])}: "
          f"{run['overall']['successes']}/{run['overall']['episodes']} episodes succeeded, "
          f"Wilson 95% [{run['overall']['ci_low']:.2f}, {run['overall']['ci_high']:.2f}], "
          f"{run['env_steps']} env steps, {server['requests']} requests, chunk "
          f"{server['action_horizon']}, {server['executed_steps']} executed, "
          f"{run['wall_seconds']:.0f} s{note}")


if __name__ == "__main__":
    {"observation": observation, "same-chunk": same_chunk, "evals": evals,
     "summary": summary}[sys.argv[1]](
        *sys.argv[2:])
