"""`diffrl-eval render`: an episode as an animated GIF, from recorded frames or by replay."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

from diffrl_eval import constants as C
from diffrl_eval.cli import main
from diffrl_eval.dataset import load_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.tabletop import gl_available

pytestmark = pytest.mark.skipif(not gl_available(), reason="needs an OpenGL backend (EGL)")

TASK = "spatial_left_cube_on_plate"


@pytest.fixture(scope="module")
def dataset_with_images(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "human"
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--source", "human", "--task", TASK, "--episodes", "2", "--images",
              "--image-size", "48", "--out", str(out), "--seed", "4"])
    assert exit_info.value.code == 0
    return out


def test_replaying_an_episode_reproduces_its_recorded_camera_frames(dataset_with_images):
    dataset = load_dataset(dataset_with_images)
    assert dataset.manifest["episode_init_states"] == [0, 1]
    frames = dataset.frames_df.filter(dataset.frames_df[C.COL_EPISODE] == 1)
    recorded = dataset.images(1)[C.OBS_AGENTVIEW_IMAGE]
    replayed = get_backend("tabletop").replay_frames(
        TASK, frames[C.COL_ACTION].to_numpy(), init_state_index=1,
        seed=dataset.manifest["episode_seeds"][1], image_size=48,
    )
    assert replayed.shape == (len(recorded) + 1, 48, 48, 3)
    np.testing.assert_array_equal(replayed[:-1], recorded)


def test_render_writes_a_gif_lasting_one_frame_time_per_recorded_step(dataset_with_images,
                                                                      tmp_path, capsys):
    from PIL import Image  # Pillow decodes the file independently of our encoder

    out = tmp_path / "clip.gif"
    code, stdout, err = run_cli(["render", dataset_with_images, "--episode", "0", "--out", out,
                                 "--camera", C.OBS_WRIST_IMAGE], capsys)
    assert code == 0, err
    n_steps = load_dataset(dataset_with_images).frames_df.filter(
        load_dataset(dataset_with_images).frames_df[C.COL_EPISODE] == 0).height
    with Image.open(out) as gif:
        assert gif.size == (48, 48)
        # Pillow merges repeated frames into one longer frame: the timing is what stays
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
    assert sum(durations) == n_steps * 50  # 20 fps


def test_render_without_recorded_images_replays_the_episode(tmp_path, capsys):
    data = tmp_path / "noimg"
    code, _, err = run_cli(["generate", "--source", "human", "--task", TASK, "--episodes", "1",
                            "--out", data], capsys)
    assert code == 0, err
    out = tmp_path / "replay.gif"
    code, stdout, err = run_cli(["render", data, "--out", out, "--image-size", "32"], capsys)
    assert code == 0, err
    n_steps = load_dataset(data).manifest["n_frames"]
    assert f"({n_steps + 1} frames)" in stdout
    assert out.read_bytes()[:6] == b"GIF89a"


def test_render_writes_an_mp4_that_decodes_to_one_frame_per_recorded_step(
        dataset_with_images, tmp_path, capsys):
    import av

    out = tmp_path / "clip.mp4"
    code, _, err = run_cli(["render", dataset_with_images, "--episode", "0", "--out", out],
                           capsys)
    assert code == 0, err
    frames = load_dataset(dataset_with_images).images(0)[C.OBS_AGENTVIEW_IMAGE]
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == len(frames)
    # lossy, but the picture is the episode's: mean absolute error of a few grey levels
    assert np.abs(np.asarray(decoded, float) - frames).mean() < 12


@pytest.mark.parametrize("args, message", [
    (["--episode", "9"], "--episode must be in [0, 1]"),
    (["--camera", "top"], "unknown camera 'top'"),
])
def test_render_bad_input_is_one_line_and_writes_nothing(dataset_with_images, tmp_path, args,
                                                         message, capsys):
    out = tmp_path / "x.gif"
    code, _, err = run_cli(["render", dataset_with_images, "--out", out, *args], capsys)
    assert code == 2
    assert err.strip().startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_render_refuses_an_unknown_clip_format(dataset_with_images, tmp_path, capsys):
    out = tmp_path / "x.avi"
    code, _, err = run_cli(["render", dataset_with_images, "--out", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown clip format '.avi'" in err and ".gif, .mp4, .webm, .webp" in err
    assert not out.exists()
