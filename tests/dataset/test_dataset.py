"""The dataset format: round trip, content hash, atomic writes, and validation errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_episode

from diffrl_eval import constants as C
from diffrl_eval.dataset import DatasetWriter, Episode, load_dataset, write_dataset
from diffrl_eval.dataset.format import frames_content_hash
from diffrl_eval.errors import DatasetError, UserError


def _episodes(seed: int, n: int = 4):
    rng = np.random.default_rng(seed)
    return [make_episode(rng, 10 + i, task_id=f"t{i % 2}", instruction=f"instr {i % 2}", seed=i)
            for i in range(n)]


def _write(path: Path, seed: int = 0, n: int = 4) -> Path:
    return write_dataset(path, _episodes(seed, n), source="human", backend="tabletop", suite="s")


def test_round_trip_preserves_every_value_and_returns_a_lazy_frame(tmp_path):
    episodes = _episodes(0)
    dataset = load_dataset(write_dataset(tmp_path / "d", episodes, source="human",
                                         backend="tabletop", suite="s", seed=7))
    frames = dataset.frames()
    assert isinstance(frames, pl.LazyFrame)
    df = frames.collect()
    assert tuple(df.columns) == C.FRAME_COLUMNS
    for index, episode in enumerate(episodes):
        rows = df.filter(pl.col(C.COL_EPISODE) == index).sort(C.COL_STEP)
        np.testing.assert_array_equal(rows[C.COL_ACTION].to_numpy(), episode.actions)
        np.testing.assert_array_equal(rows[C.COL_STATE].to_numpy(), episode.states)
        np.testing.assert_array_equal(rows[C.COL_EEF_POS].to_numpy(), episode.eef_pos)
        assert rows[C.COL_STEP].to_list() == list(range(episode.length))
        assert rows[C.COL_DONE].to_list() == [False] * (episode.length - 1) + [True]
        assert rows[C.COL_SUCCESS].to_list() == episode.successes.tolist()
        assert set(rows[C.COL_INSTRUCTION].to_list()) == {episode.instruction}
    manifest = dataset.manifest
    assert manifest["n_episodes"] == 4 and manifest["n_frames"] == df.height
    assert manifest["seed"] == 7 and manifest["episode_seeds"] == [0, 1, 2, 3]
    assert {t["task_id"]: t["n_episodes"] for t in manifest["tasks"]} == {"t0": 2, "t1": 2}
    assert manifest["schema_version"] == 1 and manifest["images"] is None


def test_same_episodes_give_the_same_content_hash_and_different_ones_do_not(tmp_path):
    a = load_dataset(_write(tmp_path / "a", seed=0)).content_hash
    b = load_dataset(_write(tmp_path / "b", seed=0)).content_hash
    c = load_dataset(_write(tmp_path / "c", seed=1)).content_hash
    assert a == b
    assert a != c
    assert a.startswith("sha256:")


def test_content_hash_depends_on_values_not_on_parquet_encoding(toy_dataset, tmp_path):
    df = pl.read_parquet(toy_dataset / "frames.parquet")
    df.write_parquet(tmp_path / "other.parquet", compression="gzip", row_group_size=7)
    assert frames_content_hash(pl.read_parquet(tmp_path / "other.parquet")) == frames_content_hash(df)


def test_images_are_stored_beside_the_frames_and_read_back(tmp_path):
    rng = np.random.default_rng(0)
    episode = make_episode(rng, 5)
    episode.images = {C.OBS_AGENTVIEW_IMAGE: rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8),
                      C.OBS_WRIST_IMAGE: rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)}
    dataset = load_dataset(write_dataset(tmp_path / "img", [episode], source="human",
                                         backend="tabletop", suite="s"))
    assert dataset.cameras == sorted(episode.images)
    assert dataset.manifest["images"]["height"] == 16
    loaded = dataset.images(0)
    for name, frames in episode.images.items():
        np.testing.assert_array_equal(loaded[name], frames)
    assert "image" not in " ".join(dataset.frames_df.columns)  # never inline in rows


def test_exception_during_writing_leaves_nothing_under_any_name(tmp_path):
    out = tmp_path / "broken"
    with pytest.raises(RuntimeError), DatasetWriter(out, source="human", backend="tabletop", suite="s") as w:
        w.add(_episodes(0, 1)[0])
        raise RuntimeError("generator crashed")
    assert list(tmp_path.iterdir()) == []


def test_kill_9_during_writing_never_leaves_a_dataset_under_the_final_name(tmp_path):
    out = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import sys, time, numpy as np
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})  # tests/: conftest
        from conftest import make_episode
        from diffrl_eval.dataset import DatasetWriter
        rng = np.random.default_rng(0)
        with DatasetWriter({str(out)!r}, source="human", backend="tabletop", suite="s") as w:
            for i in range(1000):
                w.add(make_episode(rng, 50))
                if i == 3:
                    print("writing", flush=True)
                time.sleep(0.01)
            w.finalize()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(name.startswith((".killed.tmp-", ".killed.lock")) for name in leftovers)
    # the next run into the same output removes what the killed one left
    rng = np.random.default_rng(0)
    write_dataset(out, [make_episode(rng, 20)], source="human", backend="tabletop", suite="s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed"]


def test_empty_dataset_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(DatasetError, match="no episodes"):
        write_dataset(tmp_path / "empty", [], source="human", backend="tabletop", suite="s")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_path_is_refused_before_any_work(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(UserError, match="already exists"):
        DatasetWriter(tmp_path / "exists", source="human", backend="tabletop", suite="s")
    assert [p.name for p in tmp_path.iterdir()] == ["exists"]


def test_missing_parent_directories_are_created_when_writing(tmp_path):
    out = tmp_path / "runs" / "nested" / "d"
    write_dataset(out, _episodes(0, 1), source="h", backend="b", suite=None)
    assert load_dataset(out).manifest["n_episodes"] == 1


def test_output_below_a_plain_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is not a directory"):
        DatasetWriter(tmp_path / "file" / "d", source="h", backend="b", suite=None)


def test_unwritable_output_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits
            pytest.skip("permission bits are not enforced for this user")
        with pytest.raises(UserError, match="not writable"):
            DatasetWriter(locked / "d", source="h", backend="b", suite=None)
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("field, value, message", [
    ("actions", np.zeros((5, 6)), r"actions has shape \(5, 6\), expected \(5, 7\)"),
    ("states", np.zeros((5, 7)), r"states has shape"),
    ("eef_pos", np.full((5, 3), np.nan), "eef_pos has NaN or inf"),
    ("actions", np.full((5, 7), np.inf), "actions has NaN or inf"),
])
def test_malformed_episode_is_rejected_with_the_field_named(field, value, message):
    rng = np.random.default_rng(0)
    episode = make_episode(rng, 5)
    kwargs = {k: getattr(episode, k) for k in ("task_id", "instruction", "states", "eef_pos",
                                                "actions", "rewards", "successes")}
    kwargs[field] = value
    with pytest.raises(DatasetError, match=message):
        Episode(**kwargs)


def _rewrite_frames(dataset: Path, transform) -> None:
    df = pl.read_parquet(dataset / "frames.parquet")
    transform(df).write_parquet(dataset / "frames.parquet")


def test_missing_column_is_named(toy_dataset):
    _rewrite_frames(toy_dataset, lambda df: df.drop(C.COL_REWARD))
    with pytest.raises(DatasetError, match="missing column\\(s\\) reward"):
        load_dataset(toy_dataset)


def test_extra_column_is_named(toy_dataset):
    _rewrite_frames(toy_dataset, lambda df: df.with_columns(pl.lit(1).alias("surprise")))
    with pytest.raises(DatasetError, match="unexpected column\\(s\\) surprise"):
        load_dataset(toy_dataset)


def test_wrong_action_dimension_is_reported(toy_dataset):
    def six_d(df):
        six = pl.Series(C.COL_ACTION, df[C.COL_ACTION].to_numpy()[:, :6], dtype=pl.Array(pl.Float32, 6))
        return df.with_columns(six)
    _rewrite_frames(toy_dataset, six_d)
    with pytest.raises(DatasetError, match="'action' must be 7-D float vectors"):
        load_dataset(toy_dataset)


def test_nan_values_are_reported_with_the_column_and_row_count(toy_dataset):
    def poison(df):
        actions = df[C.COL_ACTION].to_numpy().copy()
        actions[[2, 5], 0] = np.nan
        return df.with_columns(pl.Series(C.COL_ACTION, actions, dtype=pl.Array(pl.Float32, 7)))
    _rewrite_frames(toy_dataset, poison)
    with pytest.raises(DatasetError, match="'action' has NaN or inf in 2 row"):
        load_dataset(toy_dataset)


def test_modified_frames_fail_the_hash_check(toy_dataset):
    _rewrite_frames(toy_dataset, lambda df: df.with_columns(pl.col(C.COL_REWARD) * 2))
    with pytest.raises(DatasetError, match="content hash mismatch"):
        load_dataset(toy_dataset)
    assert load_dataset(toy_dataset, verify_hash=False).manifest["source"] == "human"


def test_empty_frame_table_is_reported(toy_dataset):
    _rewrite_frames(toy_dataset, lambda df: df.head(0))
    with pytest.raises(DatasetError, match="empty"):
        load_dataset(toy_dataset)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"schema_version": 1}', "missing key\\(s\\) source"),
])
def test_broken_manifest_is_reported(toy_dataset, content, message):
    (toy_dataset / "manifest.json").write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(toy_dataset)


def test_unsupported_schema_version_is_reported(toy_dataset):
    manifest = json.loads((toy_dataset / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (toy_dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="schema_version 99 is not supported"):
        load_dataset(toy_dataset)


def test_nonexistent_path_and_plain_file_are_reported(tmp_path):
    with pytest.raises(DatasetError, match="dataset not found"):
        load_dataset(tmp_path / "nothing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="a dataset is a directory"):
        load_dataset(tmp_path / "file.txt")
    (tmp_path / "dir").mkdir()
    with pytest.raises(DatasetError, match="not a dataset"):
        load_dataset(tmp_path / "dir")


def test_task_with_two_instructions_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(DatasetError, match="two instructions"):
        write_dataset(tmp_path / "x", [make_episode(rng, 5, instruction="a"),
                                       make_episode(rng, 5, instruction="b")],
                      source="h", backend="b", suite=None)
    assert list(tmp_path.iterdir()) == []


def test_tables_written_by_other_tools_are_accepted_when_their_values_fit(toy_dataset):
    """float64 numbers, int32 indices, variable-length lists and 0/1 flags (e.g. pandas)."""
    original = load_dataset(toy_dataset)

    def foreign(df):
        return df.select(
            pl.col(C.COL_EPISODE).cast(pl.Int32),
            pl.col(C.COL_STEP).cast(pl.Int32),
            pl.col(C.COL_TASK),
            pl.col(C.COL_INSTRUCTION).cast(pl.Categorical),
            *[pl.col(c).cast(pl.List(pl.Float64)) for c in (C.COL_STATE, C.COL_EEF_POS, C.COL_ACTION)],
            pl.col(C.COL_REWARD).cast(pl.Float64),
            pl.col(C.COL_SUCCESS).cast(pl.Int8),
            pl.col(C.COL_DONE),
        ).select(list(reversed(C.FRAME_COLUMNS)))  # column order does not matter either

    _rewrite_frames(toy_dataset, foreign)
    reloaded = load_dataset(toy_dataset)  # same values, so the manifest's hash still holds
    assert reloaded.frames().collect_schema() == original.frames().collect_schema()
    assert reloaded.frames_df.equals(original.frames_df)


def test_list_column_with_rows_of_the_wrong_length_is_reported(toy_dataset):
    def ragged(df):
        actions = df[C.COL_ACTION].to_list()
        actions[3] = actions[3][:5]
        return df.with_columns(pl.Series(C.COL_ACTION, actions, dtype=pl.List(pl.Float64)))
    _rewrite_frames(toy_dataset, ragged)
    with pytest.raises(DatasetError, match=r"'action' must be 7-D float vectors, found rows of length \[5\]"):
        load_dataset(toy_dataset)


def test_text_in_a_numeric_column_is_reported(toy_dataset):
    _rewrite_frames(toy_dataset, lambda df: df.with_columns(pl.col(C.COL_REWARD).cast(pl.String)))
    with pytest.raises(DatasetError, match="'reward' must be Float32, found String"):
        load_dataset(toy_dataset)
