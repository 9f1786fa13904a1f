"""Runs in openpi-client's own environment: a policy server built on openpi-client's
msgpack_numpy and the websockets library, laid out as openpi's serving code lays its
server out (metadata on connect, one reply per request with ``server_timing``, a text
frame and close code 1011 on an error), serving a scripted policy.

usage: python openpi_scripted_server.py PORT_FILE LOG_JSON

The policy reads what openpi's LIBERO policies read (``observation/image`` and
``observation/wrist_image`` (H, W, 3) uint8, ``observation/state`` (8,), ``prompt``) and
returns chunks of 10 actions (7) that steer the gripper toward a fixed point and close it
near the table: deterministic in the state, so two runs execute the same actions. The log
records what the requests held.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback

import numpy as np
import websockets
import websockets.asyncio.server
from openpi_client import base_policy, msgpack_numpy

HORIZON, ACTION_DIM = 10, 7
TARGET = np.array([0.0, 0.0, 0.05])


class ScriptedPolicy(base_policy.BasePolicy):
    def __init__(self) -> None:
        self.requests = 0
        self.seen: dict = {}
        self.prompts: set = set()

    def infer(self, obs: dict) -> dict:
        self.requests += 1
        for key in ("observation/image", "observation/wrist_image"):
            image = obs[key]
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, (key, image.dtype, image.shape)
        state = obs["observation/state"]
        assert state.shape == (8,), state.shape
        self.prompts.add(obs["prompt"])
        if not self.seen:
            self.seen = {key: (list(np.shape(value)), str(getattr(value, "dtype", type(value).__name__)))
                         for key, value in obs.items()}
        offset = TARGET - state[:3].astype(np.float64)
        chunk = np.zeros((HORIZON, ACTION_DIM), dtype=np.float32)
        chunk[:, :3] = np.clip(offset * 8.0, -1.0, 1.0)
        chunk[:, 6] = 1.0 if abs(offset[2]) < 0.02 else -1.0
        return {"actions": chunk}


async def main(port_file: str, log_file: str) -> None:
    policy = ScriptedPolicy()
    metadata = {"policy": "scripted", "action_horizon": HORIZON}

    async def handler(connection):
        packer = msgpack_numpy.Packer()
        await connection.send(packer.pack(metadata))
        while True:
            try:
                obs = msgpack_numpy.unpackb(await connection.recv())
                started = time.monotonic()
                reply = policy.infer(obs)
                reply["server_timing"] = {"infer_ms": (time.monotonic() - started) * 1000}
                await connection.send(packer.pack(reply))
            except websockets.ConnectionClosed:
                break
            except Exception:
                await connection.send(traceback.format_exc())
                await connection.close(code=1011, reason="policy failed")
                raise
            finally:
                with open(log_file, "w") as handle:
                    json.dump({"requests": policy.requests, "first_request": policy.seen,
                               "prompts": sorted(policy.prompts)}, handle)

    async with websockets.asyncio.server.serve(handler, "127.0.0.1", 0, compression=None,
                                               max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        with open(port_file, "w") as handle:
            handle.write(str(port))
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
