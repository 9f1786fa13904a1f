"""Fine-tune a VLA on datasets and write the checkpoint atomically.

The checkpoint is built in a hidden temporary directory beside ``out`` and renamed into
place only when complete, so an interrupted run never leaves a half-written checkpoint
under its final name. A multi-seed run (:func:`train_vla_seeds`) writes one checkpoint
per seed, ``OUT/seed-<n>``, and appears as a whole at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diffrl_eval import __version__, registry
from diffrl_eval import constants as C
from diffrl_eval.atomic import StagedDirectory, check_writable_parent
from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.dataset import Dataset, load_dataset
from diffrl_eval.documents import VlaCheckpointInfo
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.vla.checkpoint import seed_dir_name, write_info
from diffrl_eval.vla.hparams import hparams_hash
from diffrl_eval.vla.interface import VLA, evaluation_only


def _check_out(out: Path, overwrite: bool) -> Path:
    out = Path(out)
    if out.exists() and not overwrite:
        raise UserError(f"output path already exists: {out} (choose a new path or pass "
                        "--overwrite)")
    check_writable_parent(out)
    return out


def _train_suites(datasets: Sequence[Dataset]) -> list[str]:
    """Suites of the tasks trained on (a dataset's own suite when the backend does not
    know a task)."""
    suites = set()
    backend = get_backend(datasets[0].backend)
    known = {t.task_id: t.suite for t in backend.tasks()}
    for dataset in datasets:
        for task in dataset.manifest["tasks"]:
            suite = known.get(task["task_id"]) or dataset.suite
            if suite:
                suites.add(suite)
    return sorted(suites)


def training_provenance(datasets: Sequence[Dataset], seed: int) -> dict[str, Any]:
    """What the result JSON's ``training`` section says about the data."""
    return {
        "seed": int(seed),
        "datasets": [
            {"path": str(d.path), "source": d.source, "source_label": d.source_label,
             "suite": d.suite, "content_hash": d.content_hash,
             "n_episodes": int(d.manifest.get("n_episodes") or 0)}
            for d in datasets
        ],
        "sources": sorted({d.source for d in datasets}),
        "train_suites": _train_suites(datasets),
        "train_tasks": sorted({t["task_id"] for d in datasets for t in d.manifest["tasks"]}),
    }


def check_compatible(datasets: Sequence[Dataset]) -> tuple[str, int]:
    """The backend and action dim all ``datasets`` share; mixing either is a one-line
    :class:`~diffrl_eval.errors.UserError` (one model acts in one kind of env)."""
    if not datasets:
        raise UserError("no training dataset given")
    backends = {d.backend for d in datasets}
    if len(backends) > 1:
        named = ", ".join(f"{d.path} ({d.backend})" for d in datasets)
        raise UserError(f"training datasets come from different backends: {named}")
    widths = {d.path: _action_width(d) for d in datasets}
    if len(set(widths.values())) > 1:
        named = ", ".join(f"{path} ({width}-D)" for path, width in widths.items())
        raise UserError(f"training datasets have different action dimensions: {named}")
    return backends.pop(), next(iter(widths.values()))


def _action_width(dataset: Dataset) -> int:
    dtype = dataset.frames_df.schema[C.COL_ACTION]
    return int(getattr(dtype, "size", None) or getattr(dtype, "width", 0))


def _load(data_dirs: Sequence[Path]) -> list[Dataset]:
    if not data_dirs:
        raise UserError("give at least one training dataset (--data DIR)")
    datasets = [load_dataset(Path(p)) for p in data_dirs]
    check_compatible(datasets)
    return datasets


def trainable_vla(vla: str) -> type[VLA]:
    """The class of VLA ``vla``; an unknown name or an evaluation-only VLA is a one-line
    error (before any data is read)."""
    cls: type[VLA] = registry.vlas.load(vla)
    if not cls.can_train():
        raise evaluation_only(vla)
    return cls


def _train_into(directory: Path, datasets: Sequence[Dataset], vla: str,
                hparams: dict[str, Any], seed: int, progress: bool, device: str) -> None:
    cls = trainable_vla(vla)
    resolved = cls.resolve_hparams(hparams)
    started = time.perf_counter()
    model = cls().fit(datasets, resolved, seed=seed, progress=progress, device=device)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    write_info(directory, VlaCheckpointInfo(
        vla=vla,
        hparams=resolved,
        hparams_hash=hparams_hash(resolved),
        backend=datasets[0].backend,
        training=training_provenance(datasets, seed),
        device=device,
        train_seconds=round(time.perf_counter() - started, 3),
        tool_version=__version__,
    ))


def train_vla(
    data_dirs: Sequence[Path],
    out: Path,
    *,
    vla: str = DEFAULT_VLA,
    hparams: dict[str, Any] | None = None,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    device: str = "cpu",
) -> Path:
    """Train ``vla`` on the datasets ``data_dirs`` and write its checkpoint to ``out``.

    ``hparams`` may be partial (the VLA completes it with its defaults); the completed
    dictionary and its hash go into the checkpoint. Datasets from different backends or
    with different action dimensions are refused. ``device``: the torch device the VLA
    trains on (resolved: "cpu", "cuda" or "mps"; :func:`diffrl_eval.device.resolve_device`).
    """
    out = _check_out(Path(out), overwrite)
    trainable_vla(vla)  # an unknown or untrainable VLA fails before any data is read
    datasets = _load(data_dirs)
    with StagedDirectory(out, sources=list(data_dirs), overwrite=overwrite) as staged:
        _train_into(staged.path, datasets, vla, dict(hparams or {}), seed, progress, device)
        staged.commit()
    return out


def train_vla_seeds(
    data_dirs: Sequence[Path],
    out: Path,
    *,
    seeds: Sequence[int],
    vla: str = DEFAULT_VLA,
    hparams: dict[str, Any] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    device: str = "cpu",
) -> list[Path]:
    """One checkpoint per seed, ``out/seed-<n>``, with identical data and hparams."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds must list distinct seeds, got {list(seeds)}")
    out = _check_out(Path(out), overwrite)
    trainable_vla(vla)
    datasets = _load(data_dirs)
    with StagedDirectory(out, sources=list(data_dirs), overwrite=overwrite) as staged:
        for seed in seeds:
            _train_into(staged.path / seed_dir_name(seed), datasets, vla, dict(hparams or {}),
                        int(seed), progress, device)
        staged.commit()
    return [out / seed_dir_name(seed) for seed in seeds]
