"""Experiment: tiny-vla on tabletop-spatial human data, with and without language.

Not a test. Generates the simulated-teleoperation dataset of tabletop-spatial (50
episodes per task), trains one task-agnostic tiny-vla on it, evaluates it on the 50 fixed
initial states of every task, then does the same with the no-language baseline (the
instruction embedding replaced by a constant; everything else identical). Prints
per-task success with Wilson 95% intervals and the train and eval wall times, and
writes the hparams files, checkpoints and result JSONs under ``--out``.

    nice -n 10 python tests/experiments/vla_spatial.py --out runs/vla-spatial

The equivalent commands::

    diffrl-eval generate --source human --suite tabletop-spatial --episodes 50 --out D
    diffrl-eval vla train --data D --out CKPT --hparams H.json
    diffrl-eval vla eval --ckpt CKPT --suite tabletop-spatial --episodes-per-task 50
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SUITE = "tabletop-spatial"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/vla-spatial"))
    parser.add_argument("--episodes", type=int, default=50, help="demonstrations per task")
    parser.add_argument("--eval-episodes", type=int, default=50, help="episodes per task")
    parser.add_argument("--hparams", type=Path, help="hparams JSON (default: the full preset)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                        help="hparams overrides, applied to both runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator-option", nargs="*", default=[], metavar="KEY=VALUE",
                        help="human generator options (e.g. use_init_states=false)")
    args = parser.parse_args()

    from diffrl_eval.vla.evaluation import evaluate_checkpoint
    from diffrl_eval.vla.training import train_vla
    from vla.tiny_vla.hparams import default_hparams, hparams_hash, load_hparams, resolve_hparams

    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "human"
    if not data.exists():
        command = [sys.executable, "-m", "diffrl_eval", "generate", "--source", "human",
                   "--suite", SUITE, "--episodes", str(args.episodes), "--seed", str(args.seed),
                   "--out", str(data)]
        for option in args.generator_option:
            command += ["--option", option]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"generated {data} in {time.perf_counter() - started:.0f} s", flush=True)

    base = load_hparams(args.hparams) if args.hparams else default_hparams("full")
    for pair in args.set:
        key, _, raw = pair.partition("=")
        base[key] = json.loads(raw)
    runs = {"language": resolve_hparams(base),
            "no-language": resolve_hparams({**base, "language": False})}

    summary = {}
    for name, hparams in runs.items():
        (args.out / f"hparams-{name}.json").write_text(json.dumps(hparams, indent=2) + "\n")
        ckpt = args.out / f"ckpt-{name}"
        started = time.perf_counter()
        train_vla([data], ckpt, hparams=hparams, seed=args.seed, overwrite=True)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = evaluate_checkpoint(ckpt, [SUITE], episodes_per_task=args.eval_episodes,
                                     seed=args.seed)
        eval_seconds = time.perf_counter() - started
        (args.out / f"eval-{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        summary[name] = {"hparams_hash": hparams_hash(hparams), "train_seconds": train_seconds,
                         "eval_seconds": eval_seconds, "result": result}
        overall = result["overall"]
        print(f"{name}: overall {overall['successes']}/{overall['episodes']} "
              f"({overall['rate']:.1%}), train {train_seconds:.0f} s, eval {eval_seconds:.0f} s",
              flush=True)

    print()
    print(f"| task | {' | '.join(summary)} |")
    print(f"|---|{'---|' * len(summary)}")
    tasks = list(summary["language"]["result"]["per_task"])
    for task in [*tasks, "overall"]:
        cells = []
        for entry in summary.values():
            s = entry["result"]["overall" if task == "overall" else "per_task"]
            s = s if task == "overall" else s[task]
            cells.append(f"{s['successes']}/{s['episodes']} ({s['rate']:.0%}) "
                         f"[{s['ci_low']:.0%}, {s['ci_high']:.0%}]")
        print(f"| {task} | {' | '.join(cells)} |")
    for name, entry in summary.items():
        print(f"{name}: hparams {entry['hparams_hash'][:19]}..., train "
              f"{entry['train_seconds']:.0f} s + eval {entry['eval_seconds']:.0f} s")
    (args.out / "summary.json").write_text(json.dumps(
        {name: {k: v for k, v in entry.items() if k != "result"} for name, entry in
         summary.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
