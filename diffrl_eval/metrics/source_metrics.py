"""The metrics of a dataset of any format, with the semantics they were measured under.

:func:`measure_source` runs :func:`~diffrl_eval.metrics.compute_metrics` on the measurement
frames of an :class:`~diffrl_eval.dataset.sources.OpenedDataset` and adds a ``semantics``
block (format, profile, end-effector key, control rate and why, gripper index, action
kind, what was assumed) and the ``quality`` checks. Metrics the semantics make unavailable
(jerk without an end-effector position, no-ops without delta actions) are null, and the
``semantics.unavailable`` block says why.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources import OpenedDataset
from diffrl_eval.dataset.sources.semantics import NO_OP_METRICS
from diffrl_eval.errors import DatasetError
from diffrl_eval.metrics.action_variance import VarianceAccumulator
from diffrl_eval.metrics.compute import (
    DATASET_FIELDS,
    assemble_metrics,
    compute_metrics,
    dataset_block,
)
from diffrl_eval.metrics.episode_metrics import episode_metrics
from diffrl_eval.metrics.quality import QualityAccumulator
from diffrl_eval.metrics.segments import EpisodeSegments

# frames per batch: a LIBERO-sized dataset (~275k frames) is measured in one
BATCH_FRAMES = 1_000_000


def _native_as_is(opened: OpenedDataset) -> bool:
    """This tool's dataset measured under its own semantics: the classic path, unchanged."""
    semantics = opened.semantics
    return (opened.source.dataset is not None and semantics.eef is not None
            and str(semantics.eef) == C.COL_EEF_POS
            and semantics.gripper_index == C.GRIPPER_ACTION_INDEX
            and not semantics.unavailable)


def _summaries(result: dict[str, Any]):
    yield result["overall"]
    yield from result["per_suite"].values()
    yield from result["per_task"].values()


def _mark_unavailable(result: dict[str, Any], metrics: dict[str, str]) -> None:
    """Null every value of the unavailable no-op metrics (jerk is null already: NaN eef)."""
    for metric in NO_OP_METRICS:
        if metric not in metrics:
            continue
        for summary in _summaries(result):
            summary[metric] = None
        for episode in result["episodes"]:
            if metric in episode:
                episode[metric] = None


def _dataset_info(opened: OpenedDataset) -> dict[str, Any]:
    info = {k: v for k, v in opened.source.info.items() if k in DATASET_FIELDS}
    info.setdefault("path", opened.source.location)
    info.setdefault("source", opened.source.format)
    manifest = opened.source.dataset.manifest if opened.source.dataset is not None else {}
    info.update({k: manifest.get(k) for k in DATASET_FIELDS if k in manifest
                 and k not in ("n_episodes", "n_frames", "control_hz")})
    return info


def _measure_in_batches(opened: OpenedDataset, quality: QualityAccumulator | None,
                        batch_frames: int) -> dict[str, Any]:
    """The paper's metrics batch by batch of whole episodes: per-episode rows, merged
    action-variance statistics; memory follows the batch, not the dataset."""
    hz = opened.semantics.control_hz
    parts, instructions, n_frames = [], {}, 0
    variance = VarianceAccumulator()
    for frames in opened.frame_batches(batch_frames):
        segments = EpisodeSegments.from_frames(frames)
        if segments.n_episodes == 0:
            continue
        parts.append(episode_metrics(segments, hz))
        variance.add(segments)
        instructions.update(zip(segments.task_id.tolist(), segments.instruction.tolist()))
        n_frames += segments.n_frames
        if quality is not None:
            quality.add(frames, segments)
    if not parts:
        raise DatasetError("no frames to measure: the dataset is empty")
    episodes = pl.concat(parts).sort(C.COL_EPISODE)
    info = _dataset_info(opened)
    block = dataset_block(None, info, episodes.height, n_frames, hz, info.pop("suite", None))
    return assemble_metrics(block, episodes, variance.curves(), variance.counts, instructions)


def measure_source(opened: OpenedDataset, *, quality: bool = True,
                   batch_frames: int = BATCH_FRAMES) -> dict[str, Any]:
    """All metrics of ``opened`` as the ``diffrl-eval/metrics`` JSON document, read in
    batches of about ``batch_frames`` frames (whole episodes) where the format allows."""
    semantics = opened.semantics
    accumulator = QualityAccumulator(semantics, opened.source.declared_fps) if quality else None
    if _native_as_is(opened):
        result = compute_metrics(opened.source.dataset, control_hz=semantics.control_hz)
        if accumulator is not None:
            accumulator.add(opened.frames)
    else:
        result = _measure_in_batches(opened, accumulator, batch_frames)
    _mark_unavailable(result, semantics.unavailable)
    result["semantics"] = opened.disclosure()
    if accumulator is not None:
        result["quality"] = accumulator.result()
    return result


def metrics_of(location, declared=None, *, format: str | None = None) -> dict[str, Any]:
    """The metrics of the dataset at ``location`` (any format; semantics inferred where
    ``declared`` is silent)."""
    from diffrl_eval.dataset.sources import open_source

    return measure_source(open_source(location, declared, format=format))
