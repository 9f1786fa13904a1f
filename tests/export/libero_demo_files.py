"""Demo files written the way LIBERO's dataset script writes them (LIBERO's own files are not
reachable offline): the import, the dataset sources and the bad-input tests read them."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def write_libero_file(path: Path, demos: list[dict], *, instruction="put the bowl on the plate",
                      bddl="chiliocosm/bddl_files/libero_spatial/PUT_BOWL_ON_PLATE.bddl",
                      proprio="split", images=False) -> Path:
    """A demo file laid out as LIBERO's dataset script lays it out.

    Each demo dict holds ``actions`` (T, 7), ``ee_pos`` (T, 3), ``quat`` (T, 4) and
    ``gripper`` (T, 2); ``proprio`` picks which observation keys carry the pose:
    "split" (ee_pos/ee_ori/ee_states), "ee_states" (only ee_states) or "robot_states".
    """
    from diffrl_eval.export.libero_layout import quat_to_axis_angle

    with h5py.File(path, "w") as handle:
        data = handle.create_group("data")
        data.attrs["env_name"] = "Libero_Tabletop_Manipulation"
        data.attrs["problem_info"] = json.dumps({
            "problem_name": "libero_tabletop_manipulation", "domain_name": "robosuite",
            "language_instruction": instruction,
        })
        data.attrs["macros_image_convention"] = "opengl"
        data.attrs["bddl_file_name"] = bddl
        data.attrs["env_args"] = json.dumps({"type": 1, "env_name": "Libero_Tabletop_Manipulation",
                                             "env_kwargs": {"control_freq": 20}})
        total = 0
        for i, demo in enumerate(demos):
            group = data.create_group(f"demo_{i}")
            n = len(demo["actions"])
            ee_ori = quat_to_axis_angle(demo["quat"])
            obs = group.create_group("obs")
            if proprio == "split":
                obs["ee_pos"] = demo["ee_pos"]
                obs["ee_ori"] = ee_ori
            if proprio in ("split", "ee_states"):
                obs["ee_states"] = np.hstack([demo["ee_pos"], ee_ori])
            obs["gripper_states"] = demo["gripper"]
            obs["joint_states"] = np.zeros((n, 7))
            if images:
                obs["agentview_rgb"] = demo["agentview"][:, ::-1]
                obs["eye_in_hand_rgb"] = demo["wrist"][:, ::-1]
            group["actions"] = demo["actions"]
            group["states"] = np.zeros((n, 47))
            group["robot_states"] = np.hstack([demo["gripper"], demo["ee_pos"], demo["quat"]])
            rewards = np.zeros(n, dtype=np.uint8)
            rewards[-1] = 1
            group["rewards"] = rewards
            group["dones"] = rewards.copy()
            group.attrs["num_samples"] = n
            total += n
        data.attrs["num_demos"] = len(demos)
        data.attrs["total"] = total
    return path


def random_demo(rng: np.random.Generator, n: int, images: bool = False) -> dict:
    quat = rng.normal(size=(n, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    demo = {
        "actions": np.hstack([rng.uniform(-1, 1, (n, 6)), rng.choice([-1.0, 1.0], (n, 1))]),
        "ee_pos": rng.normal(size=(n, 3)) * 0.1,
        "quat": quat,
        "gripper": rng.uniform(0, 0.04, (n, 2)),
    }
    if images:
        demo["agentview"] = rng.integers(0, 256, (n, 8, 10, 3), dtype=np.uint8)
        demo["wrist"] = rng.integers(0, 256, (n, 8, 10, 3), dtype=np.uint8)
    return demo
