"""Load an exported LeRobotDataset v3 with LeRobot itself and compare it with its source.

Runs in LeRobot's own environment (see verify.sh), so it reads the source dataset with
pyarrow and numpy only, not with diffrl-eval. Usage::

    python roundtrip_check.py SOURCE_DATASET LEROBOT_DIR [--backend pyav|torchcodec]...

Exits non-zero with a message on the first mismatch; prints one line per check passed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

# Lossy video: AV1/H.264 at LeRobot's settings stay within a few grey levels on average.
MAX_MEAN_PIXEL_ERROR = 0.04  # on [0, 1] pixel values
CAMERA_FEATURES = {
    "agentview_image": "observation.images.image",
    "wrist_image": "observation.images.wrist_image",
}
ACTION_CHUNK = 8  # future actions per sample, as action-chunking policies (pi0, SmolVLA) ask


def fail(message: str) -> None:
    print(f"FAIL: {message}")
    sys.exit(1)


def passed(message: str) -> None:
    print(f"ok: {message}")


def read_source(path: Path):
    manifest = json.loads((path / "manifest.json").read_text())
    table = pq.read_table(path / "frames.parquet").to_pydict()
    order = np.lexsort((np.asarray(table["step_index"]), np.asarray(table["episode_index"])))
    frames = {k: [v[i] for i in order] for k, v in table.items()}
    images = {}
    for camera in (manifest.get("images") or {}).get("cameras") or []:
        images[camera] = []
    for episode in sorted(set(frames["episode_index"])):
        if images:
            with np.load(path / "images" / f"episode_{episode:06d}.npz") as archive:
                for camera in images:
                    images[camera].append(archive[camera])
    images = {camera: np.concatenate(parts) for camera, parts in images.items()}
    return manifest, frames, images


def check(source: Path, root: Path, backend: str) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    manifest, frames, images = read_source(source)
    n = len(frames["episode_index"])
    dataset = LeRobotDataset("diffrl-eval/roundtrip", root=root, video_backend=backend)
    if len(dataset) != n or dataset.num_frames != n:
        fail(f"{len(dataset)} frames loaded, source has {n}")
    if dataset.num_episodes != manifest["n_episodes"]:
        fail(f"{dataset.num_episodes} episodes loaded, source has {manifest['n_episodes']}")
    instructions = sorted({t["instruction"] for t in manifest["tasks"]})
    if sorted(dataset.meta.tasks.index) != instructions:
        fail(f"tasks {sorted(dataset.meta.tasks.index)} != instructions {instructions}")
    passed(f"[{backend}] {n} frames, {dataset.num_episodes} episodes, {len(instructions)} tasks")

    cameras = [c for c in CAMERA_FEATURES if c in images]
    if sorted(dataset.meta.video_keys) != sorted(CAMERA_FEATURES[c] for c in cameras):
        fail(f"video keys {dataset.meta.video_keys} for cameras {cameras}")
    actions = np.asarray(frames["action"], dtype=np.float32)
    states = np.asarray(frames["state"], dtype=np.float32)
    pixel_errors = {c: [] for c in cameras}
    decoded_frames = {c: [] for c in cameras}
    for i in range(n):
        item = dataset[i]
        if not np.array_equal(item["action"].numpy(), actions[i]):
            fail(f"frame {i}: action {item['action'].numpy()} != {actions[i]}")
        if not np.array_equal(item["observation.state"].numpy(), states[i]):
            fail(f"frame {i}: state differs")
        if item["task"] != frames["instruction"][i]:
            fail(f"frame {i}: task {item['task']!r} != {frames['instruction'][i]!r}")
        if int(item["episode_index"]) != frames["episode_index"][i] or int(
            item["frame_index"]
        ) != frames["step_index"][i]:
            fail(f"frame {i}: episode/frame index differ")
        if float(item["next.reward"]) != np.float32(frames["reward"][i]) or bool(
            item["next.done"]
        ) != frames["done"][i] or bool(item["next.success"]) != frames["success"][i]:
            fail(f"frame {i}: reward/done/success differ")
        for camera in cameras:
            decoded = item[CAMERA_FEATURES[camera]].numpy()  # (3, H, W) float in [0, 1]
            original = images[camera][i].transpose(2, 0, 1) / 255.0
            if decoded.shape != original.shape:
                fail(f"frame {i} {camera}: shape {decoded.shape} != {original.shape}")
            pixel_errors[camera].append(float(np.abs(decoded - original).mean()))
            decoded_frames[camera].append(decoded)
    passed(f"[{backend}] actions, states, tasks, indices, reward/done/success equal on all frames")
    for camera, errors in pixel_errors.items():
        worst = max(errors)
        if worst > MAX_MEAN_PIXEL_ERROR:
            fail(f"{camera}: decoded frame differs from the source by {worst:.4f} on average")
        # the decoded frame is frame i, not a neighbour: shifting by one frame fits worse
        decoded = np.stack(decoded_frames[camera])
        original = images[camera].transpose(0, 3, 1, 2) / 255.0
        shifted = float(np.abs(decoded[1:] - original[:-1]).mean())
        if shifted <= float(np.mean(errors)):
            fail(f"{camera}: decoded frames match the previous source frame as well ({shifted:.4f})")
        passed(f"[{backend}] {camera}: every frame decoded in place: mean abs error "
               f"{np.mean(errors):.4f} (worst frame {worst:.4f}; {shifted:.4f} one frame off)")

    fps = dataset.fps
    chunked = LeRobotDataset(
        "diffrl-eval/roundtrip", root=root, video_backend=backend,
        delta_timestamps={"action": [k / fps for k in range(ACTION_CHUNK)]},
    )
    starts = np.flatnonzero(np.r_[True, np.diff(frames["episode_index"]) != 0])
    ends = np.r_[starts[1:], n]
    last = ends[0] - 1  # last frame of episode 0: all but the first action are padding
    item = chunked[int(last)]
    if item["action"].shape != (ACTION_CHUNK, actions.shape[1]):
        fail(f"action chunk shape {tuple(item['action'].shape)}")
    if item["action_is_pad"].tolist() != [False] + [True] * (ACTION_CHUNK - 1):
        fail(f"action_is_pad at an episode end: {item['action_is_pad'].tolist()}")
    first = chunked[0]
    if not np.array_equal(first["action"].numpy(), actions[:ACTION_CHUNK]):
        fail("action chunk of frame 0 differs from the source's first actions")
    passed(f"[{backend}] action chunks of {ACTION_CHUNK} via delta_timestamps, padded at episode ends")

    import torch

    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)))
    if batch["action"].shape != (4, actions.shape[1]):
        fail(f"batched action shape {tuple(batch['action'].shape)}")
    stats = dataset.meta.stats
    for key in ["observation.state", "action", *(CAMERA_FEATURES[c] for c in cameras)]:
        for name in ("mean", "std", "min", "max", "q01", "q99"):
            if name not in stats.get(key, {}):
                fail(f"stats.json lacks {key}/{name}")
    if not np.allclose(stats["action"]["mean"], actions.mean(axis=0), atol=1e-5):
        fail("stats.json action mean differs from the source's")
    passed(f"[{backend}] DataLoader batches; stats.json has mean/std/min/max/quantiles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("lerobot_dir", type=Path)
    parser.add_argument("--backend", action="append", choices=["pyav", "torchcodec"])
    args = parser.parse_args()
    versions = {
        name: importlib.metadata.version(name)
        for name in ("lerobot", "torch", "torchvision", "torchcodec", "av", "datasets")
    }
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for backend in args.backend or ["pyav", "torchcodec"]:
        check(args.source, args.lerobot_dir, backend)
    print("LEROBOT ROUND TRIP PASSED")


if __name__ == "__main__":
    main()
