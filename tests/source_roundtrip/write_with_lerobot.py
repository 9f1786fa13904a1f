"""Write one of our datasets with LeRobot's own writer (LeRobotDataset.create/add_frame/
save_episode), in LeRobot's environment (see verify.sh). Reads our frames with pyarrow.

usage: python write_with_lerobot.py SOURCE_DATASET OUT_ROOT FPS
Writes the codebase version of the installed LeRobot (v2.1 with 0.3.x, v3.0 with 0.4.x).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

try:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
except ImportError:  # older layouts of the package
    from lerobot.common.datasets.lerobot_dataset import LeRobotDataset


def main(source: Path, out: Path, fps: int) -> None:
    table = pq.read_table(source / "frames.parquet").to_pydict()
    features = {
        "observation.state": {"dtype": "float32", "shape": (8,), "names": None},
        "action": {"dtype": "float32", "shape": (7,), "names": None},
        # the goal predicate after the step, as our exporter names it
        "next.success": {"dtype": "bool", "shape": (1,), "names": None},
    }
    dataset = LeRobotDataset.create(repo_id="local/roundtrip", fps=fps, features=features,
                                    root=out, robot_type="panda", use_videos=False)
    takes_task = "task" in inspect.signature(dataset.add_frame).parameters
    episodes = np.asarray(table["episode_index"])
    order = np.lexsort((np.asarray(table["step_index"]), episodes))
    current = None
    for row in order:
        if current is not None and episodes[row] != current:
            dataset.save_episode()
        current = episodes[row]
        frame = {"observation.state": np.asarray(table["state"][row], np.float32),
                 "action": np.asarray(table["action"][row], np.float32),
                 "next.success": np.asarray([table["success"][row]], bool)}
        if takes_task:  # LeRobot 0.3.x (v2.1): the task is an argument
            dataset.add_frame(frame, task=table["instruction"][row])
        else:  # LeRobot 0.4.x (v3.0): the task is part of the frame
            dataset.add_frame({**frame, "task": table["instruction"][row]})
    dataset.save_episode()
    if hasattr(dataset, "finalize"):
        dataset.finalize()
    print(f"wrote {out} with LeRobot's writer")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
