"""Runs in openpi-client's own environment: openpi's WebsocketClientPolicy against
`diffrl-eval serve`.

usage: python openpi_client_check.py URI OBSERVATION_NPZ INSTRUCTION SEED OUT_NPY

Checks the metadata, asks for the chunk of the given observation (with the server's noise
seed key) twice and for the chunk of an all-zero observation of the declared shapes, checks
every chunk's shape, and saves the first chunk for the caller to compare.
"""

from __future__ import annotations

import importlib.metadata
import sys
import urllib.request

import numpy as np
from openpi_client import websocket_client_policy

uri, observation_file, instruction, seed, out = sys.argv[1:6]
policy = websocket_client_policy.WebsocketClientPolicy(host=uri)
meta = policy.get_server_metadata()
for key in ("vla", "action_dim", "action_horizon", "executed_steps", "observation_keys",
            "observation_shapes", "prompt_key", "action_key", "noise_seed_key"):
    assert key in meta, f"metadata has no {key!r}: {sorted(meta)}"
shape = (meta["action_horizon"], meta["action_dim"])
print(f"openpi-client {importlib.metadata.version('openpi-client')}, numpy {np.__version__}: "
      f"metadata of {meta['vla']}: chunk {shape}, reads {meta['observation_keys']} "
      f"+ {meta['prompt_key']!r}")

stored = np.load(observation_file)
request = {key.replace("|", "/"): stored[key] for key in stored.files}
assert sorted(request) == sorted(meta["observation_keys"]), (sorted(request), meta["observation_keys"])
request[meta["prompt_key"]] = instruction
request[meta["noise_seed_key"]] = int(seed)
first = policy.infer(request)
second = policy.infer(request)
actions = first[meta["action_key"]]
assert isinstance(actions, np.ndarray) and actions.shape == shape, (type(actions), getattr(actions, "shape", None))
assert np.issubdtype(actions.dtype, np.floating), actions.dtype
np.testing.assert_array_equal(actions, second[meta["action_key"]])
assert "server_timing" in first, sorted(first)
print(f"chunk {actions.shape} {actions.dtype}, the same for the same seeded request; "
      f"server infer {first['server_timing']['infer_ms']:.1f} ms")

zeros = {key: np.zeros(spec["shape"], dtype=spec["dtype"])
         for key, spec in meta["observation_shapes"].items()}
zeros[meta["prompt_key"]] = instruction
assert policy.infer(zeros)[meta["action_key"]].shape == shape
print("a zero observation of the declared shapes gets a chunk of the declared shape")

health = urllib.request.urlopen(uri.replace("ws://", "http://") + "/healthz", timeout=10)
assert health.status == 200 and health.read() == b"OK\n"
print("GET /healthz: 200 OK")
np.save(out, actions)
