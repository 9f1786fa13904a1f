"""Camera images of the tabletop env and episode rendering (skipped without a GL backend)."""

from __future__ import annotations

import numpy as np
import pytest

from diffrl_eval.constants import CAMERA_KEYS, OBS_AGENTVIEW_IMAGE, OBS_WRIST_IMAGE
from diffrl_eval.envs.tabletop import (
    INIT_STATE_OPTION,
    TabletopBackend,
    gl_available,
    render_episode,
    rendering,
    write_gif,
)
from diffrl_eval.errors import UserError

needs_gl = pytest.mark.skipif(not gl_available(), reason="no OpenGL backend")


@needs_gl
@pytest.mark.parametrize("size", [64, 96])
def test_camera_images_are_non_blank_and_the_requested_size(size):
    env = TabletopBackend().make_env("goal_open_drawer", images=True, image_size=size)
    try:
        obs, _ = env.reset(seed=0, options={INIT_STATE_OPTION: 0})
        assert env.observation_space.contains(obs)
        for key in CAMERA_KEYS:
            image = obs[key]
            assert image.shape == (size, size, 3) and image.dtype == np.uint8
            assert image.std() > 10  # a scene, not a flat colour
        moved, *_ = env.step(np.array([0.0, 0.0, -1.0, 0, 0, 0, -1.0]))
        assert not np.array_equal(moved[OBS_WRIST_IMAGE], obs[OBS_WRIST_IMAGE])
    finally:
        env.close()


@needs_gl
def test_render_episode_replays_actions_into_frames_and_a_gif(tmp_path):
    actions = np.tile([0.5, 0.0, -0.3, 0, 0, 0, -1.0], (5, 1))
    frames = render_episode("spatial_left_cube_on_plate", actions, init_state_index=0,
                            image_size=64)
    assert frames.shape == (6, 64, 64, 3)
    assert not np.array_equal(frames[0], frames[-1])
    path = write_gif(frames, tmp_path / "episode.gif", fps=20)
    assert path.read_bytes()[:6] == b"GIF89a"


def test_clips_decode_to_the_input_frames(tmp_path):
    import av
    from PIL import Image

    from diffrl_eval.clip import write_clip

    # a smooth picture (lossy codecs are made for those), odd-sized to exercise the padding
    y, x = np.mgrid[0:21, 0:34]
    frames = np.stack([np.stack([(x * 7 + 10 * t) % 256, y * 12, np.full_like(x, 128)], -1)
                       for t in range(3)]).astype(np.uint8)
    for suffix, tolerance in ((".gif", 8), (".webp", 12)):
        with Image.open(write_clip(frames, tmp_path / f"clip{suffix}")) as clip:
            assert (clip.n_frames, clip.size) == (3, (34, 21))
            for i in range(3):
                clip.seek(i)
                decoded = np.asarray(clip.convert("RGB"), dtype=float)
                assert np.abs(decoded - frames[i]).mean() < tolerance, suffix
    for suffix in (".mp4", ".webm"):
        with av.open(str(write_clip(frames, tmp_path / f"clip{suffix}"))) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(decoded) == 3 and decoded[0].shape == (22, 34, 3)  # padded to even


def test_images_without_a_gl_backend_are_a_one_line_user_error(monkeypatch):
    monkeypatch.setattr(rendering, "gl_available", lambda: False)
    with pytest.raises(UserError, match="OpenGL") as caught:
        TabletopBackend().make_env("goal_open_drawer", images=True)
    assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="OpenGL"):
        render_episode("goal_open_drawer", np.zeros((1, 7)), init_state_index=0)


def test_render_episode_rejects_unknown_cameras_and_malformed_actions():
    with pytest.raises(UserError, match="unknown camera"):
        render_episode("goal_open_drawer", np.zeros((1, 7)), camera="top")
    with pytest.raises(UserError, match="actions must have shape"):
        render_episode("goal_open_drawer", np.zeros((3, 6)), camera=OBS_AGENTVIEW_IMAGE)


@needs_gl
def test_teleoperator_records_camera_frames_when_asked():
    from generators.human import HumanGenerator

    backend = TabletopBackend()
    generator = HumanGenerator(backend, env_options={"images": True, "image_size": 32})
    (episode,) = generator.generate(
        backend.task("goal_open_drawer"), 1, seed=0)
    assert set(episode.images) == set(CAMERA_KEYS)
    for frames in episode.images.values():
        assert frames.shape == (episode.length, 32, 32, 3) and frames.dtype == np.uint8
