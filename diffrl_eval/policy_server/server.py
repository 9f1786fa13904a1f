"""The server side: this tool's VLA checkpoints served over openpi's websocket protocol.

On connect the server sends its metadata (a msgpack map):

``server``, ``tool_version``; what the checkpoint's ``checkpoint.json`` says (``vla``,
``checkpoint_hash``, ``hparams_hash``, ``backend``, ``training``); and what the model reads
and returns: ``observation_keys`` (wire keys), ``observation_shapes`` (wire key -> shape
and dtype on one task of the backend), ``prompt_key``, ``action_key``,
``action_dim`` (Da), ``action_horizon`` (Ta), ``executed_steps`` (Te), ``env_options``
(cameras and their size) and ``noise_seed_key``: a request may carry a 64-bit seed under
that key, and then the chunk's sampling noise comes from it alone (as in an evaluation on
this machine), so the same requests give the same chunks.

Each request is a map of observations; the reply is ``{"actions": (Ta, Da) array,
"server_timing": {"infer_ms": ...}}``. A request the model cannot read is answered with a
text frame (``error: ...``) and the connection is closed (code 1011), as openpi's server
does. What the model reads is found when the server starts, by asking it for one chunk on
a fresh episode of a task of its backend and noting the observation keys it looked up.

Shape legend: Ta action horizon (chunk), Da action dim.
"""

from __future__ import annotations

import http
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval import __version__
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.policy_server.client import MAX_MESSAGE_BYTES
from diffrl_eval.policy_server.codec import MessageError, packb, unpackb
from diffrl_eval.policy_server.keys import KeyMapping
from diffrl_eval.vla.checkpoint import checkpoint_hash, load_vla
from diffrl_eval.vla.interface import VLA

NOISE_SEED_KEY = "diffrl_eval/noise_seed"
HEALTH_PATH = "/healthz"
SERVER_NAME = "diffrl-eval"
ERROR_CLOSE_CODE = 1011  # internal error: what openpi's server closes with after an error
logger = logging.getLogger(__name__)


class _ReadKeys(dict):
    """An observation that notes which keys are read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if key not in self.read:
            self.read.append(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


def observation_spec(model: VLA, backend_name: str, train_suites: list[str]
                     ) -> tuple[dict[str, np.ndarray], int, int]:
    """(the observations the model reads, by key, as one fresh episode of the first task it
    was trained on shows them; Ta; Da): found by predicting that episode's first chunk."""
    backend = get_backend(backend_name)
    suite = train_suites[0] if train_suites else None
    task = backend.tasks(suite)[0]
    env = backend.make_env(task.task_id, **model.env_options())
    try:
        model.check_observation_space(env.observation_space, task.task_id)
        observation, _ = env.reset(seed=0)
    finally:
        env.close()
    probe = _ReadKeys(observation)
    chunk = np.asarray(model.predict_rows([probe], [task.instruction], [0])[0])
    return ({key: np.asarray(observation[key]) for key in probe.read}, int(chunk.shape[0]),
            int(chunk.shape[1]))


class PolicyServer:
    """Serves the VLA of checkpoint ``ckpt``; :meth:`serve_forever` blocks, :meth:`start`
    runs it on a thread (tests, notebooks). ``port`` 0 picks a free port."""

    def __init__(self, ckpt: Path, *, host: str = "127.0.0.1", port: int = 8000,
                 keys: KeyMapping | None = None, vla: str | None = None,
                 device: str = "cpu") -> None:
        self.ckpt = Path(ckpt)
        self.keys = keys or KeyMapping()
        self.model, info = load_vla(self.ckpt, vla=vla, device=device)
        example, horizon, action_dim = observation_spec(
            self.model, info["backend"], list(info["training"].get("train_suites") or []))
        self.names = list(example)
        self.metadata = {
            "server": SERVER_NAME, "tool_version": __version__,
            "vla": info["vla"], "checkpoint_hash": checkpoint_hash(self.ckpt, info["vla"]),
            "device": device,
            "hparams_hash": info["hparams_hash"], "backend": info["backend"],
            "training": {key: info["training"].get(key) for key in
                         ("seed", "datasets", "sources", "train_suites")},
            "observation_keys": [self.keys.wire_key(name) for name in self.names],
            # shapes of one task's observations (object_poses varies with the task)
            "observation_shapes": {self.keys.wire_key(name): {
                "shape": list(value.shape), "dtype": value.dtype.name}
                for name, value in example.items()},
            "prompt_key": self.keys.prompt_key, "action_key": self.keys.action_key,
            "action_dim": action_dim, "action_horizon": horizon,
            "executed_steps": int(self.model.executed_steps),
            "env_options": self.model.env_options(), "noise_seed_key": NOISE_SEED_KEY,
        }
        self._lock = threading.Lock()  # one prediction at a time, whoever asks
        self._server = self._bind(host, port)
        self.host, self.port = self._server.socket.getsockname()[:2]
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def _bind(self, host: str, port: int):
        from websockets.sync.server import serve

        try:
            return serve(self._handle, host, port, compression=None,
                         max_size=MAX_MESSAGE_BYTES, process_request=_health_check)
        except OSError as exc:
            raise UserError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None

    def predict(self, request: dict[str, Any]) -> np.ndarray:
        """The action chunk (Ta, Da) for one request; a request the model cannot read is a
        :class:`UserError`."""
        observation, instruction = self.keys.observation(request, self.names)
        if self.keys.prompt_key and instruction is None:
            raise UserError(f"the request has no {self.keys.prompt_key!r} (the instruction)")
        seed = request.get(NOISE_SEED_KEY)
        if seed is not None and (not isinstance(seed, int) or not 0 <= seed < 2**64):
            raise UserError(f"{NOISE_SEED_KEY!r} must be an integer in [0, 2^64)")
        with self._lock:
            if seed is None:
                chunks = self.model.predict_batch([observation], [instruction or ""])
            else:
                chunks = self.model.predict_rows([observation], [instruction or ""], [seed])
        return np.asarray(chunks[0])

    def _handle(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            connection.send(packb(self.metadata))
            for number, frame in enumerate(connection, start=1):
                started = time.monotonic()
                try:
                    request = unpackb(frame)
                    if not isinstance(request, dict):
                        raise UserError(f"a request must be a map, got {type(request).__name__}")
                    chunk = self.predict(request)
                except (MessageError, UserError) as exc:
                    connection.send(f"error: {exc}")
                    connection.close(ERROR_CLOSE_CODE, "bad request")
                    return
                except Exception as exc:  # noqa: BLE001 - the model failed on this request
                    logger.exception("request %d failed", number)
                    connection.send(f"error: the model failed on this request: "
                                    f"{type(exc).__name__}: {exc}")
                    connection.close(ERROR_CLOSE_CODE, "model failed")
                    return
                infer_ms = (time.monotonic() - started) * 1000
                connection.send(packb({self.keys.action_key: chunk,
                                       "server_timing": {"infer_ms": infer_ms}}))
        except ConnectionClosed:
            return

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> PolicyServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name=f"policy-server:{self.port}")
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> PolicyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _health_check(connection, request):
    """``GET /healthz`` answers OK (as openpi's server does); anything else upgrades."""
    if request.path == HEALTH_PATH:
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None

