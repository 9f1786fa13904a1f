"""What a dataset's features mean for the metrics: declared, inferred, always disclosed.

The metrics need the end-effector position (jerk), the control rate (every time
derivative), the action layout (which dimension is the gripper; delta or absolute
actions, for the no-op rule) and success flags. Each comes, in this order of precedence,
from a command-line flag, a mapping file (TOML), the known layout a reader recognized
(its :class:`~diffrl_eval.dataset.sources.base.Profile`), or the format's declarations;
:meth:`Semantics.disclosure` records which, so the results say how they were measured.

Mapping file (all keys optional)::

    eef_key = "observation.state[0:3]"   # FEATURE or FEATURE[START:STOP], 3 wide
    control_hz = 20
    gripper_index = 6                    # in the action vector; -1 or "none": no gripper
    action_kind = "delta"                # or "absolute"

Jerk needs the end-effector position in metres; the no-op rule (OpenVLA's) needs delta
actions. A metric whose requirement is not met is named as unavailable with the reason.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources.base import (
    ACTION_FEATURE,
    ACTION_KINDS,
    DELTA,
    SourceFrames,
)
from diffrl_eval.errors import DatasetError, UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NO_GRIPPER = "none"
_KEY = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[\s*(-?\d*)\s*:\s*(-?\d*)\s*\])?\s*$")
MAPPING_KEYS = ("eef_key", "control_hz", "gripper_index", "action_kind")
# the metrics the semantics can make unavailable
JERK_METRICS = ("mean_squared_jerk", "log_dimensionless_jerk")
NO_OP_METRICS = ("no_op_count", "no_op_fraction")


def _bound(text: str | None) -> int | None:
    """A slice bound as written (``[0:3]``, ``[:3]``, ``[-3:]``); None when left out."""
    return int(text) if text not in (None, "", "-") else None


@dataclass(frozen=True)
class FeatureSlice:
    """``FEATURE[START:STOP]``: a contiguous part of a vector feature (the whole of it
    without brackets)."""

    feature: str
    start: int | None = None
    stop: int | None = None

    @classmethod
    def parse(cls, text: str) -> FeatureSlice:
        match = _KEY.match(text)
        if match is None:
            raise UserError(f"--eef-key {text!r}: expected FEATURE or FEATURE[START:STOP], "
                            "e.g. observation.state[0:3]")
        return cls(match[1], _bound(match[2]), _bound(match[3]))

    def indices(self, width: int) -> range:
        return range(width)[slice(self.start, self.stop)]

    def __str__(self) -> str:
        if self.start is None and self.stop is None:
            return self.feature
        return f"{self.feature}[{'' if self.start is None else self.start}:" \
               f"{'' if self.stop is None else self.stop}]"


@dataclass(frozen=True)
class Declared:
    """What the user declared (flags over mapping file); None = infer."""

    eef_key: str | None = None
    control_hz: float | None = None
    gripper_index: int | str | None = None
    action_kind: str | None = None

    def __post_init__(self) -> None:
        if self.control_hz is not None and not self.control_hz > 0:
            raise UserError(f"--control-hz must be a positive number of steps per second, "
                            f"got {self.control_hz:g}")
        if self.action_kind is not None and self.action_kind not in ACTION_KINDS:
            raise UserError(f"action kind {self.action_kind!r}; valid choices: "
                            f"{', '.join(ACTION_KINDS)}")

    def over(self, fallback: Declared) -> Declared:
        """These declarations, the fallback's where these are silent."""
        return Declared(**{k: getattr(self, k) if getattr(self, k) is not None
                           else getattr(fallback, k) for k in MAPPING_KEYS})


def read_mapping(path: Path) -> Declared:
    """A mapping file (see the module docstring) as declarations."""
    try:
        table = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"--mapping {path}: unreadable ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"--mapping {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(table) - set(MAPPING_KEYS))
    if unknown:
        raise UserError(f"--mapping {path}: unknown key(s) {', '.join(unknown)}; valid keys: "
                        f"{', '.join(MAPPING_KEYS)}")
    hz = table.get("control_hz")
    if hz is not None and (isinstance(hz, bool) or not isinstance(hz, (int, float))):
        raise UserError(f"--mapping {path}: control_hz must be a number, got {hz!r}")
    return Declared(table.get("eef_key"), None if hz is None else float(hz),
                    table.get("gripper_index"), table.get("action_kind"))


@dataclass(frozen=True)
class Semantics:
    """Resolved meaning of a dataset's features, with where each part came from."""

    eef: FeatureSlice | None
    control_hz: float
    gripper_index: int | None
    action_kind: str
    success_recorded: bool
    sources: dict[str, str] = field(default_factory=dict)  # part -> how it was decided
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why

    def disclosure(self, profile_name: str | None, declared_fps: float | None) -> dict[str, Any]:
        """The JSON block that says how the metrics were measured."""
        return {
            "profile": profile_name,
            "eef_key": str(self.eef) if self.eef is not None else None,
            "control_hz": self.control_hz,
            "declared_fps": declared_fps,
            "gripper_index": self.gripper_index,
            "action_kind": self.action_kind,
            "success": "recorded" if self.success_recorded else
                       "assumed: every episode is a successful demonstration ending at its last step",
            "decided_by": dict(self.sources),
            "unavailable": dict(self.unavailable),
        }


def _gripper(value: int | str | None, width: int) -> int | None:
    if value is None or (isinstance(value, str) and value.lower() == NO_GRIPPER) or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < width:
        raise UserError(f"--gripper-index {value!r}: must be an action dimension in "
                        f"[0, {width - 1}] or 'none'")
    return value


_EEF_NAMES = ("eef_pos", "ee_pos", "eef.pos", "ee.pos", "tcp_pos", "end_effector_pos")


def _eef_by_name(frames: SourceFrames) -> str | None:
    found = [k for k, width in frames.features.items() if width == C.EEF_POS_DIM
             and any(name in k.lower() for name in _EEF_NAMES)]
    return found[0] if len(found) == 1 else None


def _gripper_by_name(frames: SourceFrames) -> int | None:
    names = frames.feature_names.get(ACTION_FEATURE) or []
    found = [i for i, n in enumerate(names) if "gripper" in n.lower()]
    return found[0] if len(found) == 1 else None


def resolve_semantics(frames: SourceFrames, declared: Declared) -> Semantics:
    """Decide the semantics of ``frames`` (see the module docstring for the precedence)."""
    profile = frames.profile
    sources: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    action_width = frames.features.get(ACTION_FEATURE)
    if action_width is None:
        raise DatasetError(f"{frames.location}: no action feature")

    eef = None
    if declared.eef_key is not None:
        eef, sources["eef_key"] = FeatureSlice.parse(declared.eef_key), "declared"
    elif profile is not None and profile.eef_key is not None:
        eef, sources["eef_key"] = FeatureSlice.parse(profile.eef_key), f"profile {profile.name}"
    elif (named := _eef_by_name(frames)) is not None:
        eef, sources["eef_key"] = FeatureSlice(named), "a 3-wide feature named like an end-effector position"
    if eef is not None:
        if eef.feature not in frames.features:
            raise UserError(f"--eef-key {eef}: no feature {eef.feature!r}; vector features: "
                            f"{', '.join(sorted(frames.features))}")
        if len(eef.indices(frames.features[eef.feature])) != C.EEF_POS_DIM:
            raise UserError(f"--eef-key {eef}: selects {len(eef.indices(frames.features[eef.feature]))} "
                            f"of {eef.feature}'s {frames.features[eef.feature]} dims; the "
                            f"end-effector position is {C.EEF_POS_DIM}-D (x, y, z)")
    else:
        sources["eef_key"] = "none found"
        for metric in JERK_METRICS:
            unavailable[metric] = ("no end-effector position (joint-space or unknown layout); "
                                   "give --eef-key FEATURE[START:STOP]")

    if declared.control_hz is not None:
        hz, sources["control_hz"] = declared.control_hz, "declared"
    elif profile is not None and profile.control_hz is not None:
        hz = profile.control_hz
        sources["control_hz"] = f"profile {profile.name}: {profile.control_hz_reason}"
    elif frames.declared_fps:
        hz, sources["control_hz"] = frames.declared_fps, "the dataset's declared fps"
    else:
        hz, sources["control_hz"] = float(C.DEFAULT_CONTROL_HZ), \
            f"nothing declared; the default {C.DEFAULT_CONTROL_HZ} Hz"

    if declared.gripper_index is not None:
        gripper, sources["gripper_index"] = _gripper(declared.gripper_index, action_width), "declared"
    elif profile is not None and profile.gripper_index is not None:
        gripper, sources["gripper_index"] = profile.gripper_index, f"profile {profile.name}"
    else:
        gripper = _gripper_by_name(frames)
        sources["gripper_index"] = "the action's dimension names" if gripper is not None else "none found"

    if declared.action_kind is not None:
        kind, sources["action_kind"] = declared.action_kind, "declared"
    elif profile is not None and profile.action_kind is not None:
        kind, sources["action_kind"] = profile.action_kind, f"profile {profile.name}"
    else:
        kind, sources["action_kind"] = "absolute", \
            "no known layout; assumed absolute (joint or pose targets), as most robot data"
    if kind != DELTA or gripper is None:
        reason = ("the no-op rule reads delta actions with a gripper command; these are "
                  f"{kind} actions" + ("" if gripper is not None else " without a gripper index"))
        for metric in NO_OP_METRICS:
            unavailable[metric] = reason
    success = C.COL_SUCCESS in frames.columns
    return Semantics(eef, hz, gripper, kind, success, sources, unavailable)


def measurement_frames(frames: SourceFrames, semantics: Semantics,
                       part: pl.LazyFrame | None = None) -> pl.DataFrame:
    """The frame table the metrics read, (N rows): episode_index, step_index, task_id,
    instruction, eef_pos (3) float64 (NaN without an end-effector), action (Da) with the
    gripper moved last, success, and timestamp when recorded. ``part``: only these frames
    (whole episodes of ``frames``), e.g. one data file."""
    columns = frames.columns
    wanted = [C.COL_EPISODE, C.COL_STEP, C.COL_TASK, C.COL_INSTRUCTION, ACTION_FEATURE]
    for optional in (C.COL_SUCCESS, "timestamp"):
        if optional in columns:
            wanted.append(optional)
    if semantics.eef is not None and semantics.eef.feature not in wanted:
        wanted.append(semantics.eef.feature)
    source = frames.frames if part is None else part
    try:
        table = source.select(wanted).sort(C.COL_EPISODE, C.COL_STEP).collect()
    except pl.exceptions.PolarsError as exc:  # a damaged file, a column of another type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"{frames.location}: frames unreadable ({first})") from None
    if table.height == 0:
        raise DatasetError(f"{frames.location}: the dataset is empty (no frames)")
    for name in (C.COL_TASK, C.COL_INSTRUCTION):
        if table[name].null_count():
            raise DatasetError(f"{frames.location}: {table[name].null_count()} frame(s) refer "
                               "to a task the task table lacks")
    action = vector_matrix(table[ACTION_FEATURE], frames.features[ACTION_FEATURE])
    if semantics.gripper_index is not None:
        order = [i for i in range(action.shape[1]) if i != semantics.gripper_index]
        action = action[:, [*order, semantics.gripper_index]]
    if semantics.eef is not None:
        width = frames.features[semantics.eef.feature]
        eef = vector_matrix(table[semantics.eef.feature], width)[:, list(semantics.eef.indices(width))]
    else:
        eef = np.full((table.height, C.EEF_POS_DIM), np.nan)
    if C.COL_SUCCESS in table.columns:
        success = table[C.COL_SUCCESS].fill_null(False)
    else:  # recorded demonstrations: each succeeds at its last step
        last = table.group_by(C.COL_EPISODE).agg(pl.col(C.COL_STEP).max().alias("_last"))
        success = table.join(last, on=C.COL_EPISODE, how="left", maintain_order="left") \
            .select(pl.col(C.COL_STEP) == pl.col("_last"))[:, 0]
    result = table.select(C.COL_EPISODE, C.COL_STEP, C.COL_TASK, C.COL_INSTRUCTION).with_columns(
        pl.Series(C.COL_EEF_POS, eef),
        pl.Series(C.COL_ACTION, action),
        success.alias(C.COL_SUCCESS),
    )
    if "timestamp" in table.columns:
        result = result.with_columns(table["timestamp"].cast(pl.Float64))
    return result


def vector_matrix(series: pl.Series, width: int) -> np.ndarray:
    """A vector column as (N, width) float64; a row of another length is bad input."""
    if isinstance(series.dtype, pl.List):
        lengths = series.list.len()
        if (lengths != width).any() or series.null_count():
            raise DatasetError(f"feature {series.name!r}: rows of length "
                               f"{sorted(set(lengths.drop_nulls().to_list()) - {width})[:3]} "
                               f"where the dataset declares {width}")
        series = series.cast(pl.Array(pl.Float64, width))
    values = np.asarray(series.to_numpy(), dtype=np.float64)
    if values.ndim == 1 and width == 1:
        values = values[:, None]
    if values.shape != (series.len(), width):
        raise DatasetError(f"feature {series.name!r}: shape {values.shape}, the dataset "
                           f"declares {width} wide")
    return values
