"""`export --format lerobot`: the LeRobotDataset v3 layout, checked against LeRobot's schema.

The expectations below are LeRobot's documented v3 format (codebase "v3.0"), spelt out
here independently of the writer: file paths, info.json fields, feature dtypes and shapes,
column names and index ranges of data and episode metadata, tasks, statistics. Loading
with LeRobot itself is tests/lerobot_roundtrip/verify.sh (it needs LeRobot's own torch).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_episode, run_cli

from diffrl_eval.dataset import Episode, load_dataset, write_dataset

FPS = 20
HEIGHT, WIDTH = 48, 64  # not square: a swapped height/width shows
V3_INFO_KEYS = {
    "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks",
    "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits",
    "data_path", "video_path", "features",
}
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
IMAGE_KEY = "observation.images.image"
WRIST_KEY = "observation.images.wrist_image"
STAT_NAMES = {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}


def camera_frames(rng: np.random.Generator, length: int) -> np.ndarray:
    """A bright square moving over a smooth background, (T, H, W, 3) uint8."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = np.empty((length, HEIGHT, WIDTH, 3), dtype=np.uint8)
    offset = rng.integers(0, 20)
    for t in range(length):
        image = np.stack([x * 3, y * 4, np.full_like(x, 90)], axis=-1).astype(np.float64)
        top, left = 8 + (t + offset) % 24, 6 + 2 * ((t + offset) % 20)
        image[top:top + 10, left:left + 12] = (250, 240, 30)
        frames[t] = image.clip(0, 255).astype(np.uint8)
    return frames


@pytest.fixture(scope="module")
def image_dataset(tmp_path_factory) -> Path:
    """5 episodes of 2 tasks with agent-view and wrist images."""
    rng = np.random.default_rng(3)
    episodes = []
    for i in range(5):
        base = make_episode(rng, 12 + 3 * i, task_id=f"task_{i % 2}",
                            instruction=f"do thing {i % 2}", seed=i)
        episodes.append(Episode(
            task_id=base.task_id, instruction=base.instruction, states=base.states,
            eef_pos=base.eef_pos, actions=base.actions, rewards=base.rewards,
            successes=base.successes, seed=i,
            images={"agentview_image": camera_frames(rng, base.length),
                    "wrist_image": camera_frames(rng, base.length)[:, ::-1].copy()},
        ))
    return write_dataset(tmp_path_factory.mktemp("src") / "images", episodes, source="human",
                         backend="tabletop", suite="toy-suite", seed=0)


@pytest.fixture(scope="module")
def exported(image_dataset, tmp_path_factory) -> Path:
    pytest.importorskip("av")
    from diffrl_eval.export.lerobot import export_lerobot

    return export_lerobot(image_dataset, tmp_path_factory.mktemp("out") / "lerobot",
                          show_progress=False)


def source_frames(dataset: Path):
    return load_dataset(dataset).frames_df.sort(["episode_index", "step_index"])


def test_export_writes_the_v3_files(exported):
    expected = {
        "meta/info.json", "meta/stats.json", "meta/tasks.parquet",
        "meta/episodes/chunk-000/file-000.parquet", "data/chunk-000/file-000.parquet",
        f"videos/{IMAGE_KEY}/chunk-000/file-000.mp4", f"videos/{WRIST_KEY}/chunk-000/file-000.mp4",
    }
    written = {str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file()}
    assert expected <= written
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_info_json_has_the_v3_fields_totals_and_features(exported, image_dataset):
    info = json.loads((exported / "meta/info.json").read_text())
    frames = source_frames(image_dataset)
    assert V3_INFO_KEYS <= set(info)
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (5, frames.height, 2)
    assert info["fps"] == FPS
    assert info["splits"] == {"train": "0:5"}
    assert info["data_path"] == DATA_PATH and info["video_path"] == VIDEO_PATH
    assert info["chunks_size"] == 1000
    features = info["features"]
    assert features["observation.state"]["dtype"] == "float32"
    assert features["observation.state"]["shape"] == [8]
    assert len(features["observation.state"]["names"]) == 8
    assert (features["action"]["dtype"], features["action"]["shape"]) == ("float32", [7])
    for key in ("timestamp",):
        assert (features[key]["dtype"], features[key]["shape"]) == ("float32", [1])
    for key in ("frame_index", "episode_index", "index", "task_index"):
        assert (features[key]["dtype"], features[key]["shape"]) == ("int64", [1])
    assert features["next.reward"]["dtype"] == "float32"
    assert features["next.done"]["dtype"] == "bool"
    for key in (IMAGE_KEY, WRIST_KEY):
        video = features[key]
        assert video["dtype"] == "video"
        assert video["shape"] == [HEIGHT, WIDTH, 3]
        assert video["names"] == ["height", "width", "channels"]
        assert video["info"]["video.fps"] == FPS
        assert (video["info"]["video.height"], video["info"]["video.width"]) == (HEIGHT, WIDTH)
        assert video["info"]["video.pix_fmt"] == "yuv420p"
        assert video["info"]["video.codec"] == "av1"
    assert all("/" not in key for key in features)  # LeRobot refuses '/' in feature names


def test_data_columns_types_and_index_ranges(exported, image_dataset):
    info = json.loads((exported / "meta/info.json").read_text())
    table = pq.read_table(exported / DATA_PATH.format(chunk_index=0, file_index=0))
    non_video = [k for k, f in info["features"].items() if f["dtype"] != "video"]
    assert sorted(table.column_names) == sorted(non_video)
    assert table.schema.field("observation.state").type == pa.list_(pa.float32(), 8)
    assert table.schema.field("action").type == pa.list_(pa.float32(), 7)
    assert table.schema.field("timestamp").type == pa.float32()
    for key in ("frame_index", "episode_index", "index", "task_index"):
        assert table.schema.field(key).type == pa.int64()
    data = table.to_pydict()
    frames = source_frames(image_dataset)
    n = frames.height
    np.testing.assert_array_equal(data["index"], np.arange(n))
    np.testing.assert_array_equal(data["episode_index"], frames["episode_index"].to_numpy())
    np.testing.assert_array_equal(data["frame_index"], frames["step_index"].to_numpy())
    np.testing.assert_allclose(data["timestamp"], frames["step_index"].to_numpy() / FPS, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(data["action"], np.float32), frames["action"].to_numpy())
    np.testing.assert_array_equal(np.asarray(data["observation.state"], np.float32),
                                  frames["state"].to_numpy())
    np.testing.assert_array_equal(data["next.reward"], frames["reward"].to_numpy())
    np.testing.assert_array_equal(data["next.done"], frames["done"].to_numpy())
    np.testing.assert_array_equal(data["next.success"], frames["success"].to_numpy())
    tasks = pq.read_table(exported / "meta/tasks.parquet").to_pydict()
    task_of_index = dict(zip(tasks["task_index"], tasks["task"]))
    assert [task_of_index[i] for i in data["task_index"]] == frames["instruction"].to_list()


def test_tasks_parquet_reads_with_pandas_as_lerobot_does(exported):
    pd = pytest.importorskip("pandas")
    tasks = pd.read_parquet(exported / "meta/tasks.parquet")
    assert list(tasks.columns) == ["task_index"]
    assert sorted(tasks.index) == ["do thing 0", "do thing 1"]
    assert int(tasks.loc["do thing 1"].task_index) == tasks.index.get_loc("do thing 1")
    assert tasks.iloc[0].name == "do thing 0"  # first instruction seen gets task 0


def test_episode_metadata_locates_every_episode(exported, image_dataset):
    episodes = pq.read_table(exported / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    lengths = source_frames(image_dataset).group_by("episode_index", maintain_order=True).len()["len"]
    lengths = lengths.to_numpy()
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    assert episodes["episode_index"] == list(range(5))
    assert episodes["length"] == lengths.tolist()
    assert episodes["tasks"] == [[f"do thing {i % 2}"] for i in range(5)]
    assert episodes["dataset_from_index"] == starts.tolist()
    assert episodes["dataset_to_index"] == (starts + lengths).tolist()
    for key in ("data/chunk_index", "data/file_index", "meta/episodes/chunk_index",
                "meta/episodes/file_index"):
        assert episodes[key] == [0] * 5
    for video_key in (IMAGE_KEY, WRIST_KEY):
        assert episodes[f"videos/{video_key}/chunk_index"] == [0] * 5
        assert episodes[f"videos/{video_key}/file_index"] == [0] * 5
        np.testing.assert_allclose(episodes[f"videos/{video_key}/from_timestamp"], starts / FPS)
        np.testing.assert_allclose(episodes[f"videos/{video_key}/to_timestamp"],
                                   (starts + lengths) / FPS)
    assert np.asarray(episodes["stats/action/mean"]).shape == (5, 7)
    assert np.asarray(episodes[f"stats/{IMAGE_KEY}/mean"]).shape == (5, 3, 1, 1)


def test_stats_json_has_every_statistic_with_the_feature_shape(exported, image_dataset):
    stats = json.loads((exported / "meta/stats.json").read_text())
    frames = source_frames(image_dataset)
    actions = frames["action"].to_numpy().astype(np.float64)
    assert set(stats["action"]) == STAT_NAMES
    assert np.asarray(stats["observation.state"]["mean"]).shape == (8,)
    assert stats["action"]["count"] == [frames.height]
    np.testing.assert_allclose(stats["action"]["mean"], actions.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats["action"]["std"], actions.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats["action"]["min"], actions.min(axis=0))
    np.testing.assert_allclose(stats["action"]["q50"], np.median(actions, axis=0), rtol=1e-6)
    for key in (IMAGE_KEY, WRIST_KEY):
        assert set(stats[key]) == STAT_NAMES
        for name in STAT_NAMES - {"count"}:
            value = np.asarray(stats[key][name])
            assert value.shape == (3, 1, 1)
            assert ((0 <= value) & (value <= 1)).all()
    dataset = load_dataset(image_dataset)
    pixels = np.concatenate([dataset.images(e)["agentview_image"] for e in range(5)])
    channels = pixels.reshape(-1, 3) / 255
    np.testing.assert_allclose(np.asarray(stats[IMAGE_KEY]["mean"]).reshape(3),
                               channels.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(np.asarray(stats[IMAGE_KEY]["std"]).reshape(3),
                               channels.std(axis=0), atol=1e-9)
    for name, q in (("q01", 0.01), ("q50", 0.5), ("q99", 0.99)):
        np.testing.assert_allclose(np.asarray(stats[IMAGE_KEY][name]).reshape(3),
                                   np.quantile(channels, q, axis=0), atol=1e-9)
    assert stats[IMAGE_KEY]["count"] == [frames.height]


@pytest.mark.parametrize("seed", [0, 1])
def test_image_statistics_from_pixel_counts_equal_numpy_over_the_pixels(seed):
    from diffrl_eval.export.lerobot_stats import histogram_stats, image_histogram

    rng = np.random.default_rng(seed)
    frames = rng.integers(20, 200, (5, 7, 9, 3), dtype=np.uint8)
    frames[..., 2] = rng.choice([0, 255], (5, 7, 9))  # two-valued channel: quantiles jump
    stats = histogram_stats(image_histogram(frames), n_frames=5)
    pixels = frames.reshape(-1, 3) / 255
    expected = {"min": pixels.min(0), "max": pixels.max(0), "mean": pixels.mean(0),
                "std": pixels.std(0), **{f"q{round(q * 100):02d}": np.quantile(pixels, q, axis=0)
                                         for q in (0.01, 0.1, 0.5, 0.9, 0.99)}}
    for name, value in expected.items():
        np.testing.assert_allclose(stats[name].reshape(3), value, atol=1e-12, err_msg=name)
    assert stats["count"].tolist() == [5]


def test_videos_hold_every_frame_at_its_episode_timestamps(exported, image_dataset):
    from diffrl_eval.export.video import read_video_frames

    dataset = load_dataset(image_dataset)
    episodes = pq.read_table(exported / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    for camera, key in (("agentview_image", IMAGE_KEY), ("wrist_image", WRIST_KEY)):
        decoded = read_video_frames(exported / VIDEO_PATH.format(video_key=key, chunk_index=0,
                                                                 file_index=0))
        source = np.concatenate([dataset.images(e)[camera] for e in range(5)])
        assert decoded.shape == source.shape
        error = np.abs(decoded.astype(float) - source).mean(axis=(1, 2, 3))
        assert error.max() < 8  # grey levels, lossy AV1
        shifted = np.abs(decoded[1:].astype(float) - source[:-1]).mean()
        assert error.mean() < shifted  # each frame sits at its own time, not a neighbour's
        for e in range(5):
            first = round(episodes[f"videos/{key}/from_timestamp"][e] * FPS)
            own = np.abs(decoded[first].astype(float) - dataset.images(e)[camera][0]).mean()
            assert own < 8


def test_h264_is_the_other_codec(image_dataset, tmp_path):
    pytest.importorskip("av")
    from diffrl_eval.export.lerobot import export_lerobot
    from diffrl_eval.export.video import read_video_frames

    out = export_lerobot(image_dataset, tmp_path / "h264", video_codec="h264", show_progress=False)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["features"][IMAGE_KEY]["info"]["video.codec"] == "h264"
    frames = read_video_frames(out / VIDEO_PATH.format(video_key=IMAGE_KEY, chunk_index=0,
                                                       file_index=0))
    assert frames.shape[0] == info["total_frames"]


def test_state_only_dataset_exports_without_videos(toy_dataset, tmp_path, capsys):
    code, out, _ = run_cli(["export", "--format", "lerobot", toy_dataset, tmp_path / "lr"], capsys)
    assert code == 0 and "wrote" in out
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    assert info["video_path"] is None
    assert not [f for f in info["features"].values() if f["dtype"] == "video"]
    assert not (tmp_path / "lr/videos").exists()
    assert info["total_frames"] == load_dataset(toy_dataset).frames_df.height


def test_files_roll_over_when_full_and_episodes_point_at_theirs(toy_dataset, tmp_path, monkeypatch):
    from diffrl_eval.export import lerobot

    monkeypatch.setattr(lerobot, "DATA_FILES_SIZE_IN_MB", 1500 / (1024 * 1024))  # ~2 episodes
    out = lerobot.export_lerobot(toy_dataset, tmp_path / "lr", show_progress=False)
    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert len(set(episodes["data/file_index"])) > 1
    assert episodes["data/file_index"] == sorted(episodes["data/file_index"])
    for e, file_index in enumerate(episodes["data/file_index"]):
        rows = pq.read_table(out / DATA_PATH.format(chunk_index=0, file_index=file_index))
        assert e in set(rows.column("episode_index").to_pylist())
        index = rows.column("index").to_numpy()
        in_episode = index[rows.column("episode_index").to_numpy() == e]
        assert in_episode.tolist() == list(range(episodes["dataset_from_index"][e],
                                                 episodes["dataset_to_index"][e]))


def test_existing_out_is_refused_unless_overwrite(toy_dataset, tmp_path, capsys):
    out = tmp_path / "lr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(["export", toy_dataset, out], capsys)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert (out / "keep.txt").exists()
    code, _, _ = run_cli(["export", toy_dataset, out, "--overwrite"], capsys)
    assert code == 0
    assert not (out / "keep.txt").exists() and (out / "meta/info.json").exists()


def test_overwrite_never_replaces_the_input_dataset(toy_dataset, capsys):
    code, _, err = run_cli(["export", toy_dataset, toy_dataset.parent, "--overwrite"], capsys)
    assert code == 2 and "holds the input" in err
    assert load_dataset(toy_dataset).manifest["n_episodes"] == 6


def test_a_failure_midway_leaves_nothing(toy_dataset, tmp_path, monkeypatch):
    from diffrl_eval.export import lerobot

    calls = []

    def failing_add(self, episode):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return original(self, episode)

    original = lerobot.LeRobotWriter.add_episode
    monkeypatch.setattr(lerobot.LeRobotWriter, "add_episode", failing_add)
    with pytest.raises(RuntimeError, match="disk full"):
        lerobot.export_lerobot(toy_dataset, tmp_path / "exports" / "lr", show_progress=False)
    assert list((tmp_path / "exports").iterdir()) == []


@pytest.mark.parametrize("argv, fragment", [
    (["--format", "rlds"], "unknown export format 'rlds'"),
    (["--video-codec", "vp9"], "unknown video codec 'vp9'"),
])
def test_bad_options_are_one_line_errors(toy_dataset, tmp_path, argv, fragment, capsys):
    code, _, err = run_cli(["export", toy_dataset, tmp_path / "x", *argv], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["export", tmp_path / "nope", tmp_path / "x"], capsys)
    assert code == 2 and "dataset not found" in err


def test_a_failure_while_encoding_video_leaves_nothing(image_dataset, tmp_path, monkeypatch):
    pytest.importorskip("av")
    from diffrl_eval.export import lerobot, video

    original = video.VideoFileWriter.append
    calls = []

    def failing_append(self, frames):
        calls.append(1)
        original(self, frames[: len(frames) // 2])
        if len(calls) == 3:
            raise RuntimeError("encoder failed")
        original(self, frames[len(frames) // 2:])

    monkeypatch.setattr(video.VideoFileWriter, "append", failing_append)
    with pytest.raises(RuntimeError, match="encoder failed"):
        lerobot.export_lerobot(image_dataset, tmp_path / "exports" / "lr", show_progress=False)
    assert list((tmp_path / "exports").iterdir()) == []
