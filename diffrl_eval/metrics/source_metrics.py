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

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources import OpenedDataset
from diffrl_eval.dataset.sources.semantics import NO_OP_METRICS
from diffrl_eval.metrics.results import DATASET_FIELDS, compute_metrics


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


def measure_source(opened: OpenedDataset, *, quality: bool = True) -> dict[str, Any]:
    """All metrics of ``opened`` as the ``diffrl-eval/metrics`` JSON document."""
    semantics = opened.semantics
    if _native_as_is(opened):
        result = compute_metrics(opened.source.dataset, control_hz=semantics.control_hz)
    else:
        info = {k: v for k, v in opened.source.info.items() if k in DATASET_FIELDS}
        info.setdefault("path", opened.source.location)
        info.setdefault("source", opened.source.format)
        manifest = opened.source.dataset.manifest if opened.source.dataset is not None else {}
        info.update({k: manifest.get(k) for k in DATASET_FIELDS if k in manifest
                     and k not in ("n_episodes", "n_frames", "control_hz")})
        result = compute_metrics(opened.frames, control_hz=semantics.control_hz,
                                 suite=info.pop("suite", None), dataset_info=info)
    _mark_unavailable(result, semantics.unavailable)
    result["semantics"] = opened.disclosure()
    if quality:
        from diffrl_eval.metrics.quality import quality_checks

        result["quality"] = quality_checks(opened.frames, semantics, opened.source.declared_fps)
    return result


def metrics_of(location) -> dict[str, Any]:
    """The metrics of the dataset at ``location`` (any format, semantics inferred)."""
    from diffrl_eval.dataset.sources import open_source

    return measure_source(open_source(location))
