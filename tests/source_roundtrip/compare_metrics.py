"""The paper's metrics of two metrics JSON files must agree (read back vs this tool's format).

usage: python compare_metrics.py OURS.json READ_BACK.json
"""

from __future__ import annotations

import json
import math
import sys

KEYS = ("success", "trajectory_length", "no_op_count", "mean_squared_jerk",
        "log_dimensionless_jerk", "action_variance")


def flat(value, prefix=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flat(inner, f"{prefix}.{key}")
    else:
        yield prefix, value


def main(ours: str, other: str) -> None:
    a, b = (json.load(open(p))["overall"] for p in (ours, other))
    for key in KEYS:
        for (name, x), (_, y) in zip(flat(a[key], key), flat(b[key], key)):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                if not math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-9):
                    sys.exit(f"FAIL: {name}: {x} (ours) vs {y} (read back)")
            elif x != y:
                sys.exit(f"FAIL: {name}: {x!r} vs {y!r}")
    print(f"ok: {other} matches {ours}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
