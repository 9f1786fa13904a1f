"""robomimic HDF5 files, LIBERO's demonstration files among them (low-dimensional data).

robomimic's layout: ``data`` (attrs ``env_args``: JSON with ``env_name`` and
``env_kwargs.control_freq``, ``controller_configs``), ``data/demo_N/actions`` (T, Da),
``rewards``, ``dones`` (T,), ``obs/<key>`` (T, ...) such as ``robot0_eef_pos`` (T, 3),
``robot0_eef_quat``, ``robot0_gripper_qpos``. LIBERO's files follow it with their own
observation names (``ee_pos``, ``ee_ori``, ``gripper_states``) and a ``problem_info``
attribute holding the language instruction. A location is one file or a folder of them
(LIBERO: one file per task). Images are never read.

Every low-dimensional ``obs`` array (2-D, numeric) becomes a feature under its own name;
success is read from ``rewards > 0`` (robomimic's and LIBERO's sparse success reward).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources.base import (
    ABSOLUTE,
    ACTION_FEATURE,
    DELTA,
    DatasetSource,
    EpisodeSpill,
    Profile,
    SourceFrames,
)
from diffrl_eval.errors import DatasetError
from diffrl_eval.export import libero_layout as L
from diffrl_eval.registry import dataset_sources

ROBOMIMIC_FORMAT = "robomimic"
HDF5_SUFFIXES = (".hdf5", ".h5")
ROBOMIMIC_EEF = "robot0_eef_pos"
DEFAULT_CONTROL_HZ = 20.0  # robosuite's default control_freq


def _files(location: Path) -> list[Path]:
    if location.is_dir():
        return sorted(p for p in location.iterdir() if p.suffix in HDF5_SUFFIXES)
    return [location] if location.suffix in HDF5_SUFFIXES else []


def _json_attr(attrs, key: str) -> dict[str, Any]:
    if key not in attrs:
        return {}
    raw = attrs[key]
    try:
        value = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _file_facts(data, path: Path) -> dict[str, Any]:
    """Task, instruction, control rate and controller of one file's ``data`` attributes."""
    env_args = _json_attr(data.attrs, L.ENV_ARGS)
    env_kwargs = env_args.get("env_kwargs") or {}
    controller = env_kwargs.get("controller_configs") or {}
    problem = _json_attr(data.attrs, L.PROBLEM_INFO)
    instruction = str(problem.get(L.LANGUAGE_INSTRUCTION) or "").strip()
    bddl = data.attrs.get(L.BDDL_FILE_NAME)
    if isinstance(bddl, bytes):
        bddl = bddl.decode()
    if problem:
        task = Path(str(bddl)).name.removesuffix(L.BDDL_SUFFIX) if bddl else \
            path.name.removesuffix(L.DEMO_FILE_SUFFIX)
    else:
        task = str(env_args.get("env_name") or path.stem)
    return {
        "task": task,
        "instruction": instruction or task,
        "control_hz": env_kwargs.get("control_freq"),
        "control_delta": controller.get("control_delta"),
        "controller": controller.get("type"),
        "libero": bool(problem),
    }


def _demo_names(data) -> list[str]:
    return sorted((n for n in data if L.demo_number(n) is not None), key=L.demo_number)


def _read_file(path: Path, spill: EpisodeSpill) -> dict[str, Any]:
    """Add every demo of ``path`` to ``spill`` (numbered after those it holds); the file's
    facts."""
    import h5py

    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path}: not an HDF5 file")
    with h5py.File(path, "r") as handle:
        if L.DATA not in handle:
            raise DatasetError(f"{path}: no 'data' group (not a robomimic file)")
        data = handle[L.DATA]
        facts = _file_facts(data, path)
        demos = _demo_names(data)
        if not demos:
            raise DatasetError(f"{path}: 'data' holds no demo_N groups")
        keys: dict[str, int] | None = None
        for name in demos:
            demo = data[name]
            if L.ACTIONS not in demo:
                raise DatasetError(f"{path}: data/{name} lacks {L.ACTIONS}")
            actions = np.asarray(demo[L.ACTIONS][()], dtype=np.float64)
            if actions.ndim != 2 or actions.shape[0] == 0:
                raise DatasetError(f"{path}: data/{name}/actions has shape {actions.shape}, "
                                   "expected (T, Da)")
            n = actions.shape[0]
            obs = demo.get(L.OBS, {})
            low_dim = {k: obs[k] for k in obs if obs[k].ndim == 2 and obs[k].shape[0] == n
                       and np.issubdtype(obs[k].dtype, np.number)}
            widths = {k: int(v.shape[1]) for k, v in low_dim.items()}
            widths[ACTION_FEATURE] = actions.shape[1]
            if keys is None:
                keys = widths
            elif widths != keys:
                raise DatasetError(f"{path}: data/{name} has other observation keys or widths "
                                   f"than {demos[0]} ({sorted(widths)} vs {sorted(keys)})")
            rewards = np.asarray(demo[L.REWARDS][()]) if L.REWARDS in demo else None
            columns = {
                C.COL_EPISODE: np.full(n, spill.n_episodes, dtype=np.int64),
                C.COL_STEP: np.arange(n, dtype=np.int64),
                C.COL_TASK: [facts["task"]] * n,
                C.COL_INSTRUCTION: [facts["instruction"]] * n,
                ACTION_FEATURE: actions,
                **{k: np.asarray(v[()], dtype=np.float64) for k, v in low_dim.items()},
            }
            if rewards is not None and rewards.shape == (n,):
                columns[C.COL_SUCCESS] = rewards > 0
            spill.add(pl.DataFrame(columns))
        facts["widths"] = keys
        return facts


def _profile(facts: dict[str, Any], widths: dict[str, int]) -> Profile | None:
    hz = facts["control_hz"]
    hz_reason = ("env_args.env_kwargs.control_freq of the file" if hz else
                 f"robosuite's default control_freq ({DEFAULT_CONTROL_HZ:g} Hz); the file "
                 "declares none")
    kind = ABSOLUTE if facts["control_delta"] is False else DELTA
    gripper = widths[ACTION_FEATURE] - 1 if widths[ACTION_FEATURE] == C.ACTION_DIM else None
    if facts["libero"] and L.EE_POS in widths:
        return Profile("libero", "problem_info with a language instruction and obs/ee_pos: "
                       "a LIBERO demonstration file", L.EE_POS, float(hz or DEFAULT_CONTROL_HZ),
                       hz_reason, gripper, kind, (L.EE_POS, L.EE_ORI, L.GRIPPER_STATES))
    if ROBOMIMIC_EEF in widths:
        return Profile("robomimic", f"obs/{ROBOMIMIC_EEF}: robosuite's single-arm observations",
                       ROBOMIMIC_EEF, float(hz or DEFAULT_CONTROL_HZ), hz_reason, gripper, kind)
    return None


def read_robomimic(location: Path) -> SourceFrames:
    files = _files(location)
    if not files:
        raise DatasetError(f"{location}: no .hdf5 files")
    spill = EpisodeSpill()
    facts_seen = []
    for path in files:
        facts = _read_file(path, spill)
        if facts_seen and facts["widths"] != facts_seen[0]["widths"]:
            raise DatasetError(f"{path}: other observation keys or widths than {files[0].name}")
        facts_seen.append(facts)
    widths = facts_seen[0]["widths"]
    rates = {f["control_hz"] for f in facts_seen}
    if len(rates) > 1:
        raise DatasetError(f"{location}: the files declare different control rates {sorted(map(str, rates))}")
    profile = _profile(facts_seen[0], widths)
    frames, parts, keepalive = spill.frames()
    return SourceFrames(
        location=str(location),
        format=ROBOMIMIC_FORMAT + (" (LIBERO)" if facts_seen[0]["libero"] else ""),
        frames=frames,
        features=widths,
        declared_fps=float(facts_seen[0]["control_hz"]) if facts_seen[0]["control_hz"] else None,
        profile=profile,
        info={"path": str(location), **({"backend": "libero"} if facts_seen[0]["libero"] else {})},
        parts=parts,
        keepalive=keepalive,
    )


@dataset_sources.register(ROBOMIMIC_FORMAT)
class RobomimicSource(DatasetSource):
    """robomimic HDF5 file, or a folder of them (LIBERO's demonstration files included)."""

    @classmethod
    def recognizes(cls, location: str) -> bool:
        path = Path(location)
        return path.exists() and bool(_files(path))

    @classmethod
    def read(cls, location: str) -> SourceFrames:
        return read_robomimic(Path(location))
