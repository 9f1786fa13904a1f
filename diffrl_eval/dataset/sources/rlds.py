"""RLDS datasets: TFDS builder directories of episodes (OpenVLA's LIBERO data among them).

A TFDS builder directory (``dataset_info.json``, ``features.json``, ``*.tfrecord-*``; or
its parent holding one version folder) whose features hold ``steps``, an RLDS sequence of
steps: ``observation`` (a dict of tensors), ``action``, ``reward``, ``is_first``/``is_last``,
often ``language_instruction``. Reading needs TensorFlow Datasets (the optional extra
``pip install 'diffrl-eval[rlds]'``); images are never decoded (only 1-D numeric tensors,
scalars and text are). Each step's nested keys become feature names joined by ``/``
(``observation/state``), as RLDS itself names them; success is ``reward > 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources.base import (
    ACTION_FEATURE,
    DatasetSource,
    EpisodeSpill,
    SourceFrames,
)
from diffrl_eval.dataset.sources.lerobot import libero_profile
from diffrl_eval.errors import DatasetError, UserError
from diffrl_eval.registry import dataset_sources

RLDS_FORMAT = "rlds"
STEPS = "steps"
INSTRUCTION = "language_instruction"
REWARD = "reward"
STATE = "observation/state"  # OpenVLA's LIBERO conversion: LIBERO's 8-D proprio
_BUILDER_FILES = ("dataset_info.json", "features.json")
MAX_EPISODE_STEPS = 1_000_000


def builder_directory(location: Path) -> Path | None:
    """The version folder of a TFDS builder at ``location`` (itself or its only child)."""
    if all((location / name).is_file() for name in _BUILDER_FILES):
        return location
    if location.is_dir():
        children = [c for c in location.iterdir() if c.is_dir()
                    and all((c / name).is_file() for name in _BUILDER_FILES)]
        if len(children) == 1:
            return children[0]
    return None


def _step_keys(steps_feature) -> tuple[dict[str, Any], list[str]]:
    """The step features to read, flattened to ``a/b`` names (1-D numeric tensors, numeric
    or boolean scalars, text), and the image/video features to leave encoded."""
    import tensorflow_datasets as tfds

    keys: dict[str, Any] = {}
    encoded: list[str] = []

    def walk(feature, prefix: str) -> None:
        if isinstance(feature, tfds.features.FeaturesDict):
            for name, inner in feature.items():
                walk(inner, f"{prefix}/{name}" if prefix else name)
        elif isinstance(feature, (tfds.features.Image, tfds.features.Video)):
            encoded.append(prefix)
        elif isinstance(feature, tfds.features.Text):
            keys[prefix] = feature
        elif isinstance(feature, tfds.features.Tensor) and len(feature.shape) <= 1:
            keys[prefix] = feature

    walk(steps_feature, "")
    return keys, encoded


def _skip(encoded: list[str]) -> dict[str, Any]:
    """The nested decoders that leave the ``encoded`` features as bytes."""
    import tensorflow_datasets as tfds

    spec: dict[str, Any] = {}
    for name in encoded:
        node = spec
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tfds.decode.SkipDecoding()
    return spec


def read_rlds(location: Path) -> SourceFrames:
    directory = builder_directory(location)
    if directory is None:
        raise DatasetError(f"{location}: not a TFDS builder directory (no {', '.join(_BUILDER_FILES)})")
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise UserError(f"{location} is an RLDS dataset; reading it needs TensorFlow Datasets: "
                        "pip install 'diffrl-eval[rlds]'") from None
    try:
        builder = tfds.builder_from_directory(str(directory))
    except Exception as exc:  # noqa: BLE001 - TFDS raises many kinds for a damaged builder
        raise DatasetError(f"{directory}: unreadable TFDS builder ({type(exc).__name__}: {exc})") from None
    features = builder.info.features
    if STEPS not in features:
        raise DatasetError(f"{directory}: no '{STEPS}' feature (not an RLDS dataset)")
    keys, encoded = _step_keys(features[STEPS].feature)
    if ACTION_FEATURE not in keys:
        raise DatasetError(f"{directory}: the steps have no 1-D '{ACTION_FEATURE}' tensor")
    splits = "+".join(sorted(builder.info.splits))
    dataset = builder.as_dataset(
        split=splits, shuffle_files=False,
        decoders={STEPS: _skip(encoded)} if encoded else None)
    # one element per episode: all its steps as one batch
    episodes = dataset.map(lambda episode: episode[STEPS]).flat_map(
        lambda steps: steps.batch(MAX_EPISODE_STEPS))
    widths = {k: (int(f.shape[0]) if f.shape else 1) for k, f in keys.items()
              if not isinstance(f, tfds.features.Text) and np.dtype(f.np_dtype).kind == "f"
              and k != REWARD}
    spill = EpisodeSpill()
    for index, steps in enumerate(tfds.as_numpy(episodes)):
        flat = _flatten(steps)
        n = len(flat[ACTION_FEATURE])
        text = flat.get(INSTRUCTION)
        instructions = [t.decode() if isinstance(t, bytes) else str(t) for t in text] \
            if text is not None else [directory.parent.name] * n
        columns: dict[str, Any] = {
            C.COL_EPISODE: np.full(n, index, dtype=np.int64),
            C.COL_STEP: np.arange(n, dtype=np.int64),
            C.COL_TASK: instructions, C.COL_INSTRUCTION: instructions,
            **{k: np.asarray(flat[k], np.float64).reshape(n, w) for k, w in widths.items()},
        }
        if REWARD in flat:
            columns[C.COL_SUCCESS] = np.asarray(flat[REWARD]).reshape(n) > 0
        spill.add(pl.DataFrame(columns))
    if not spill.n_episodes:
        raise DatasetError(f"{directory}: the dataset holds no episodes")
    frames, parts, keepalive = spill.frames()
    return SourceFrames(
        location=str(location),
        format=f"{RLDS_FORMAT} ({builder.info.name} {builder.info.version})",
        frames=frames,
        features=widths,
        profile=libero_profile(STATE, widths, "RLDS declares no rate"),
        info={"path": str(location)},
        parts=parts,
        keepalive=keepalive,
    )


def _flatten(steps: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in steps.items():
        key = f"{prefix}/{name}" if prefix else name
        if isinstance(value, dict):
            flat.update(_flatten(value, key))
        else:
            flat[key] = value
    return flat


@dataset_sources.register(RLDS_FORMAT)
class RldsSource(DatasetSource):
    """RLDS / TFDS builder directory (needs the rlds extra: tensorflow-datasets)."""

    @classmethod
    def recognizes(cls, location: str) -> bool:
        path = Path(location)
        return path.is_dir() and builder_directory(path) is not None

    @classmethod
    def read(cls, location: str) -> SourceFrames:
        return read_rlds(Path(location))
