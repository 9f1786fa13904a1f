"""Datasets on disk -> behaviour-cloning samples for a task-agnostic VLA.

Every step of every kept episode (successful ones, by default) becomes one sample: the
observation before the step, the episode's instruction, and the action chunk starting at
the step. The recorded frames hold proprioception but not object poses, so in state mode
the observations are recovered by replaying each episode's actions from its recorded
start (seed and fixed initial state, or the first simulator state of an imported LIBERO
demonstration) in its own environment, the replay the RL experts read too
(:mod:`diffrl_eval.dataset.replay`); a replay whose proprioception differs from the
recording is refused. Recordings observed after each action (LIBERO's files) take their
proprioception from the replay as well, which observes before each action. In image mode
the recorded camera frames are used, resized once here to the size the model reads.

Shape legend: T steps of an episode, N samples, Ta action horizon, Da action dim,
M object slots, S image size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import torch
from torch.nn import functional as F

from diffrl_eval import constants as C
from diffrl_eval.dataset import Dataset, Episode, action_chunks
from diffrl_eval.dataset.replay import replay_observations
from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import DatasetError
from diffrl_eval.metrics.no_op import no_op_mask
from vla.tiny_vla.observation import OBJECT_MASK, OBJECTS, ObservationLayout, object_slots

KEPT = "_kept"


@dataclass
class DemonstrationSamples:
    """Samples of all datasets: ``inputs`` key -> (N, ...) as :func:`stack_observations`
    lays them out, ``instruction_index`` (N,) into ``instructions``, ``action_chunks``
    (N, Ta, Da)."""

    inputs: dict[str, np.ndarray]
    instruction_index: np.ndarray
    instructions: list[str]
    action_chunks: np.ndarray
    n_episodes: int
    task_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.action_chunks.shape[0])


@dataclass
class _RecordedEpisode:
    dataset: Dataset
    episode_index: int
    recording: Episode  # its frames and where it started
    kept: np.ndarray  # (T,) bool: the steps that become samples

    @property
    def task_id(self) -> str:
        return self.recording.task_id

    @property
    def instruction(self) -> str:
        return self.recording.instruction


def _episodes(dataset: Dataset, successful_only: bool,
              drop_no_ops: bool) -> list[_RecordedEpisode]:
    frames = dataset.frames_df.sort(C.COL_EPISODE, C.COL_STEP)
    frames = frames.with_columns(
        pl.Series(KEPT, ~no_op_mask(frames) if drop_no_ops else np.ones(frames.height, bool)))
    episodes = []
    for (index,), rows in frames.group_by([C.COL_EPISODE], maintain_order=True):
        if successful_only and not rows[C.COL_SUCCESS].any():
            continue
        if not rows[KEPT].any():
            continue  # nothing but no-ops: no sample to learn from
        index = int(index)
        recording = dataset.episode(index, rows)
        episodes.append(_RecordedEpisode(dataset, index, recording, rows[KEPT].to_numpy()))
    return episodes


def _replayed_state_observations(
    backend: EnvBackend, episode: _RecordedEpisode, envs: dict[str, object]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the model sees before each of the episode's actions: proprioception (T, 8),
    gripper position (T, 3) and object poses (T, 7 n_objects).

    The object poses come from the replay; the proprioception from the recording when it
    was observed before each action (the replay reproduces it), else from the replay."""
    recording = episode.recording
    env = envs.get(recording.task_id)
    if env is None:
        env = envs[recording.task_id] = backend.make_env(recording.task_id)
    keys = (C.OBS_STATE, C.OBS_EEF_POS, C.OBS_OBJECT_POSES)
    try:
        replayed = replay_observations(backend, recording, keys, env=env)
    except DatasetError as exc:
        raise DatasetError(
            f"{episode.dataset.path}: episode {episode.episode_index}: {exc}") from None
    if recording.obs_after_action:
        return replayed[C.OBS_STATE], replayed[C.OBS_EEF_POS], replayed[C.OBS_OBJECT_POSES]
    return recording.states, recording.eef_pos, replayed[C.OBS_OBJECT_POSES]


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, S, S, 3) uint8, area-averaged when shrinking."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return np.ascontiguousarray(frames)
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    mode = "area" if frames.shape[1] > size else "bilinear"
    resized = F.interpolate(tensor, size=(size, size), mode=mode)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def demonstration_samples(
    datasets: Sequence[Dataset],
    backend: EnvBackend,
    layout: ObservationLayout,
    horizon: int,
    *,
    successful_only: bool = True,
    drop_no_ops: bool = False,
    on_episode=None,
) -> DemonstrationSamples:
    """All samples of ``datasets`` laid out for ``layout``; ``on_episode()`` is called
    after each episode (progress).

    With ``drop_no_ops`` the no-op steps (OpenVLA's rule, :mod:`diffrl_eval.metrics.no_op`)
    are removed from each episode before it is cut into samples, as OpenVLA does with
    LIBERO's demonstrations: an operator's pauses teach a policy to stand still, and
    the chunks then span the motion that follows instead.
    """
    episodes = [e for d in datasets for e in _episodes(d, successful_only, drop_no_ops)]
    if not episodes:
        raise DatasetError("no successful episode to learn from in the given datasets"
                           if successful_only else "the given datasets hold no episodes")
    instructions = sorted({e.instruction for e in episodes})
    instruction_id = {text: i for i, text in enumerate(instructions)}
    inputs: dict[str, list[np.ndarray]] = {C.OBS_STATE: []}
    envs: dict[str, object] = {}
    chunks, instruction_index = [], []
    try:
        for episode in episodes:
            kept, recording = episode.kept, episode.recording
            if layout.mode == "state":
                states, eef_pos, poses = _replayed_state_observations(backend, episode, envs)
                inputs[C.OBS_STATE].append(states[kept])
                slots, mask = object_slots(poses[kept], eef_pos[kept], layout.max_objects)
                inputs.setdefault(OBJECTS, []).append(slots)
                inputs.setdefault(OBJECT_MASK, []).append(mask)
            else:
                inputs[C.OBS_STATE].append(recording.states[kept])
                images = episode.dataset.images(episode.episode_index)
                for camera in layout.cameras:
                    inputs.setdefault(camera, []).append(
                        resize_frames(images[camera][kept], layout.image_size))
            chunks.append(action_chunks(recording.actions[kept], horizon))
            instruction_index.append(
                np.full(int(kept.sum()), instruction_id[episode.instruction]))
            if on_episode is not None:
                on_episode()
    finally:
        for env in envs.values():
            env.close()  # type: ignore[attr-defined]
    return DemonstrationSamples(
        inputs={key: np.concatenate(values) for key, values in inputs.items()},
        instruction_index=np.concatenate(instruction_index).astype(np.int64),
        instructions=instructions,
        action_chunks=np.concatenate(chunks).astype(np.float32),
        n_episodes=len(episodes),
        task_ids=sorted({e.task_id for e in episodes}),
    )


def count_episodes(datasets: Sequence[Dataset], successful_only: bool) -> int:
    """How many episodes :func:`demonstration_samples` will read (for a progress total)."""
    total = 0
    for dataset in datasets:
        per_episode = dataset.frames_df.group_by(C.COL_EPISODE).agg(pl.col(C.COL_SUCCESS).any())
        total += int(per_episode[C.COL_SUCCESS].sum()) if successful_only else per_episode.height
    return total
