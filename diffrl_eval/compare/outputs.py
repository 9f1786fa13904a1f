"""What a finished `compare` run writes: ``results/`` (Parquet + JSON: data quality, VLA
success, generation cost, verdict, expert curves, clips), ``report.html`` and ``run.json``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from diffrl_eval import registry
from diffrl_eval.atomic import (
    discard_staging,
    staging_name,
    track_staging,
    write_bytes_atomic,
    write_text_atomic,
)
from diffrl_eval.compare.cost import generation_cost
from diffrl_eval.compare.plan import RUN_FILE, CompareRun
from diffrl_eval.compare.stages import digest
from diffrl_eval.compare.verdict import build_verdict
from diffrl_eval.documents import COMPARE_RUN
from diffrl_eval.errors import UserError

RESULTS_DIR = "results"
REPORT_FILE = "report.html"
VERDICT_FILE = "verdict.json"
CLIPS_DIR = "clips"
CLIP_SIZE = 160


def _quality_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in metrics:
        overall = result["overall"]
        rows.append({
            "source": result["dataset"]["source"], "suite": result["dataset"]["suite"],
            "content_hash": result["dataset"]["content_hash"],
            "episodes": result["dataset"]["n_episodes"],
            "success_rate": overall["success"]["rate"],
            "trajectory_length_mean": overall["trajectory_length"]["mean"],
            "no_op_count": overall["no_op_count"],
            "no_op_fraction": overall["no_op_fraction"],
            "mean_squared_jerk_mean": overall["mean_squared_jerk"]["mean"],
            "log_dimensionless_jerk_mean": overall["log_dimensionless_jerk"]["mean"],
            "action_variance": overall["action_variance"],
        })
    return rows


def _vla_rows(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in evaluations:
        for suite, summary in result["per_suite"].items():
            rows.append({
                "protocol": result["protocol"],
                "train_sources": "+".join(result["training"]["sources"]),
                "train_suites": ",".join(result["training"]["train_suites"]),
                "eval_suite": suite, "seed": result["training"]["seed"],
                "successes": summary["successes"], "episodes": summary["episodes"],
                "rate": summary["rate"], "ci_low": summary["ci_low"],
                "ci_high": summary["ci_high"], "hparams_hash": result["hparams_hash"],
            })
    return rows


def results_hash(datasets: dict[tuple[str, str], dict[str, Any]],
                 metrics: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> str:
    """A digest of every result value that must repeat (no paths, no timings)."""
    content = {
        "datasets": sorted((s, suite, r["status"], r["result"].get("content_hash"))
                           for (s, suite), r in datasets.items()),
        "quality": sorted(json.dumps(row, sort_keys=True) for row in _quality_rows(metrics)),
        "vla": sorted(json.dumps({k: v for k, v in row.items()}, sort_keys=True)
                      for row in _vla_rows(evaluations)),
        "per_task": sorted(json.dumps([e["protocol"], e["training"]["sources"],
                                       e["training"]["seed"],
                                       {t: v["successes"] for t, v in e["per_task"].items()}])
                           for e in evaluations),
    }
    return digest(content)


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.BytesIO()
    pl.DataFrame(rows).write_parquet(buffer)
    write_bytes_atomic(path, buffer.getvalue(), overwrite=True)


def design_summary(run: CompareRun) -> str:
    """What the run's design can detect, in one sentence (printed, and atop the report)."""
    from diffrl_eval.compare.presets import minimum_detectable_difference

    episodes = run.preset.in_distribution_episodes(run.backend, len(run.seeds))
    detectable = minimum_detectable_difference(run.preset, run.backend, n_seeds=len(run.seeds))
    return (f"Design: {episodes:,} in-distribution evaluation episodes per source, which "
            f"detect success differences of about {detectable:.0%} or more (80% power, 5% "
            "level, near 50% success).")


def preset_note(run: CompareRun) -> str:
    return f"{run.preset.note} {design_summary(run)}"


def expert_curves(datasets: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """``{source: {task: curve}}`` over every finished dataset stage."""
    curves: dict[str, dict[str, Any]] = {}
    for (source, _), record in sorted(datasets.items()):
        found = record["result"].get("expert_curves") if record["status"] == "done" else None
        if found:
            curves.setdefault(source, {}).update(found)
    return curves


def data_clips(run: CompareRun, datasets: dict[tuple[str, str], dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """One clip per source and in-distribution task: the task's first successful episode
    (else its first), replayed, with the step and outcome drawn on it. None where the
    backend cannot render (no OpenGL, no replay)."""
    from diffrl_eval.clip import CLIP_FPS, annotate, episode_captions, episode_frames, write_clip
    from diffrl_eval.dataset import load_dataset

    clips = []
    directory = run.out / RESULTS_DIR / CLIPS_DIR
    for (source, suite), record in sorted(datasets.items()):
        if suite not in run.in_distribution or record["status"] != "done":
            continue
        dataset = load_dataset(record["path"])
        episodes = dataset.frames_df.group_by(["task_id", "episode_index"]).agg(
            pl.col("success").any()).sort(["task_id", "success", "episode_index"],
                                          descending=[False, True, False])
        for row in episodes.unique("task_id", keep="first", maintain_order=True).iter_rows(
                named=True):
            try:
                frames = episode_frames(dataset, row["episode_index"], image_size=CLIP_SIZE)
            except UserError:
                return clips
            path = directory / f"data-{source}-{row['task_id']}.mp4"
            write_clip(annotate(frames, episode_captions(len(frames), row["success"])),
                       path, fps=CLIP_FPS)
            clips.append({"source": source, "task": row["task_id"], "kind": "data",
                          "success": bool(row["success"]),
                          "path": str(path.relative_to(run.out))})
    return clips


def write_results(run: CompareRun, datasets: dict[tuple[str, str], dict[str, Any]],
                  metrics: list[dict[str, Any]], evaluations: list[dict[str, Any]],
                  failures: list[dict[str, str]], hparams_digest: str) -> dict[str, Any]:
    """Write ``results/``, the report and ``run.json`` from the finished stages' records
    (``datasets``: (source, suite) -> record); returns what ``run.json`` holds."""
    results = run.out / RESULTS_DIR
    cost = generation_cost(datasets)
    _write_parquet(results / "data_quality.parquet", _quality_rows(metrics))
    _write_parquet(results / "vla_success.parquet", _vla_rows(evaluations))
    write_text_atomic(results / "metrics.json", json.dumps(metrics, indent=2), overwrite=True)
    write_text_atomic(results / "vla_evaluations.json", json.dumps(evaluations, indent=2),
                      overwrite=True)
    write_text_atomic(results / "generation_cost.json", json.dumps(cost, indent=2),
                      overwrite=True)
    verdict = build_verdict(metrics, evaluations, sources=run.sources, baselines=run.baselines)
    write_text_atomic(results / VERDICT_FILE, json.dumps(verdict, indent=2), overwrite=True)
    curves = expert_curves(datasets)
    write_text_atomic(results / "expert_curves.json", json.dumps(curves, indent=2),
                      overwrite=True)
    clips = [*data_clips(run, datasets), *run.clips]
    write_text_atomic(results / "clips.json", json.dumps(clips, indent=2), overwrite=True)
    digest_value = results_hash(datasets, metrics, evaluations)
    # what the page cannot read from the results themselves (it shows versions, backend,
    # VLA, seeds and hparams hash from them)
    metadata = {"preset": run.preset.name, "sources": ", ".join(run.sources),
                "results hash": digest_value}
    demos = None
    if run.demos_from is not None:
        demos = {"path": str(run.demos_from), "content_hash": run.demonstrations.content_hash}
        metadata["human demonstrations"] = f"{demos['path']} ({demos['content_hash']})"
    if failures:
        metadata["failed stages"] = "; ".join(f"{f['stage']}: {f['error']}" for f in failures)
    build_report = registry.report_builders.load("html")
    report_path = run.out / REPORT_FILE
    # the builder never overwrites; a rerun's page replaces the old one by rename
    staged = track_staging(staging_name(report_path))
    try:
        build_report(metrics, staged, title=f"diffrl-eval compare ({run.preset.name})",
                     metadata=metadata, vla_results=evaluations or None,
                     generation_cost=cost or None, preset_note=preset_note(run),
                     variance_task=run.variance_task,
                     variance_dimension=run.variance_dimension, verdict=verdict,
                     expert_curves=curves or None, clips=clips, clips_base=run.out)
        os.replace(staged, report_path)
    finally:
        discard_staging(staged)
    summary = {
        **COMPARE_RUN.header(), "preset": run.preset.name,
        "backend": run.backend.name, "sources": run.sources, "seeds": run.seeds,
        "hparams_hash": hparams_digest, "results_hash": digest_value,
        "demos_from": demos, "failures": failures, "report": REPORT_FILE,
        "stages_run": len(run.store.ran), "stages_reused": len(run.store.reused),
    }
    write_text_atomic(run.out / RUN_FILE, json.dumps(summary, indent=2), overwrite=True)
    return summary
