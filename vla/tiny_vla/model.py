"""tiny-vla: a compact vision-language-action model that trains on a CPU.

Language: the frozen all-MiniLM-L6-v2 embedding (384-d) of the instruction, through a
small MLP, modulates every block of the trunk (FiLM). With ``language: false`` in the
hparams the embedding is replaced by a constant, which gives the no-language baseline
with the same architecture. Vision: a ResNet-style encoder (GroupNorm) per camera
(agent view, wrist) when the data has images; otherwise proprioception plus padded
object poses (:mod:`vla.tiny_vla.observation`). Head: an action chunk by L1 regression (default)
or by a diffusion head (:mod:`vla.tiny_vla.heads`). One model serves every task it was trained on:
which task to do comes from the instruction.

A checkpoint directory holds ``model.safetensors`` (network weights and the cached
instruction embeddings) and ``config.json`` (hparams, observation layout, normalizer
statistics, the instructions in embedding order, and every tensor's shape).

Shape legend: B batch, N samples, Ta action horizon, Da action dim, E = 384 embedding
width, H trunk width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from diffrl_eval import constants as C
from diffrl_eval.dataset import Dataset
from diffrl_eval.device import torch_threads
from diffrl_eval.documents import DocumentKind
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.progress import progress_bar
from diffrl_eval.validation import JsonMessages, dumps_json, read_versioned_json
from diffrl_eval.vla.interface import VLA, WEIGHTS_FILE
from diffrl_eval.vla.training import check_compatible
from vla.tiny_vla.heads import DiffusionChunkHead, L1ChunkHead
from vla.tiny_vla.hparams import PRESETS, TinyVLAHparams, resolve_hparams
from vla.tiny_vla.language import (
    EMBEDDING_DIM,
    ENCODER_NAME,
    EmbeddingNormalizer,
    encode_instructions,
)
from vla.tiny_vla.observation import (
    OBJECT_MASK,
    OBJECTS,
    SLOT_DIM,
    ActionScaler,
    ObservationLayout,
    Standardizer,
    stack_observations,
)
from vla.tiny_vla.samples import (
    count_episodes,
    demonstration_samples,
    resize_frames,
)
from vla.tiny_vla.trunk import FiLMTrunk
from vla.tiny_vla.vision import ResNetEncoder, random_shift

CONFIG_FILE = "config.json"
CONFIG_DOCUMENT = DocumentKind("diffrl-eval-vla", 1, kind_key="format",
                               version_key="format_version")
_CONFIG_MESSAGES = JsonMessages.checkpoint("tiny-vla checkpoint", "corrupt checkpoint config",
                                           "config", "format version")
EMBEDDINGS_TENSOR = "instruction_embeddings"
CAMERA_FEATURES = 128


class TinyVLANetwork(nn.Module):
    """Normalized observation inputs and instruction embeddings -> action chunks."""

    def __init__(self, hp: TinyVLAHparams, layout: ObservationLayout, action_dim: int) -> None:
        super().__init__()
        self.use_language = hp.language
        self.layout = layout
        if layout.mode == "state":
            observation_dim = C.STATE_DIM + layout.max_objects * (SLOT_DIM + 1)
            self.cameras = nn.ModuleDict()
        else:
            self.cameras = nn.ModuleDict({
                camera: ResNetEncoder(layout.image_size, hp.vision_channels,
                                      hp.group_norm_groups, CAMERA_FEATURES)
                for camera in layout.cameras
            })
            observation_dim = C.STATE_DIM + CAMERA_FEATURES * len(layout.cameras)
        self.language = nn.Sequential(
            nn.Linear(EMBEDDING_DIM, hp.hidden_dim), nn.GELU(),
            nn.Linear(hp.hidden_dim, hp.hidden_dim),
        )
        self.trunk = FiLMTrunk(observation_dim, hp.hidden_dim, hp.hidden_dim,
                               hp.trunk_blocks, hp.dropout)
        if hp.head == "l1":
            self.head: nn.Module = L1ChunkHead(hp.hidden_dim, hp.chunk_size, action_dim)
        else:
            self.head = DiffusionChunkHead(hp.hidden_dim, hp.chunk_size, action_dim,
                                           hp.diffusion_train_steps, hp.denoising_steps)

    def features(self, inputs: dict[str, torch.Tensor], table: torch.Tensor,
                 index: torch.Tensor) -> torch.Tensor:
        """Model inputs (normalized low-dim, uint8 images) -> trunk features (B, H).

        ``table`` (K, E) holds the normalized embeddings of the K distinct instructions of
        the batch and ``index`` (B,) picks each sample's: the language path runs once per
        distinct instruction, not once per sample.
        """
        parts = [inputs[C.OBS_STATE]]
        if self.layout.mode == "state":
            parts += [inputs[OBJECTS], inputs[OBJECT_MASK]]
        else:
            parts += [self.cameras[camera](inputs[camera]) for camera in self.layout.cameras]
        if not self.use_language:
            table = torch.zeros_like(table)  # the same constant for every task
        return self.trunk(torch.cat(parts, -1), self.language(table), index)


class TinyVLA(VLA):
    """Compact language-conditioned policy: MiniLM instruction FiLM, ResNet or state input,
    action chunk by L1 regression or diffusion."""

    name: ClassVar[str] = "tiny-vla"
    description: ClassVar[str] = (
        "compact CPU VLA: frozen MiniLM instruction embedding (FiLM), GroupNorm ResNet on "
        "agent-view + wrist cameras or state-only, action-chunk L1 or diffusion head"
    )
    hparams_presets: ClassVar[tuple[str, ...]] = PRESETS
    observation_keys: ClassVar[tuple[str, ...]] = (C.OBS_STATE,)

    def __init__(self) -> None:
        self.hparams: dict[str, Any] | None = None
        self.layout: ObservationLayout | None = None
        self.action_dim = C.ACTION_DIM
        self.normalizers: dict[str, Any] = {}
        self.instructions: list[str] = []
        self._embeddings: dict[str, np.ndarray] = {}
        self.network: TinyVLANetwork | None = None
        self.device = torch.device("cpu")  # where the network and its inputs live

    # --- properties ----------------------------------------------------------------------
    @property
    def _hp(self) -> TinyVLAHparams:
        if self.hparams is None:
            raise RuntimeError("tiny-vla is not trained: call fit() or load() first")
        return TinyVLAHparams.from_dict(self.hparams)

    @property
    def executed_steps(self) -> int:
        return self._hp.executed_steps

    def env_options(self) -> dict[str, Any]:
        assert self.layout is not None
        return self.layout.env_options()

    def check_observation_space(self, space: Any, task_id: str) -> None:
        assert self.layout is not None
        self.layout.check_space(space, task_id)

    # --- training --------------------------------------------------------------------------
    @classmethod
    def resolve_hparams(cls, hparams: dict[str, Any] | None) -> dict[str, Any]:
        return resolve_hparams(hparams)

    def fit(self, datasets: Sequence[Dataset], hparams: dict[str, Any], *, seed: int = 0,
            progress: bool = True, device: str = "cpu") -> TinyVLA:
        """Random draws (batches, augmentation, diffusion noise) come from a CPU generator
        on every device, so a seed draws the same batches on a GPU as on the CPU."""
        self.hparams = resolve_hparams(hparams)
        self.device = torch.device(device)
        hp = self._hp
        backend_name, self.action_dim = check_compatible(datasets)
        self.layout = _choose_layout(datasets, hp)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        with self._threads():
            self._fit(datasets, backend_name, hp, generator, progress)
        return self

    @contextmanager
    def _threads(self):
        """One intra-op thread in state mode: matrices this small gain nothing from
        threads, and on a shared machine the threads' spin-waiting made training steps
        and predictions several times (up to 100x) slower."""
        one = self.layout is not None and self.layout.mode == "state" \
            and self.device.type == "cpu"
        with torch_threads(1 if one else None):
            yield

    def _fit(self, datasets, backend_name: str, hp: TinyVLAHparams, generator,
             progress: bool) -> None:
        assert self.layout is not None
        with progress_bar() as bars:
            n_episodes = count_episodes(datasets, hp.successful_only)
            reading = bars.add_task("tiny-vla data", total=n_episodes, status="",
                                    visible=progress)
            samples = demonstration_samples(
                datasets, get_backend(backend_name), self.layout, hp.chunk_size,
                successful_only=hp.successful_only, drop_no_ops=hp.drop_no_ops,
                on_episode=lambda: bars.update(reading, advance=1),
            )
            self.instructions = samples.instructions
            table = encode_instructions(self.instructions)
            self._embeddings = dict(zip(self.instructions, table))
            inputs = self._fit_normalizers(samples)
            self.normalizers["language"] = EmbeddingNormalizer.fit(table)
            chunks = torch.from_numpy(
                self.normalizers["action"].normalize(samples.action_chunks)).to(self.device)
            instruction_index = torch.from_numpy(samples.instruction_index).to(self.device)
            inputs = {key: value.to(self.device) for key, value in inputs.items()}

            self.network = TinyVLANetwork(hp, self.layout, self.action_dim).to(self.device)
            training = bars.add_task("tiny-vla train", total=hp.train_steps, status="",
                                     visible=progress)
            language = torch.from_numpy(
                self.normalizers["language"].normalize(table)).to(self.device)
            self._train(inputs, language, instruction_index, chunks, hp,
                        generator,
                        lambda step, loss: bars.update(
                            training, completed=step, status=f"loss {loss:.4f}"))

    def _fit_normalizers(self, samples) -> dict[str, torch.Tensor]:
        """Fit the normalizers on the samples; returns the normalized model inputs."""
        assert self.layout is not None
        state = samples.inputs[C.OBS_STATE]
        self.normalizers = {
            "state": Standardizer.fit(state),
            "action": ActionScaler.fit(samples.action_chunks),
        }
        inputs = {C.OBS_STATE: torch.from_numpy(self.normalizers["state"].normalize(state))}
        if self.layout.mode == "state":
            mask = samples.inputs[OBJECT_MASK]
            present = np.repeat(mask, SLOT_DIM, axis=1).astype(bool)
            self.normalizers["objects"] = Standardizer.fit(samples.inputs[OBJECTS], present)
            inputs[OBJECTS] = torch.from_numpy(self._normalize_objects(samples.inputs[OBJECTS],
                                                                       mask))
            inputs[OBJECT_MASK] = torch.from_numpy(mask)
        else:
            for camera in self.layout.cameras:
                inputs[camera] = torch.from_numpy(samples.inputs[camera])
        return inputs

    def _normalize_objects(self, slots: np.ndarray, mask: np.ndarray) -> np.ndarray:
        normalized = self.normalizers["objects"].normalize(slots)
        return normalized * np.repeat(mask, SLOT_DIM, axis=1)  # empty slots stay exactly 0

    def _train(self, inputs, table, instruction_index, chunks, hp: TinyVLAHparams, generator,
               report) -> None:
        assert self.network is not None
        network = self.network
        network.train()
        optimizer = torch.optim.AdamW(network.parameters(), lr=hp.learning_rate,
                                      weight_decay=hp.weight_decay,
                                      fused=self.device.type in ("cpu", "cuda"))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: _warmup_cosine(step, hp.warmup_steps, hp.train_steps))
        n = chunks.shape[0]
        running = None
        for step in range(1, hp.train_steps + 1):
            index = torch.randint(0, n, (min(hp.batch_size, n),),
                                  generator=generator).to(self.device)
            batch = {key: value[index] for key, value in inputs.items()}
            batch = self._augment(batch, hp, generator)
            features = network.features(batch, table, instruction_index[index])
            loss = network.head.loss(features, chunks[index], generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 25 == 0 or step == hp.train_steps:
                report(step, running)
        network.eval()

    def _augment(self, batch, hp: TinyVLAHparams, generator) -> dict[str, torch.Tensor]:
        assert self.layout is not None
        if hp.observation_noise > 0:
            noisy = batch[C.OBS_STATE] + hp.observation_noise * torch.randn(
                batch[C.OBS_STATE].shape, generator=generator).to(self.device)
            batch = {**batch, C.OBS_STATE: noisy}
            if self.layout.mode == "state":
                mask = batch[OBJECT_MASK].repeat_interleave(SLOT_DIM, dim=1)
                batch[OBJECTS] = batch[OBJECTS] + mask * hp.observation_noise * torch.randn(
                    batch[OBJECTS].shape, generator=generator).to(self.device)
        if self.layout.mode == "image":
            for camera in self.layout.cameras:
                batch[camera] = random_shift(batch[camera], hp.random_shift, generator)
        return batch

    # --- acting ------------------------------------------------------------------------------
    def instruction_embeddings(self, instructions: Sequence[str]) -> np.ndarray:
        """(B, E): from the checkpoint's cache; unseen instructions are encoded (once)."""
        unseen = sorted({text for text in instructions if text not in self._embeddings})
        if unseen:
            self._embeddings.update(zip(unseen, encode_instructions(unseen)))
        return np.stack([self._embeddings[text] for text in instructions])

    def model_inputs(self, observations: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        """B env observations -> normalized network inputs (see :func:`stack_observations`)."""
        assert self.layout is not None
        stacked = stack_observations(self.layout, observations)
        inputs = {C.OBS_STATE: self.normalizers["state"].normalize(stacked[C.OBS_STATE])}
        if self.layout.mode == "state":
            inputs[OBJECTS] = self._normalize_objects(stacked[OBJECTS], stacked[OBJECT_MASK])
            inputs[OBJECT_MASK] = stacked[OBJECT_MASK]
        else:
            for camera in self.layout.cameras:
                inputs[camera] = resize_frames(stacked[camera], self.layout.image_size)
        return {key: torch.from_numpy(np.ascontiguousarray(value)).to(self.device)
                for key, value in inputs.items()}

    @torch.no_grad()
    def predict_batch(self, observations: Sequence[dict[str, np.ndarray]],
                      instructions: Sequence[str], *, seed: int | None = None) -> np.ndarray:
        if self.network is None:
            raise RuntimeError("tiny-vla is not trained: call fit() or load() first")
        if len(observations) != len(instructions):
            raise ValueError(f"{len(observations)} observations but {len(instructions)} "
                             "instructions")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return self._predict(observations, instructions, generator=generator)

    @torch.no_grad()
    def predict_rows(self, observations: Sequence[dict[str, np.ndarray]],
                     instructions: Sequence[str], seeds: Sequence[int]) -> np.ndarray:
        """One batch; row b's initial noise (Ta, Da) is drawn from a generator seeded with
        ``seeds[b]``, as :meth:`predict_batch` draws a one-row batch's."""
        if self.network is None:
            raise RuntimeError("tiny-vla is not trained: call fit() or load() first")
        if not len(observations) == len(instructions) == len(seeds):
            raise ValueError(f"{len(observations)} observations, {len(instructions)} "
                             f"instructions and {len(seeds)} seeds")
        head = self.network.head
        noise = None
        if head.stochastic:
            noise = torch.stack([
                torch.randn((1, head.horizon, head.action_dim),
                            generator=torch.Generator().manual_seed(int(seed)))[0]
                for seed in seeds])
        return self._predict(observations, instructions, noise=noise)

    def _predict(self, observations: Sequence[dict[str, np.ndarray]],
                 instructions: Sequence[str], *, generator: torch.Generator | None = None,
                 noise: torch.Tensor | None = None) -> np.ndarray:
        """(B, Ta, Da) in action units; the head's noise is ``noise`` (B, Ta, Da) or drawn
        with ``generator``."""
        assert self.network is not None
        distinct = sorted(set(instructions))
        table = torch.from_numpy(self.normalizers["language"].normalize(
            self.instruction_embeddings(distinct))).to(self.device)
        index = torch.tensor([distinct.index(text) for text in instructions],
                             device=self.device)
        with self._threads():
            features = self.network.features(self.model_inputs(observations), table, index)
            scaled = self.network.head.sample(features, generator, noise)
        return self.normalizers["action"].unnormalize(scaled.clamp(-1.0, 1.0).cpu().numpy())

    # --- checkpoint ------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        from safetensors.torch import save

        if self.network is None or self.layout is None:
            raise RuntimeError("tiny-vla is not trained: nothing to save")
        directory = Path(directory)
        tensors = {name: t.detach().cpu().contiguous().clone()
                   for name, t in self.network.state_dict().items()}
        tensors[EMBEDDINGS_TENSOR] = torch.from_numpy(
            np.stack([self._embeddings[text] for text in self.instructions]))
        bad, total = _non_finite(tensors)
        if bad:  # a diverged run: its predictions would be NaN, its evaluation meaningless
            raise UserError(f"training diverged: {bad:,} of {total:,} weights are NaN or inf "
                            f"(learning_rate {self.hparams.get('learning_rate')}; try a "
                            "smaller one); no checkpoint written")
        config = {
            **CONFIG_DOCUMENT.header(),
            "vla": self.name,
            "hparams": self.hparams,
            "layout": self.layout.to_json(),
            "action_dim": self.action_dim,
            "normalizers": {key: value.to_json() for key, value in self.normalizers.items()},
            "language_encoder": ENCODER_NAME,
            "instructions": self.instructions,
            "tensors": {name: list(t.shape) for name, t in tensors.items()},
        }
        (directory / WEIGHTS_FILE).write_bytes(save(tensors))
        (directory / CONFIG_FILE).write_text(
            dumps_json(config, where=f"tiny-vla config {directory}", indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, *, device: str = "cpu") -> TinyVLA:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        config = _read_config(directory)
        model = cls()
        try:
            model.hparams = resolve_hparams(config["hparams"])
            model.layout = ObservationLayout.from_json(config["layout"])
            model.action_dim = int(config["action_dim"])
            normalizers = config["normalizers"]
            model.normalizers = {
                "state": Standardizer.from_json(normalizers["state"]),
                "action": ActionScaler.from_json(normalizers["action"]),
                "language": EmbeddingNormalizer.from_json(normalizers["language"]),
            }
            if "objects" in normalizers:
                model.normalizers["objects"] = Standardizer.from_json(normalizers["objects"])
            model.instructions = [str(text) for text in config["instructions"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"corrupt checkpoint {directory / CONFIG_FILE}: bad or missing "
                            f"field ({type(exc).__name__}: {exc})") from None
        weights = directory / WEIGHTS_FILE
        if not weights.is_file():
            raise UserError(f"corrupt checkpoint {directory}: {WEIGHTS_FILE} is missing")
        try:
            tensors = load_file(str(weights))
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"corrupt checkpoint {weights}: unreadable ({exc})") from None
        bad, total = _non_finite(tensors)
        if bad:
            raise UserError(f"corrupt checkpoint {weights}: {bad:,} of {total:,} weights are "
                            "NaN or inf")
        expected = config.get("tensors") or {}
        actual = {name: list(t.shape) for name, t in tensors.items()}
        if actual != expected:
            raise UserError(f"corrupt checkpoint {weights}: its tensors do not match "
                            f"{CONFIG_FILE}")
        table = tensors.pop(EMBEDDINGS_TENSOR).numpy()
        if table.shape != (len(model.instructions), EMBEDDING_DIM):
            raise UserError(f"corrupt checkpoint {weights}: instruction embeddings do not "
                            "match the instruction list")
        model._embeddings = dict(zip(model.instructions, table))
        model.network = TinyVLANetwork(model._hp, model.layout, model.action_dim)
        try:
            model.network.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            detail = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise UserError(f"corrupt checkpoint {weights}: the weights do not fit the network "
                            f"its config describes ({detail[-1] if detail else exc})") from None
        model.device = torch.device(device)
        model.network.to(model.device).eval()
        return model


def _non_finite(tensors: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(non-finite elements, all elements) of the floating-point ``tensors``."""
    bad = total = 0
    for tensor in tensors.values():
        if tensor.is_floating_point():
            bad += int((~torch.isfinite(tensor)).sum())
            total += tensor.numel()
    return bad, total


def _read_config(directory: Path) -> dict[str, Any]:
    return read_versioned_json(directory / CONFIG_FILE, CONFIG_DOCUMENT, _CONFIG_MESSAGES)


def _choose_layout(datasets: Sequence[Dataset], hp: TinyVLAHparams) -> ObservationLayout:
    """Image mode when asked for (or, with "auto", when every dataset has both cameras)."""
    with_cameras = [all(c in d.cameras for c in C.CAMERA_KEYS) for d in datasets]
    mode = hp.observation
    if mode == "auto":
        if any(with_cameras) and not all(with_cameras):
            raise UserError(
                "some training datasets have camera images and some do not; set "
                '"observation": "state" in the hparams to train state-only on all of them'
            )
        mode = "image" if all(with_cameras) else "state"
    if mode == "image":
        lacking = [str(d.path) for d, ok in zip(datasets, with_cameras) if not ok]
        if lacking:
            raise UserError(f"image mode needs agent-view and wrist images; {lacking[0]} has "
                            "none (generate it with --images, or train state-only)")
        height = int((datasets[0].manifest.get("images") or {}).get("height") or hp.image_size)
        return ObservationLayout("image", hp.max_objects, C.CAMERA_KEYS, hp.image_size, height)
    return ObservationLayout("state", hp.max_objects)


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to 10% of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
