"""All metrics and checks on a LIBERO-sized LeRobot v3 dataset, against baselines in the same run.

Ours: read the directory (lazy scan), infer semantics, the paper's metrics, the quality
checks and diversity. Baseline: the straightforward pandas implementation of the paper's
metrics (``test_bench_metrics.pandas_reference``) on the same tables read with pandas.
lerobot-doctor, when its ``lerobot-doctor`` command is on PATH (or named by
``LEROBOT_DOCTOR``), runs its checks on the same directory in a subprocess.

Run: ``pytest tests/benchmarks/test_bench_sources.py --benchmark-only -p no:cacheprovider -s``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources import open_source
from diffrl_eval.metrics.source_metrics import measure_source
from tests.benchmarks.libero_sized_lerobot import write_libero_sized_v3
from tests.benchmarks.test_bench_metrics import one_core, pandas_reference


@pytest.fixture(scope="module")
def libero_sized(tmp_path_factory):
    return write_libero_sized_v3(tmp_path_factory.mktemp("bench") / "libero_v3")


def _pandas_baseline(path):
    frames = pd.concat([pd.read_parquet(f) for f in sorted((path / "data").rglob("*.parquet"))])
    tasks = pd.read_parquet(path / "meta/tasks.parquet").set_index("task_index")["task"]
    frames = pd.DataFrame({
        C.COL_EPISODE: frames["episode_index"], C.COL_STEP: frames["frame_index"],
        C.COL_TASK: frames["task_index"].map(tasks),
        C.COL_EEF_POS: [s[:3] for s in frames["observation.state"]],
        C.COL_ACTION: frames["action"],
        C.COL_SUCCESS: frames["frame_index"] == frames.groupby("episode_index")["frame_index"].transform("max"),
    })
    return pandas_reference(frames)


def _measure(path):
    return measure_source(open_source(path))


def test_all_metrics_on_a_libero_sized_lerobot_dataset(benchmark, libero_sized):
    with one_core():
        start = time.perf_counter()
        reference = _pandas_baseline(libero_sized)
        baseline_s = time.perf_counter() - start
        result = benchmark.pedantic(_measure, args=(libero_sized,), rounds=3, iterations=1,
                                    warmup_rounds=1)
    ours_s = benchmark.stats.stats.median
    doctor = os.environ.get("LEROBOT_DOCTOR") or shutil.which("lerobot-doctor")
    doctor_s = None
    if doctor:
        start = time.perf_counter()
        subprocess.run([doctor, "check", str(libero_sized), "--json"], capture_output=True,
                       timeout=1800, check=False)
        doctor_s = time.perf_counter() - start
    benchmark.extra_info.update(
        n_episodes=result["dataset"]["n_episodes"], n_frames=result["dataset"]["n_frames"],
        ours_median_s=ours_s, pandas_baseline_s=baseline_s, speedup=baseline_s / ours_s,
        lerobot_doctor_s=doctor_s,
    )
    print(f"\nall metrics + checks {ours_s:.2f} s (median of 3, one core), pandas paper-metrics "
          f"baseline {baseline_s:.2f} s ({baseline_s / ours_s:.1f}x), lerobot-doctor "
          f"{'not installed' if doctor_s is None else f'{doctor_s:.2f} s ({doctor_s / ours_s:.1f}x)'}"
          f" on {result['dataset']['n_frames']} frames")
    assert result["dataset"]["n_episodes"] == 1693
    assert result["semantics"]["control_hz"] == 20
    by_episode = reference["episodes"]
    np.testing.assert_allclose([e["mean_squared_jerk"] for e in result["episodes"]],
                               by_episode["mean_squared_jerk"].astype(float), rtol=1e-6)
    assert baseline_s / ours_s > 1.0
