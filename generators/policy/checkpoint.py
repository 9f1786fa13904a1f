"""Saving and loading policies: safetensors weights plus a JSON config, never pickle.

A checkpoint is a directory with ``config.json`` (format version, the model's kind, its
:class:`PolicyConfig`, and the name and shape of every tensor) and
``weights.safetensors`` (parameters and normalizer statistics). Loading rebuilds the
model from the config and refuses, with a one-line :class:`UserError`, anything that
does not match: missing files, unreadable JSON or weights, weights whose SHA-256 differs
from the one ``config.json`` records (a damaged file), a different kind or config than the
caller expects, missing/extra/reshaped tensors, non-finite values (refused at save too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save

from diffrl_eval.atomic import write_bytes_atomic, write_text_atomic
from diffrl_eval.documents import DocumentKind
from diffrl_eval.errors import UserError
from diffrl_eval.validation import JsonMessages, read_versioned_json
from generators.policy.config import PolicyConfig
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy
from generators.policy.value import ValueNetwork

CONFIG_DOCUMENT = DocumentKind("diffrl-eval-policy", 1, kind_key="format",
                               version_key="format_version")
FORMAT, FORMAT_VERSION = CONFIG_DOCUMENT.name, CONFIG_DOCUMENT.version
_CONFIG_MESSAGES = JsonMessages.checkpoint("policy checkpoint", "corrupted checkpoint config",
                                           "checkpoint config", "format version")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
MODEL_KINDS = {
    DiffusionChainPolicy.kind: DiffusionChainPolicy,
    GaussianPolicy.kind: GaussianPolicy,
    ValueNetwork.kind: ValueNetwork,
}


def save_checkpoint(directory: Path, model: Any, *, overwrite: bool = False) -> Path:
    """Write ``model`` (a policy or value network) to ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()
    }
    _check_finite(state, f"{model.kind} model to be saved in {directory}")
    weights = save(state)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "config": model.config.to_dict(),
        "tensors": {name: list(tensor.shape) for name, tensor in state.items()},
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    write_bytes_atomic(directory / WEIGHTS_FILE, weights, overwrite=overwrite)
    write_text_atomic(
        directory / CONFIG_FILE, json.dumps(manifest, indent=2, sort_keys=True), overwrite=overwrite
    )
    return directory


def _check_finite(state: dict[str, Any], what: str) -> None:
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise UserError(f"{what}: tensor {name} holds NaN or infinite values")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The checkpoint's ``config.json``, validated for format and version."""
    return read_versioned_json(Path(directory) / CONFIG_FILE, CONFIG_DOCUMENT, _CONFIG_MESSAGES)


def load_checkpoint(
    directory: Path, *, kind: str | None = None, expected_config: PolicyConfig | None = None
) -> Any:
    """Rebuild the saved model (in eval mode) and load its weights.

    ``kind`` ("diffusion", "gaussian", "value") and ``expected_config`` make the load fail
    when the checkpoint is not the architecture the caller is about to use.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    saved_kind = manifest.get("kind")
    if saved_kind not in MODEL_KINDS:
        raise UserError(f"checkpoint {directory} has unknown model kind {saved_kind!r}")
    if kind is not None and saved_kind != kind:
        raise UserError(f"checkpoint {directory} holds a {saved_kind} model, not a {kind} model")
    config = PolicyConfig.from_dict(manifest.get("config") or {})
    if expected_config is not None and config != expected_config:
        differing = sorted(
            key
            for key, value in expected_config.to_dict().items()
            if config.to_dict().get(key) != value
        )
        raise UserError(
            f"checkpoint {directory} was saved with a different config ({', '.join(differing)})"
        )
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise UserError(f"checkpoint {directory} has no {WEIGHTS_FILE}")
    recorded = manifest.get("weights_sha256")
    if recorded is not None and hashlib.sha256(weights_path.read_bytes()).hexdigest() != recorded:
        raise UserError(f"corrupted checkpoint weights {weights_path}: its SHA-256 differs from "
                        f"the one {CONFIG_FILE} records (retrain, or delete the checkpoint)")
    try:
        state = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"corrupted checkpoint weights {weights_path}: {exc}") from None
    _check_finite(state, f"checkpoint {directory}")
    model = MODEL_KINDS[saved_kind](config)
    expected = {name: list(t.shape) for name, t in model.state_dict().items()}
    found = {name: list(t.shape) for name, t in state.items()}
    if found != expected or manifest.get("tensors") != expected:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        reshaped = sorted(n for n in set(found) & set(expected) if found[n] != expected[n])
        detail = (
            "; ".join(
                f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                for label, names in (
                    ("missing", missing),
                    ("unexpected", extra),
                    ("reshaped", reshaped),
                )
                if names
            )
            or "tensor list differs from config.json"
        )
        raise UserError(f"checkpoint {directory} does not match its architecture ({detail})")
    model.load_state_dict(state, strict=True)
    return model.eval()


# PolicyConfig fields that decide how RL samples and scores the chain, not what behaviour
# cloning learnt: a cloned policy can be rebuilt with other values of these
SAMPLING_FIELDS = ("rl_eta", "min_std", "max_std", "rl_init_std", "noise_clip",
                   "ft_denoising_steps", "frozen_steps_deterministic", "noise_time_correlation")


def with_sampling_settings(policy: Any, config: PolicyConfig) -> Any:
    """``policy`` rebuilt with ``config``, which may differ from its own only in
    :data:`SAMPLING_FIELDS` (otherwise a one-line :class:`UserError`); a frozen copy for
    ``ft_denoising_steps`` is taken from the weights at once. Returned in eval mode."""
    saved, wanted = policy.config.to_dict(), config.to_dict()
    differing = sorted(k for k in wanted
                       if saved.get(k) != wanted[k] and k not in SAMPLING_FIELDS)
    if differing:
        raise UserError(f"the policy differs in more than sampling settings: "
                        f"{', '.join(differing)}")
    rebuilt = type(policy)(config)
    state = {k: v for k, v in policy.state_dict().items() if not k.startswith("base_")}
    missing, unexpected = rebuilt.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("base_") for k in missing):
        raise UserError(f"weights do not fit the rebuilt policy: {missing} {unexpected}")
    if hasattr(rebuilt, "start_fine_tuning"):
        rebuilt.start_fine_tuning()
    return rebuilt.eval()
