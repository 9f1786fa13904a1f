"""The client side of the policy-server protocol: connect, read the metadata, ask for chunks.

openpi's websocket protocol, spoken directly:

1. the client opens a websocket to ``ws://HOST:PORT`` (no compression);
2. the server sends one binary frame: its metadata, a msgpack map;
3. per decision the client sends one binary frame, a map of observations (arrays as
   :mod:`~diffrl_eval.policy_server.codec` maps) and the prompt, and the server answers
   with one binary frame, a map holding the action chunk (and e.g. ``server_timing``);
4. a server that fails sends a text frame (its error) and closes the connection.

Every failure is one line naming the server. A server that cannot be reached, does not
speak the protocol, answers with an error or with something malformed is bad input
(:class:`~diffrl_eval.errors.UserError`, exit code 2); a server that stops answering or
drops the connection in the middle of an evaluation is a fault of the environment
(:class:`~diffrl_eval.errors.EnvironmentFault`, exit code 3).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from diffrl_eval.errors import EnvironmentFault, UserError
from diffrl_eval.policy_server.codec import MessageError, packb, unpackb

DEFAULT_CONNECT_TIMEOUT = 30.0
# the first request to a JAX-served model compiles it: tens of seconds on a GPU
DEFAULT_REPLY_TIMEOUT = 120.0
MAX_MESSAGE_BYTES = 256 * 2**20  # a few camera frames fit many times over
SCHEMES = ("ws://", "wss://")


def check_address(uri: str) -> str:
    """``uri`` if it is a websocket address, else a one-line error."""
    if not isinstance(uri, str) or not uri.startswith(SCHEMES) or len(uri) <= len("ws://"):
        raise UserError(f"--policy-server expects a websocket address ws://HOST:PORT "
                        f"(or wss://), got {uri!r}")
    return uri


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(empty message)"


class PolicyClient:
    """One connection to a policy server. ``metadata`` is what the server sent on connect."""

    def __init__(self, uri: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 reply_timeout: float = DEFAULT_REPLY_TIMEOUT) -> None:
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        for flag, value in (("--connect-timeout", connect_timeout),
                            ("--reply-timeout", reply_timeout)):
            if not value > 0:
                raise UserError(f"{flag} must be a positive number of seconds, got {value}")
        self.uri = check_address(uri)
        self.connect_timeout = float(connect_timeout)
        self.reply_timeout = float(reply_timeout)
        self.requests = 0
        self._exits = ExitStack()
        try:
            # no keepalive pings: a server busy with its first request (a JAX model
            # compiling) answers none, and the reply timeout already bounds every wait
            self._connection = self._exits.enter_context(connect(
                self.uri, open_timeout=connect_timeout, compression=None,
                max_size=MAX_MESSAGE_BYTES, ping_interval=None))
        except InvalidURI as exc:
            raise UserError(f"--policy-server: {exc}") from None
        except TimeoutError:
            raise UserError(f"policy server {self.uri} is unreachable: no answer within "
                            f"{connect_timeout:g} s (--connect-timeout)") from None
        except (OSError, InvalidHandshake) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise UserError(f"policy server {self.uri} is unreachable: {reason}") from None
        try:
            self.metadata = self._receive("metadata", during_evaluation=False)
        except BaseException:
            self.close()
            raise

    def infer(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request (a map of observations) and return the server's reply map."""
        from websockets.exceptions import ConnectionClosed

        try:
            frame = packb(request)
        except MessageError as exc:
            raise UserError(f"cannot send this observation to policy server {self.uri}: "
                            f"{exc}") from None
        try:
            self._connection.send(frame)
        except ConnectionClosed as exc:
            raise self._dropped(exc, "a request") from None
        self.requests += 1
        return self._receive(f"the reply to request {self.requests}", during_evaluation=True)

    def _dropped(self, exc: Exception, what: str) -> EnvironmentFault:
        reason = getattr(exc, "rcvd", None)
        detail = f" (code {reason.code}{': ' + reason.reason if reason.reason else ''})" \
            if reason is not None else ""
        return EnvironmentFault(f"policy server {self.uri} dropped the connection while "
                                f"this side waited for {what}{detail}; no result was written")

    def _receive(self, what: str, *, during_evaluation: bool) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        try:
            frame = self._connection.recv(
                timeout=self.reply_timeout if during_evaluation else self.connect_timeout)
        except TimeoutError:
            flag, limit = ("--reply-timeout", self.reply_timeout) if during_evaluation \
                else ("--connect-timeout", self.connect_timeout)
            message = f"policy server {self.uri}: {what} did not come within {limit:g} s ({flag})"
            if during_evaluation:
                raise EnvironmentFault(message + "; no result was written") from None
            raise UserError(message + ": is it a policy server speaking openpi's websocket "
                            "protocol?") from None
        except ConnectionClosed as exc:
            if during_evaluation:
                raise self._dropped(exc, what) from None
            raise UserError(f"policy server {self.uri} closed the connection before sending "
                            f"{what}: is it a policy server speaking openpi's websocket "
                            "protocol?") from None
        if isinstance(frame, str):  # the protocol's error report
            raise UserError(f"policy server {self.uri} answered with an error instead of "
                            f"{what}: {_last_line(frame)}")
        try:
            message = unpackb(frame)
        except MessageError as exc:
            raise UserError(f"policy server {self.uri} sent a malformed message as {what}: "
                            f"{exc}") from None
        if not isinstance(message, dict):
            raise UserError(f"policy server {self.uri} sent a {type(message).__name__} as "
                            f"{what}; the protocol's messages are maps")
        return message

    def close(self) -> None:
        self._exits.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
