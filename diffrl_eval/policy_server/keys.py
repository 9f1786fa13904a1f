"""Which observation goes under which key in a request, and where the reply's actions are.

The defaults follow openpi's LIBERO examples (which follow LeRobot's naming):

=====================  ==============================  =====================================
this tool              on the wire                     what it is
=====================  ==============================  =====================================
``agentview_image``    ``observation/image``           (H, W, 3) uint8, upright
``wrist_image``        ``observation/wrist_image``     (H, W, 3) uint8, upright
``state``              ``observation/state``           (8,) eef pos, axis-angle, gripper
any other key ``k``    ``observation/k``               e.g. ``observation/object_poses``
``instruction``        ``prompt``                      the task's language instruction (str)
``actions``            ``actions``                     the reply's action chunk (Ta, Da)
=====================  ==============================  =====================================

A mapping overrides any of these, inline (``state=observation/state,eef_pos=``) or from a
TOML file (a ``[policy_keys]`` table of the same pairs). An empty wire name means the key is
not sent. Client and server use the same mapping: the client renames observations to wire
keys, the server renames them back.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE, OBS_STATE, OBS_WRIST_IMAGE
from diffrl_eval.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

INSTRUCTION = "instruction"  # the task's language instruction, sent beside the observation
ACTIONS = "actions"  # the action chunk in the reply
WIRE_PREFIX = "observation/"
DEFAULT_WIRE_KEYS = {
    OBS_AGENTVIEW_IMAGE: "observation/image",
    OBS_WRIST_IMAGE: "observation/wrist_image",
    OBS_STATE: "observation/state",
    INSTRUCTION: "prompt",
    ACTIONS: "actions",
}
TOML_TABLE = "policy_keys"


@dataclass(frozen=True)
class KeyMapping:
    """This tool's names -> wire names; ``overrides`` holds the user's changes ("" drops)."""

    overrides: Mapping[str, str] = field(default_factory=dict)

    def wire_key(self, name: str) -> str:
        """The wire key of observation (or ``instruction`` / ``actions``) ``name``; "" when
        it is not sent."""
        if name in self.overrides:
            return self.overrides[name]
        return DEFAULT_WIRE_KEYS.get(name, WIRE_PREFIX + name)

    @property
    def prompt_key(self) -> str:
        return self.wire_key(INSTRUCTION)

    @property
    def action_key(self) -> str:
        return self.wire_key(ACTIONS)

    def request(self, observation: Mapping[str, Any], instruction: str) -> dict[str, Any]:
        """One request: every mapped observation under its wire key, and the instruction."""
        message = {self.wire_key(name): value for name, value in observation.items()
                   if self.wire_key(name)}
        if self.prompt_key:
            message[self.prompt_key] = str(instruction)
        return message

    def sent_keys(self, observation_keys: Iterable[str]) -> dict[str, str]:
        """Wire key -> observation key, for the observations an env provides."""
        return {self.wire_key(name): name for name in observation_keys if self.wire_key(name)}

    def observation(self, request: Mapping[str, Any], names: Iterable[str]
                    ) -> tuple[dict[str, Any], str | None]:
        """The server's side: observations ``names`` and the instruction out of a request;
        a missing key is a :class:`UserError` naming it."""
        observation = {}
        for name in names:
            wire = self.wire_key(name)
            if not wire or wire not in request:
                raise UserError(f"the request has no {wire or name!r} (observation {name!r}); "
                                f"it holds {', '.join(sorted(map(str, request))) or 'nothing'}")
            observation[name] = request[wire]
        instruction = request.get(self.prompt_key) if self.prompt_key else None
        if instruction is not None and not isinstance(instruction, str):
            raise UserError(f"{self.prompt_key!r} must be a string, got "
                            f"{type(instruction).__name__}")
        return observation, instruction

    def to_json(self) -> dict[str, str]:
        return dict(self.overrides)


def parse_key_mapping(text: str | None) -> KeyMapping:
    """A mapping from ``--policy-keys``: a TOML file, or ``name=wire,name=wire`` pairs."""
    if not text:
        return KeyMapping()
    if text.endswith(".toml"):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"--policy-keys: no such file {path}")
        try:
            document = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"--policy-keys: {path} is not valid TOML ({exc})") from None
        pairs = document.get(TOML_TABLE, document)
        if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
            raise UserError(f"--policy-keys: {path} needs a [{TOML_TABLE}] table of "
                            "name = \"wire key\" strings")
    else:
        pairs = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            name, sep, wire = part.partition("=")
            if not sep or not name.strip():
                raise UserError(f"--policy-keys expects NAME=WIRE_KEY pairs separated by "
                                f"commas (or a .toml file), got {part!r}")
            pairs[name.strip()] = wire.strip()
    return _checked(pairs)


def _checked(pairs: dict[str, str]) -> KeyMapping:
    mapping = KeyMapping(dict(pairs))
    if not mapping.action_key:
        raise UserError("--policy-keys: 'actions' needs a wire key (the reply's action chunk)")
    wires: dict[str, str] = {}
    for name in {*DEFAULT_WIRE_KEYS, *pairs} - {ACTIONS}:
        wire = mapping.wire_key(name)
        if wire and wires.setdefault(wire, name) != name:
            raise UserError(f"--policy-keys: {wires[wire]!r} and {name!r} both map to {wire!r}")
    return mapping
