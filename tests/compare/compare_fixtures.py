"""The tiny compare plan every compare test (and the fault-injection tests) runs: one
in-distribution task, one OOD training task, one zero-shot task, a few episodes, a VLA
that trains in seconds."""

from __future__ import annotations

from pathlib import Path

from diffrl_eval.compare import CompareRun, Preset
from diffrl_eval.envs.tabletop import TabletopBackend

TINY_HPARAMS = {"preset": "quick", "train_steps": 30, "batch_size": 32, "hidden_dim": 32,
                "trunk_blocks": 1, "warmup_steps": 0}


def tiny_plan(out: Path) -> CompareRun:
    from vla.tiny_vla.hparams import resolve_hparams

    preset = Preset(
        name="tiny", in_distribution={"tabletop-spatial": 1}, ood_train=("tabletop-90", 1),
        ood_eval={"tabletop-goal": 1}, episodes_per_task=3, eval_episodes_per_task=2,
        vla_hparams_preset="quick", note="tiny plan for tests",
    )
    backend = TabletopBackend()
    run = CompareRun(["human"], backend, preset, [0], out, resolve_hparams(TINY_HPARAMS))
    # Fig. 7 on the OOD training task, not the report's default (the first task)
    run.variance_task = backend.tasks("tabletop-90")[0].task_id
    return run
