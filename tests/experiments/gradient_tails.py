"""Experiment: what the noise in a PPO policy gradient is made of.

Not a test. From the same warmed-up rollout as ``gradient_agreement_scaling.py`` (a
cloned policy, its critic fitted for ``--warmup`` iterations, advantages normalized over
the batch), ``--decisions`` decisions drawn at random each get their own policy gradient
at the rollout's policy (ratio 1): g_i = -A_i * sum_k w_k * d/dtheta mean_elements(log pi_k),
the term one decision adds to an update. Printed:

- how the summed squared norm sum_i |g_i|^2 spreads over decisions (the share of the
  largest 1 / 5 / 10 % of them; its correlation with |A_i|);
- over directions: the share of the trace of sum_i g_i g_i^T in its largest 1 / 5 / 10
  eigen-directions (from the decisions' Gram matrix), and where the largest lives;
- over denoising steps and over parameter groups.

Few dominant decisions or directions mean a few draws decide each update whatever the
batch size; a flat spread means plain averaging would work with enough data.

    python tests/experiments/gradient_tails.py --bc BC_DIR --envs 100 --decisions 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from gradient_agreement_scaling import add_rollout_arguments, warmed_rollout

from generators.ppo.loss import chunk_log_ratio, denoising_discount


def group_of(name: str) -> str:
    """A parameter's group: its first two dotted name parts (e.g. ``decoder.net``)."""
    return ".".join(name.split(".")[:2])


def shares(values: np.ndarray, fractions=(0.01, 0.05, 0.10)) -> dict[str, float]:
    """Share of ``values.sum()`` carried by the largest ``fraction`` of the values."""
    ordered = np.sort(values)[::-1]
    total = ordered.sum()
    return {f"top_{round(f * 100)}pct": round(float(ordered[: max(1, round(f * len(values)))]
                                                   .sum() / total), 4) for f in fractions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_rollout_arguments(parser)
    parser.add_argument("--decisions", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    policy, config, rollout, batch = warmed_rollout(args)
    named = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]
    groups = sorted({group_of(n) for n, _ in named})
    steps = batch.old_log_prob.shape[1]
    weights = denoising_discount(steps, config.gamma_denoise)
    mask = policy.likelihood_mask() if config.executed_likelihood else None
    order = torch.randperm(len(batch), generator=torch.Generator().manual_seed(args.seed + 11))
    chosen = order[: args.decisions]

    rows, step_norms, group_norms, abs_advantage = [], np.zeros((len(chosen), steps)), \
        np.zeros((len(chosen), len(groups))), np.zeros(len(chosen))
    for row, index in enumerate(chosen.tolist()):
        one = batch.select(torch.tensor([index]))
        new_log_prob, _ = policy.log_prob_and_entropy(one.obs, one.records)
        log_ratio = chunk_log_ratio(new_log_prob - one.old_log_prob, mask)[0]  # (K,)
        total = None
        for k in range(steps):
            term = -(one.advantages[0] * weights[k] * log_ratio[k].exp())
            grads = torch.autograd.grad(term, [p for _, p in named], retain_graph=True,
                                        allow_unused=True)
            flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                              for g, (_, p) in zip(grads, named)])
            step_norms[row, k] = float(flat.square().sum())
            total = flat if total is None else total + flat
        offset = 0
        for name, p in named:
            group = groups.index(group_of(name))
            group_norms[row, group] += float(total[offset: offset + p.numel()].square().sum())
            offset += p.numel()
        rows.append(total)
        abs_advantage[row] = float(one.advantages.abs()[0])
    gradients = torch.stack(rows)  # (n, P)
    norms = gradients.square().sum(1).numpy()
    gram = (gradients.double() @ gradients.double().T).numpy()
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    top = torch.from_numpy(eigenvectors[:, 0].copy()).float() @ gradients  # (P,)
    top_groups, offset = np.zeros(len(groups)), 0
    for name, p in named:
        top_groups[groups.index(group_of(name))] += float(top[offset: offset + p.numel()]
                                                         .square().sum())
        offset += p.numel()
    mean = gradients.mean(0)
    print(json.dumps({
        "decisions": len(chosen), "parameters": int(gradients.shape[1]),
        "rollout_success": sum(e.success for e in rollout.episodes) / max(1, len(rollout.episodes)),
        "norm_share_by_decision": shares(norms),
        "norm_vs_abs_advantage_corr": round(float(np.corrcoef(norms, abs_advantage)[0, 1]), 3),
        "top_decisions_abs_advantage": [round(float(a), 2) for a in
                                        abs_advantage[np.argsort(norms)[::-1][:5]]],
        "trace_share_by_direction": shares(np.clip(eigenvalues, 0, None)),
        "top_direction_groups": {g: round(float(v / top_groups.sum()), 3)
                                 for g, v in zip(groups, top_groups)},
        "norm_share_by_step": [round(float(v), 4) for v in
                               step_norms.sum(0) / step_norms.sum()],
        "norm_share_by_group": {g: round(float(v), 4) for g, v in
                                zip(groups, group_norms.sum(0) / group_norms.sum())},
        "signal_to_noise": round(float(mean.square().sum() / norms.mean()), 6),
        "seconds": round(time.perf_counter() - started, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
