"""Peak memory and time of `metrics` on synthetic datasets of growing size.

Writes a LIBERO-like dataset of EPISODES episodes (about 163 frames each) in one process,
then measures it in a fresh one and prints frames, seconds and the measuring process's
peak RSS. The format is a LeRobot v3 directory (tests/benchmarks/libero_sized_lerobot.py)
or, with ``--robomimic``, a folder of 40 robomimic HDF5 files (one per task, as LIBERO
ships them) with robosuite's low-dimensional observations (read episode by episode and
spilled to Parquet parts).

Run: ``python tests/experiments/sources_memory.py 1693 16930 61400``
     ``python tests/experiments/sources_memory.py --robomimic 1693 16930``
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = """
import json, resource, sys, time
from diffrl_eval.dataset.sources import open_source
from diffrl_eval.metrics.source_metrics import measure_source
start = time.perf_counter()
result = measure_source(open_source(sys.argv[1]))
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"frames": result["dataset"]["n_frames"], "episodes": result["dataset"]["n_episodes"],
                  "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib)}))
"""


WRITE_ROBOMIMIC = """
import json, sys
from pathlib import Path
import h5py, numpy as np
rng = np.random.default_rng(0)
folder = Path(sys.argv[1]); folder.mkdir()
episodes = int(sys.argv[2])
for task in range(40):
  with h5py.File(folder / f"task_{task:02d}.hdf5", "w") as f:
    data = f.create_group("data")
    data.attrs["env_args"] = json.dumps({"env_name": f"task_{task:02d}",
                                         "env_kwargs": {"control_freq": 20}})
    for i in range(task * episodes // 40, (task + 1) * episodes // 40):
        n = int(rng.integers(100, 224))
        demo = data.create_group(f"demo_{i}")
        demo.create_dataset("actions", data=rng.uniform(-1, 1, (n, 7)))
        rewards = np.zeros(n); rewards[-1] = 1
        demo.create_dataset("rewards", data=rewards)
        demo.create_dataset("dones", data=rewards.astype(np.int64))
        obs = demo.create_group("obs")
        obs.create_dataset("robot0_eef_pos", data=np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0))
        obs.create_dataset("robot0_eef_quat", data=rng.normal(0, 1, (n, 4)))
        obs.create_dataset("robot0_gripper_qpos", data=rng.uniform(0, 0.04, (n, 2)))
"""

WRITE_LEROBOT = ("import sys; from pathlib import Path; "
                 "from tests.benchmarks.libero_sized_lerobot import write_libero_sized_v3; "
                 "write_libero_sized_v3(Path(sys.argv[1]), n_episodes=int(sys.argv[2]))")


def main(sizes: list[int], robomimic: bool) -> None:
    root = Path(__file__).resolve().parents[2]
    for episodes in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("robomimic" if robomimic else "v3")
            subprocess.run([sys.executable, "-c", WRITE_ROBOMIMIC if robomimic else WRITE_LEROBOT,
                            str(path), str(episodes)], check=True, cwd=root)
            out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], check=True,
                                 cwd=root, capture_output=True, text=True).stdout
            print(json.dumps({"requested_episodes": episodes, **json.loads(out.splitlines()[-1])}),
                  flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main([int(a) for a in args if a != "--robomimic"] or [1693], "--robomimic" in args)
