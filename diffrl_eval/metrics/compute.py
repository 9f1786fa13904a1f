"""The metrics results document: everything `diffrl-eval metrics` measures, as plain JSON.

:func:`compute_metrics` is the single entry point; its output follows the
``diffrl-eval/metrics`` layout (:class:`~diffrl_eval.documents.MetricsResult`): a dataset block,
overall / per-suite / per-task summaries, per-task action-variance curves and one record
per episode. Every number is a plain ``int``/``float``/``None`` (never NaN), so the result
passes through ``json.dumps`` unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset import Dataset
from diffrl_eval.documents import MetricsResult
from diffrl_eval.errors import DatasetError
from diffrl_eval.metrics.action_variance import (
    DEFAULT_N_POINTS,
    action_variance_curves,
    mean_action_variance,
)
from diffrl_eval.metrics.episode_metrics import episode_metrics
from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable
from diffrl_eval.metrics.success import DEFAULT_CONFIDENCE
from diffrl_eval.metrics.summary import mean_over_tasks, summary_frame, summary_from_row

UNNAMED_SUITE = "all"
DATASET_FIELDS = (
    "path",
    "source",
    "source_label",
    "backend",
    "suite",
    "content_hash",
    "n_episodes",
    "n_frames",
    "control_hz",
    "tool_version",
    "generation",  # the generator's account of how it produced the actions, when it gives one
)


def dataset_block(
    dataset: Dataset | None,
    dataset_info: dict[str, Any] | None,
    n_episodes: int,
    n_frames: int,
    control_hz: float,
    suite: str | None,
) -> dict[str, Any]:
    block: dict[str, Any] = dict.fromkeys(DATASET_FIELDS)
    if dataset is not None:
        block.update({key: dataset.manifest.get(key) for key in DATASET_FIELDS})
        block["generation"] = (dataset.manifest.get("generator_config") or {}).get(
            C.GENERATION_KEY)
        block["path"] = str(dataset.path)
        block["source_label"] = dataset.source_label
    if dataset_info:
        unknown = sorted(set(dataset_info) - set(DATASET_FIELDS))
        if unknown:
            raise ValueError(f"dataset_info has unknown field(s) {', '.join(unknown)}")
        block.update(dataset_info)
    # what was measured, not what a manifest claims
    block.update(
        n_episodes=n_episodes,
        n_frames=n_frames,
        control_hz=control_hz,
        suite=suite,
    )
    return block


def compute_metrics(
    dataset_or_frames: Dataset | FrameTable,
    *,
    control_hz: float | None = None,
    suite: str | None = None,
    dataset_info: dict[str, Any] | None = None,
    n_points: int = DEFAULT_N_POINTS,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Any]:
    """All data-quality metrics of a dataset (or a bare frame table) as a JSON-ready dict.

    ``control_hz`` and ``suite`` default to the dataset's manifest (frames alone: the
    default control rate, no suite). ``dataset_info`` fills or overrides the ``dataset``
    block's descriptive fields (path, source, ...) for bare frames.
    """
    dataset = dataset_or_frames if isinstance(dataset_or_frames, Dataset) else None
    frames = dataset.frames_df if dataset is not None else dataset_or_frames
    if control_hz is None:
        control_hz = dataset.control_hz if dataset is not None else C.DEFAULT_CONTROL_HZ
    if suite is None and dataset is not None:
        suite = dataset.suite

    segments = EpisodeSegments.from_frames(frames)
    if segments.n_episodes == 0:
        raise DatasetError("no frames to measure: the dataset is empty")
    episodes = episode_metrics(segments, control_hz)
    curves, success_counts = action_variance_curves(segments, n_points)
    instructions = dict(zip(segments.task_id.tolist(), segments.instruction.tolist()))
    block = dataset_block(dataset, dataset_info, segments.n_episodes, segments.n_frames,
                           control_hz, suite)
    return assemble_metrics(block, episodes, curves, success_counts, instructions,
                            n_points=n_points, confidence=confidence)


def assemble_metrics(
    dataset_block: dict[str, Any],
    episodes: pl.DataFrame,
    curves: dict[str, np.ndarray],
    success_counts: dict[str, int],
    instructions: dict[str, str],
    *,
    n_points: int = DEFAULT_N_POINTS,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Any]:
    """The results document from its parts: the per-episode metrics table (see
    ``episode_metrics``), the per-task action-variance curves (n_points, Da) with the
    successful-episode counts behind them, and each task's instruction."""
    suite = dataset_block["suite"]
    task_variance = {task: mean_action_variance(curves.get(task)) for task in success_counts}
    overall_variance = mean_over_tasks(list(task_variance.values()))
    overall = summary_from_row(summary_frame(episodes).row(0, named=True), overall_variance,
                               confidence)
    per_task: dict[str, Any] = {}
    for row in summary_frame(episodes, by=C.COL_TASK).sort(C.COL_TASK).iter_rows(named=True):
        task = row[C.COL_TASK]
        per_task[task] = {
            **summary_from_row(row, task_variance[task], confidence),
            C.COL_INSTRUCTION: instructions.get(task, ""),
        }
    return MetricsResult(
        dataset=dataset_block,
        overall=overall,
        per_suite={suite if suite is not None else UNNAMED_SUITE: copy.deepcopy(overall)},
        per_task=per_task,
        action_variance_curves={
            task: {
                "n_points": n_points,
                "n_episodes": success_counts[task],
                "variance": curves[task].tolist() if task in curves else None,
            }
            for task in sorted(success_counts)
        },
        episodes=episodes.to_dicts(),
    ).to_json()
