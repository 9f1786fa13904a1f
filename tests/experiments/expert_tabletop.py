"""Experiment: BC alone -> after PPO, for the RL experts on tabletop tasks.

Not a test. For each task: behaviour cloning on the task's ``human`` demonstrations,
evaluation on the task's 50 fixed initial states, PPO with periodic evaluation, final
evaluation. Prints one JSON line per evaluation and a summary; ``--out`` keeps them.

    python tests/experiments/expert_tabletop.py --head diffusion --suite tabletop-spatial
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import (
    BCConfig,
    demonstration_set,
    evaluate,
    state_policy_config,
    train_bc,
)
from generators.expert.subprocess_env import default_env_workers
from generators.human import HumanGenerator
from generators.policy import (
    DiffusionChainPolicy,
    GaussianPolicy,
    ValueNetwork,
    load_checkpoint,
    save_checkpoint,
)
from generators.policy.checkpoint import with_sampling_settings
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

HEADS = {"diffusion": DiffusionChainPolicy, "gaussian": GaussianPolicy}
LOGGED = ("iteration", "success_rate", "approx_kl", "element_kl", "clip_fraction",
          "explained_variance", "gradient_agreement", "value_loss", "env_steps", "entropy",
          "stopped_early", "rollout_seconds", "update_seconds", "env_steps_per_second")


def parse_overrides(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        values[key] = json.loads(raw)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--head", choices=sorted(HEADS), default="diffusion")
    parser.add_argument("--suite", default="tabletop-spatial")
    parser.add_argument("--tasks", default="", help="comma-separated task ids (default: suite)")
    parser.add_argument("--demos", type=int, default=20)
    parser.add_argument("--bc-steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--eval-states", type=int, default=50)
    parser.add_argument("--train-states", default="",
                        help="comma-separated fixed initial states to train and evaluate on "
                             "(default: all; evaluation then uses --eval-states)")
    parser.add_argument("--eval-repeats", type=int, default=1,
                        help="episodes per evaluated initial state (different initial noise)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", nargs="*", default=[], help="PolicyConfig key=json")
    parser.add_argument("--ppo", nargs="*", default=[], help="PPOConfig key=json")
    parser.add_argument("--drop-no-ops", action="store_true")
    parser.add_argument("--bc-only", action="store_true")
    parser.add_argument("--bc-cache", type=Path,
                        help="keep each behaviour-cloned policy here and reuse it when the "
                             "same task, demonstrations, steps, seed and policy come again")
    parser.add_argument("--bc-from", type=Path,
                        help="start from this behaviour-cloned checkpoint (e.g. a --bc-cache "
                             "entry); --policy may then change only sampling settings")
    parser.add_argument("--sampled-eval", type=int, default=0,
                        help="also evaluate on this many placements sampled from the task's "
                             "distribution (fixed seed; a second, held-out measure)")
    parser.add_argument("--save-policy", type=Path,
                        help="save the final PPO policy here (one subdirectory per task)")
    parser.add_argument("--env-workers", type=int, default=default_env_workers(),
                        help="PPO's env worker processes (default: one per core)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    torch.set_num_threads(1)
    backend = TabletopBackend()
    tasks = ([backend.task(t) for t in args.tasks.split(",")] if args.tasks
             else backend.tasks(args.suite))
    chosen = [int(i) for i in args.train_states.split(",")] if args.train_states else None
    states = (chosen or list(range(args.eval_states))) * args.eval_repeats
    rows = []

    def log(row):
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.out:
            args.out.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    for task in tasks:
        started = time.perf_counter()
        obs, _ = backend.make_env(task.task_id).reset(seed=0)
        config = state_policy_config(obs, **parse_overrides(args.policy))
        episodes = list(HumanGenerator(backend).generate(task, args.demos, seed=0))
        demos = demonstration_set(backend, episodes, config.n_obs_steps, config.horizon,
                                  drop_no_ops=args.drop_no_ops)
        key = hashlib.sha256(json.dumps(
            [args.head, task.task_id, args.demos, args.bc_steps, args.seed, args.drop_no_ops,
             config.to_dict()], sort_keys=True).encode()).hexdigest()[:16]
        cached = args.bc_cache / key if args.bc_cache else None
        if args.bc_from is not None:
            policy = with_sampling_settings(
                load_checkpoint(args.bc_from, kind=HEADS[args.head].kind), config)
        elif cached is not None and cached.is_dir():
            policy = load_checkpoint(cached, kind=HEADS[args.head].kind, expected_config=config)
        else:
            torch.manual_seed(args.seed)
            policy = HEADS[args.head](config)
            train_bc(policy, demos, BCConfig(gradient_steps=args.bc_steps), seed=args.seed)
            if cached is not None:
                save_checkpoint(cached, policy, overwrite=True)
        bc_seconds = time.perf_counter() - started
        def sampled_success(policy=policy, task=task) -> dict:
            if not args.sampled_eval:
                return {}
            sampled = evaluate(policy, backend, task, [None] * args.sampled_eval, seed=3)
            return {"sampled_success": sampled.success_rate}

        result = evaluate(policy, backend, task, states, seed=1)
        log({"task": task.task_id, "stage": "bc", "success": result.success_rate,
             **sampled_success(),
             "seconds": round(time.perf_counter() - started, 1), "bc_seconds": round(bc_seconds, 1),
             "bc_key": key})
        if args.bc_only:
            continue
        value = ValueNetwork(config)
        value.fit_normalizers(demos.obs)
        ppo = PPOConfig(**parse_overrides(args.ppo))
        trainer = PPOTrainer(policy, value, backend, task, ppo, seed=args.seed,
                             init_state_indices=chosen, env_workers=args.env_workers)
        env_steps, ppo_seconds = 0, 0.0
        try:
            while trainer.iteration < ppo.n_iterations:
                for stats in trainer.train(args.eval_every):
                    env_steps += int(stats["env_steps"])
                    ppo_seconds += stats["rollout_seconds"] + stats["update_seconds"]
                    print(json.dumps({k: round(v, 4) for k, v in stats.items()
                                      if k in LOGGED or k.startswith("clip_fraction_step")}),
                          flush=True)
                result = evaluate(policy, backend, task, states, seed=1)
                log({"task": task.task_id, "stage": "ppo", "iteration": trainer.iteration,
                     "env_steps": env_steps, "ppo_seconds": round(ppo_seconds, 1),
                     "success": result.success_rate, **sampled_success(),
                     "mean_length": sum(result.lengths) / len(result.lengths),
                     "seconds": round(time.perf_counter() - started, 1)})
        finally:
            trainer.close()
        if args.save_policy:
            save_checkpoint(args.save_policy / task.task_id, policy, overwrite=True)


if __name__ == "__main__":
    main()
