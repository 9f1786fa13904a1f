"""Peak memory and time of `metrics` on synthetic LeRobot v3 datasets of growing size.

Writes a LIBERO-like v3 dataset (tests/benchmarks/libero_sized_lerobot.py) of EPISODES
episodes (about 163 frames each) in one process, then measures it in a fresh one and
prints frames, seconds and the measuring process's peak RSS.

Run: ``python tests/experiments/sources_memory.py 1693 16930 61400``
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


def main(sizes: list[int]) -> None:
    root = Path(__file__).resolve().parents[2]
    for episodes in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "v3"
            subprocess.run([sys.executable, "-c",
                            "import sys; from pathlib import Path; "
                            "from tests.benchmarks.libero_sized_lerobot import write_libero_sized_v3; "
                            "write_libero_sized_v3(Path(sys.argv[1]), n_episodes=int(sys.argv[2]))",
                            str(path), str(episodes)], check=True, cwd=root)
            out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], check=True,
                                 cwd=root, capture_output=True, text=True).stdout
            print(json.dumps({"requested_episodes": episodes, **json.loads(out.splitlines()[-1])}),
                  flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1693])
