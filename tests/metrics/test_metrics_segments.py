"""The episode layout every metric reads: sorting, boundaries, and refusal of broken tables."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval import constants as C
from diffrl_eval.errors import DatasetError
from diffrl_eval.metrics import EpisodeSegments, compute_metrics, episode_metrics


def three_episodes() -> pl.DataFrame:
    return frames_of(
        [make_episode("task_a", length=4), make_episode("task_b", length=1),
         make_episode("task_a", length=3)]
    )


def test_boundaries_lengths_and_tasks_of_each_episode():
    segments = EpisodeSegments.from_frames(three_episodes())
    assert segments.starts.tolist() == [0, 4, 5]
    assert segments.lengths.tolist() == [4, 1, 3]
    assert segments.task_id.tolist() == ["task_a", "task_b", "task_a"]
    assert segments.step_in_episode.tolist() == [0, 1, 2, 3, 0, 0, 1, 2]
    assert segments.episode_of_row.tolist() == [0, 0, 0, 0, 1, 2, 2, 2]
    assert segments.actions_by_dim.shape == (C.ACTION_DIM, 8)
    assert segments.eef_pos_by_dim.shape == (C.EEF_POS_DIM, 8)


def test_shuffled_rows_and_a_lazy_frame_give_the_same_table():
    frames = three_episodes()
    expected = episode_metrics(frames, control_hz=20)
    shuffled = frames.sample(fraction=1.0, shuffle=True, seed=1)
    assert episode_metrics(shuffled, control_hz=20).equals(expected)
    assert episode_metrics(frames.lazy(), control_hz=20).equals(expected)


def test_episode_indices_need_not_start_at_zero_or_be_consecutive():
    frames = three_episodes().with_columns(pl.col(C.COL_EPISODE) * 10 + 7)
    table = episode_metrics(frames, control_hz=20)
    assert table[C.COL_EPISODE].to_list() == [7, 17, 27]


def test_a_gap_in_step_index_is_a_dataset_error():
    frames = three_episodes().filter(
        ~((pl.col(C.COL_EPISODE) == 0) & (pl.col(C.COL_STEP) == 1))
    )
    with pytest.raises(DatasetError, match="episode 0: step_index"):
        EpisodeSegments.from_frames(frames)


def test_a_missing_column_is_a_dataset_error():
    with pytest.raises(DatasetError, match="eef_pos"):
        EpisodeSegments.from_frames(three_episodes().drop(C.COL_EEF_POS))


def test_only_very_short_episodes_still_give_a_valid_result():
    result = compute_metrics(frames_of([make_episode(length=2), make_episode(length=1)]))
    json.dumps(result, allow_nan=False)
    assert result["overall"]["mean_squared_jerk"] == {
        "count": 0, "mean": None, "std": None, "median": None
    }
    assert result["overall"]["no_op_count"] == 3  # zero actions: every step is a no-op
    assert result["overall"]["success"]["rate"] == 0.0


def test_an_empty_frame_table_has_no_episodes():
    segments = EpisodeSegments.from_frames(three_episodes().head(0))
    assert segments.n_episodes == 0 and segments.n_frames == 0
    assert np.asarray(episode_metrics(segments, control_hz=20)[C.COL_EPISODE]).size == 0
