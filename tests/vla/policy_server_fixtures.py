"""Scripted policy servers on 127.0.0.1 for the policy-server tests: each answers the way
its ``reply`` function says, so every failure of a real server can be staged."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from diffrl_eval.policy_server.codec import packb, unpackb

CHUNK = np.zeros((4, 7), dtype=np.float32)


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScriptedServer:
    """A websocket server on a thread. ``reply(connection, request_number, request)`` sends
    the answer to each request (or does anything else: close, stall); ``metadata`` is sent
    on connect unless it is None."""

    def __init__(self, reply: Callable[[Any, int, dict], None],
                 metadata: dict | None = None) -> None:
        from websockets.sync.server import serve

        self.reply, self.metadata, self.requests = reply, metadata, []
        self.stop = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None)
        self.uri = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            if self.metadata is not None:
                connection.send(packb(self.metadata))
            for frame in connection:
                request = unpackb(frame)
                self.requests.append(request)
                self.reply(connection, len(self.requests), request)
        except ConnectionClosed:
            pass

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._thread.join(timeout=10)


def send_chunk(chunk: Any = CHUNK, key: str = "actions") -> Callable[[Any, int, dict], None]:
    """A reply function that always answers ``{key: chunk}``."""
    def reply(connection, number, request):  # noqa: ARG001
        connection.send(packb({key: chunk}))
    return reply
