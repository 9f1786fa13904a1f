"""Experiment: what the installed gymnasium start-up hook costs an interpreter.

Not a test. Compares two Python executables of the same version, one whose environment has
diffrl-eval installed (with ``diffrl_eval_gymnasium.pth``) and a baseline without it, by
``-X importtime`` (microseconds, cumulative, as Python reports them), runs interleaved:

* ``-c pass``: the ``site`` line (all start-up imports) and the hook's own line;
* ``-c "import gymnasium"``: the ``gymnasium`` line, i.e. gymnasium's import plus the
  registration the hook runs inside it.

Prints one JSON line per measurement with the minimum and median over ``--runs`` runs (the
minimum is the least disturbed by other processes on a shared machine).

    python tests/experiments/gymnasium_startup_cost.py \\
        --with /tmp/gymvenv/bin/python --without /tmp/gymbase/bin/python --runs 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess

HOOK_MODULE = "_diffrl_eval_gymnasium"


def importtime(python: str, code: str) -> dict[str, int]:
    """Cumulative import time (us) of each top-level import line of one run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    err = subprocess.run([python, "-X", "importtime", "-c", code], env=env, check=True,
                         capture_output=True, text=True).stderr
    times: dict[str, int] = {}
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            times[name.strip()] = int(cumulative)
    return times


def summary(values: list[int]) -> dict[str, float]:
    return {"min_us": min(values), "median_us": statistics.median(values), "runs": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with", dest="with_hook", required=True,
                        help="python of an environment with diffrl-eval installed")
    parser.add_argument("--without", required=True, help="python of a baseline environment")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    samples: dict[str, list[int]] = {}
    for _ in range(args.runs):
        for label, python in (("with", args.with_hook), ("without", args.without)):
            start = importtime(python, "pass")
            samples.setdefault(f"site ({label} hook)", []).append(start["site"])
            if label == "with":
                samples.setdefault("hook module", []).append(start.get(HOOK_MODULE, 0))
            gym = importtime(python, "import gymnasium")
            samples.setdefault(f"import gymnasium ({label} hook)", []).append(gym["gymnasium"])
    for name, values in samples.items():
        print(json.dumps({"measure": name, **summary(values)}))


if __name__ == "__main__":
    main()
