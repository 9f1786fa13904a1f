"""Action sampling speed: DDIM with 5 steps against DDPM with all 100, same network and batch.

The policy is the default diffusion policy (1-D U-Net 64/128/256 over a Ta=16, Da=7 chunk,
state-only MLP encoder); the batch is one observation per parallel environment (50). DDPM
is timed once as the baseline in the same session, on one CPU core; DDIM through
pytest-benchmark. The bar is a 15x speed-up (20x fewer network calls, less the encoder
and per-call overheads).

Run: ``pytest tests/benchmarks/test_bench_sampling.py --benchmark-only -p no:cacheprovider``
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import torch

from diffrl_eval.constants import OBS_STATE
from generators.policy.config import PolicyConfig
from generators.policy.diffusion_likelihood import DiffusionChainPolicy

BATCH = 50
REQUIRED_SPEEDUP = 15.0


@contextmanager
def one_core():
    """One CPU core and one torch thread for the measurements (where the OS allows it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    before = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    if before is not None:
        os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
        torch.set_num_threads(threads)


def test_ddim_5_samples_actions_at_least_15x_faster_than_ddpm_100(benchmark):
    torch.manual_seed(0)
    config = PolicyConfig()
    policy = DiffusionChainPolicy(config).eval()
    obs = {OBS_STATE: torch.randn(BATCH, config.n_obs_steps, config.proprio_dim)}

    def ddim() -> torch.Tensor:
        return policy.sample(obs, sampler="ddim", denoising_steps=5, eta=0.0)

    with one_core():
        ddim()  # warm-up (allocator, diffusers import)
        start = time.perf_counter()
        ddpm_chunk = policy.sample(obs, sampler="ddpm")
        ddpm_s = time.perf_counter() - start
        ddim_chunk = benchmark.pedantic(ddim, rounds=5, iterations=1, warmup_rounds=1)
    ddim_s = benchmark.stats.stats.median
    speedup = ddpm_s / ddim_s
    benchmark.extra_info.update(
        batch=BATCH,
        ddim_steps=5,
        ddpm_steps=config.train_denoising_steps,
        ddim_median_s=ddim_s,
        ddpm_s=ddpm_s,
        speedup=speedup,
    )
    print(
        f"\nDDIM-5 {ddim_s * 1e3:.1f} ms (median of 5), DDPM-100 {ddpm_s * 1e3:.1f} ms, "
        f"speed-up {speedup:.1f}x for a batch of {BATCH} chunks"
    )
    assert ddim_chunk.shape == ddpm_chunk.shape == (BATCH, config.horizon, config.action_dim)
    assert speedup >= REQUIRED_SPEEDUP
